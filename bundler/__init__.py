"""kbundle: lock, vendor and check Python dependencies for a fixed offline image.

The command line (``kbundle``) is a thin layer over this library API::

    from bundler import load_target, LockRequest, run_lock, run_vendor, run_checks

Names are imported on first use, so ``import bundler`` stays cheap.
"""

from __future__ import annotations

from importlib import import_module

# Not typing.TYPE_CHECKING: importing typing would cost `kbundle --version` more
# than everything else it does (type checkers know this name).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__version__ = "0.1.0"

_API = {
    "Target": "bundler.target.model",
    "load_target": "bundler.target.presets",
    "LockRequest": "bundler.lock.run",
    "run_lock": "bundler.lock.run",
    "VendorRequest": "bundler.vendor.request",
    "run_vendor": "bundler.vendor.run",
    "CheckInputs": "bundler.check",
    "run_checks": "bundler.check",
    "KbundleError": "bundler.errors",
}
__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(import_module(_API[name]), name)
    raise AttributeError(f"module 'bundler' has no attribute {name!r}")
