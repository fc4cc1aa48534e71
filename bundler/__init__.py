"""kbundle: lock, vendor and check Python dependencies for a fixed offline image.

The command line (``kbundle``) is a thin layer over this library API, and
both build a lock request the same way (options over requirement files over
``[tool.kbundle]`` over pip's configuration)::

    from pathlib import Path
    from bundler import LockOptions, find_pyproject, gather_request, load_config, run_lock

    config = load_config(find_pyproject(Path.cwd()))  # [tool.kbundle], if there is one
    request = gather_request(LockOptions(target="kaggle-t4"), config, requirements=["rich"])
    outcome = run_lock(request)  # outcome.lock; nothing is written

``run_vendor``, ``run_checks`` and ``load_target`` are the other stages.

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
    "LockOptions": "bundler.request.model",
    "LockRequest": "bundler.request.model",
    "find_pyproject": "bundler.request.config",
    "load_config": "bundler.request.config",
    "gather_request": "bundler.request.assemble",
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
