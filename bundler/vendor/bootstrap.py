"""Render ``kbundle_boot.py``, the stdlib-only module that activates a vendored lib.

The module's code is the real, linted and type-checked file
``bundler/vendor/_boot_template.py``; rendering replaces its data block (between
the ``kbundle:data`` markers) with the bundle's facts as Python literals.
Rendering is pure and deterministic: the same :class:`BootInfo` always gives
the same bytes, and the caller writes them to ``lib/kbundle_boot.py``.

:data:`SNIPPET` is what users paste at the top of ``main.py``.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.resources import files
from typing import NamedTuple

from bundler import __version__
from bundler.errors import InputError

__all__ = ["SNIPPET", "BootInfo", "Shadowed", "render_bootstrap"]

_BEGIN = "# --- kbundle:data (render_bootstrap replaces this block) ---\n"
_END = "# --- end kbundle:data ---\n"

# Candidates, nearest first, first match wins: KBUNDLE_LIB (an explicit
# override, e.g. for a local harness that exec()s main.py from elsewhere), the
# lib/ beside main.py when __file__ is known, Kaggle's two unpack locations,
# ./lib, then a lib shipped as a dataset: <input>/<name>/lib, then
# <input>/<name>/<version>/lib, where <input> is KBUNDLE_INPUT, else
# /kaggle/input (where a notebook's datasets are mounted). The harness exec()s
# main.py, so __file__ may be missing or even be the harness's own: a
# candidate counts only if it holds kbundle_boot.py; when several distinct
# libs do, the one used is named on stderr. os.scandir and its d_type spare a
# stat per file of a big dataset, and nothing is imported (glob would cost
# ~10 ms of `re`). The snippet defines no function: Kaggle takes the LAST
# callable in main.py as the agent.
SNIPPET = """\
import os, sys  # noqa: E401  (kbundle: find lib/ and activate it; keep these lines first)
_kb = [os.environ.get("KBUNDLE_LIB", ""), "/kaggle_simulations/agent/lib",
       "/kaggle/working/submission/lib", os.path.abspath("lib")]
if "__file__" in globals():  # Kaggle's harness exec()s main.py: no __file__ there
    _kb.insert(1, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
_kb_in = os.environ.get("KBUNDLE_INPUT", "/kaggle/input")  # datasets: <name>/lib, <name>/*/lib
_kb_ds = sorted(e.path for e in os.scandir(_kb_in) if e.is_dir()) if os.path.isdir(_kb_in) else []
_kb_vs = sorted(e.path for d in _kb_ds for e in os.scandir(d) if e.is_dir())  # version folders
_kb += [os.path.join(d, "lib") for d in _kb_ds + _kb_vs]
_kb_lib = [p for p in _kb if p and os.path.isfile(os.path.join(p, "kbundle_boot.py"))]
if not _kb_lib:
    raise ImportError(f"kbundle: kbundle_boot.py is in none of {_kb}; set KBUNDLE_LIB")
_kb_also = set(map(os.path.realpath, _kb_lib)) - {os.path.realpath(_kb_lib[0])}
if _kb_also:  # several libs: say which one is used
    print(f"kbundle: using {_kb_lib[0]}; also found {', '.join(sorted(_kb_also))}", file=sys.stderr)
sys.path.insert(0, _kb_lib[0])
import kbundle_boot  # noqa: E402,F401
"""
"""Lines to paste at the top of ``main.py``: locate lib/, put it on sys.path, activate it."""


class Shadowed(NamedTuple):
    """A distribution the bundle vendors although the image has another version.

    ``modules`` are the import names it provides: top-level names, or dotted
    ones for a namespace package (``google.protobuf``). Names that are not
    dotted identifiers (``numpy.libs``-style folders are fine, ``foo-stubs``
    is not) cannot be imported and are left out of the guard. A plain
    ``(vendored_version, image_version, modules)`` tuple works as well.
    """

    vendored_version: str
    image_version: str
    modules: tuple[str, ...]


@dataclass(frozen=True)
class BootInfo:
    """Everything ``kbundle_boot.py`` needs to know about one vendored lib.

    ``shadowed`` maps distribution names to :class:`Shadowed` (or the same
    3-tuple);
    ``cuda_libraries`` are paths relative to lib (``/``-separated), in load
    order (dependencies first); ``env`` holds variables set at activation
    when not already set, where ``{lib}`` in a value becomes lib's absolute
    path at run time.
    """

    fingerprint: str
    kbundle_version: str = __version__
    shadowed: Mapping[str, tuple[str, str, tuple[str, ...]]] = field(default_factory=dict)
    cuda_libraries: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)


def render_bootstrap(info: BootInfo) -> bytes:
    """The source of ``kbundle_boot.py`` for ``info``, UTF-8 encoded.

    Raises :class:`~bundler.errors.InputError` for values that cannot be
    rendered safely: a CUDA path outside lib or an invalid environment
    variable name.
    """
    _validate(info)
    template = files("bundler.vendor").joinpath("_boot_template.py").read_text(encoding="utf-8")
    head, begin, rest = template.partition(_BEGIN)
    _old_data, end, tail = rest.partition(_END)
    if not begin or not end:
        raise AssertionError("bundler/vendor/_boot_template.py lost its kbundle:data markers")
    header = (
        f"# Generated by kbundle {info.kbundle_version} for bundle {info.fingerprint}.\n"
        "# Do not edit: `kbundle vendor` rewrites this file.\n"
    )
    return (header + head + _BEGIN + _data_block(info) + _END + tail).encode("utf-8")


def _data_block(info: BootInfo) -> str:
    lines = [
        f"FINGERPRINT = {info.fingerprint!r}",
        f"KBUNDLE_VERSION = {info.kbundle_version!r}",
        "# distribution -> (vendored version, image version, import names it provides)",
        "SHADOWED: dict[str, tuple[str, str, tuple[str, ...]]] = {",
    ]
    for name in sorted(info.shadowed):
        vendored, image, modules = info.shadowed[name]
        importable = tuple(sorted(m for m in modules if _is_module_name(m)))
        lines.append(f"    {name!r}: ({vendored!r}, {image!r}, {importable!r}),")
    lines += [
        "}",
        "# relative to this folder, in load order (dependencies first)",
        "CUDA_LIBRARIES: tuple[str, ...] = (",
        *(f"    {path!r}," for path in info.cuda_libraries),
        ")",
        '# set when not already set; "{lib}" becomes this folder\'s absolute path',
        "ENV: dict[str, str] = {",
        *(f"    {key!r}: {info.env[key]!r}," for key in sorted(info.env)),
        "}",
    ]
    return "\n".join(lines) + "\n"


def _is_module_name(name: str) -> bool:
    return all(part.isidentifier() for part in name.split("."))


def _validate(info: BootInfo) -> None:
    for path in info.cuda_libraries:
        # The path is joined to lib at run time: it must stay inside lib.
        normal = posixpath.normpath(path)
        if path.startswith("/") or normal == ".." or normal.startswith("../") or "\\" in path:
            raise InputError(f"CUDA library path {path!r} is not inside lib")
    for key in info.env:
        if not key or "=" in key or "\0" in key:
            raise InputError(f"{key!r} is not a valid environment variable name")
        if "\0" in info.env[key]:
            raise InputError(f"the value of {key} contains a NUL character")
