"""``kbundle target capture``: turn a live interpreter into a target.

The facts come from :mod:`bundler.target.probe`, run by the interpreter being
described (it may lack kbundle and its dependencies, hence a stdlib-only
script); this module maps them onto a :class:`~bundler.target.model.Target` with
the same tag logic presets use.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from importlib import resources
from typing import Any

from packaging.utils import canonicalize_name

from bundler.errors import InputError, KbundleError
from bundler.target.manifest import InstalledDist, Manifest
from bundler.target.model import Cuda, Target
from bundler.target.tags import interpreter_tags, linux_platforms, parse_libc_version

_PROBE_TIMEOUT = 120


def run_probe(python: str, *, full: bool = True) -> dict[str, Any]:
    """Run the probe with ``python`` and return its facts (``full=False``: a
    build host's interpreter facts only, without packages, libraries, CUDA)."""
    source = resources.files("bundler.target").joinpath("probe.py").read_text(encoding="utf-8")
    if os.sep in python:
        # The probe runs in a temporary folder: make a relative path absolute first,
        # without resolving symlinks (a venv's python is a symlink to its base).
        python = os.path.abspath(python)  # noqa: PTH100  (resolve() follows symlinks)
    with tempfile.TemporaryDirectory(prefix="kbundle-probe-") as cwd:
        # A neutral working directory: the folder a notebook runs in (which may
        # hold a half-built lib/) is not part of the image.
        try:
            proc = subprocess.run(
                [python, "-c", source, *([] if full else ["--host"])],
                cwd=cwd,
                capture_output=True,
                timeout=_PROBE_TIMEOUT,
                check=False,
            )
        except FileNotFoundError as exc:
            raise InputError(
                f"no Python interpreter at {python}",
                source="--python",
                hint="Give the path of the image's python executable.",
            ) from exc
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise KbundleError(f"could not run {python}: {exc}") from exc
    if proc.returncode != 0:
        tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-3:]
        raise KbundleError(
            f"the probe failed in {python} (exit {proc.returncode}): " + " | ".join(tail),
            hint="kbundle needs CPython 3.8 or newer on the target.",
        )
    try:
        facts: dict[str, Any] = json.loads(proc.stdout)
    except json.JSONDecodeError as exc:
        raise KbundleError(f"the probe in {python} printed something that is not JSON") from exc
    return facts


def target_from_facts(
    facts: Mapping[str, Any], *, name: str, preloaded: Iterable[str] = ()
) -> Target:
    """Build a target from probe facts (pure: no I/O)."""
    if facts.get("implementation") != "cpython":
        raise KbundleError(
            f"{facts.get('executable')} is {facts.get('implementation')}; kbundle targets CPython"
        )
    platform_name = str(facts["sysconfig_platform"])
    if not platform_name.startswith("linux-"):
        raise KbundleError(
            f"{facts.get('executable')} runs on {platform_name}; kbundle targets Linux"
        )
    arch = platform_name.split("-", 1)[1].replace("-", "_").replace(".", "_")
    if facts.get("is_32bit"):
        # A 32-bit interpreter on a 64-bit kernel (same rule as packaging.tags).
        arch = {"x86_64": "i686", "aarch64": "armv8l"}.get(arch, arch)
    libc, version_text = ("glibc", facts.get("glibc"))
    if version_text is None and facts.get("musl"):
        libc, version_text = "musl", facts["musl"]
    libc_version = parse_libc_version(version_text) if version_text else None
    python_version = (int(facts["version_info"][0]), int(facts["version_info"][1]))
    tags = interpreter_tags(
        python_version, list(facts["abis"]), linux_platforms(arch, libc, libc_version)
    )
    installed: Manifest = {
        str(canonicalize_name(d["name"])): InstalledDist(
            name=str(canonicalize_name(d["name"])),
            version=d.get("version"),
            requires=tuple(d.get("requires") or ()),
        )
        for d in facts.get("installed", [])
    }
    cuda_facts = facts.get("cuda") or {}
    cuda = None
    if cuda_facts.get("driver_max") or cuda_facts.get("runtime") or cuda_facts.get("archs"):
        cuda = Cuda(
            runtime=cuda_facts.get("runtime"),
            driver_max=cuda_facts.get("driver_max"),
            archs=tuple(cuda_facts.get("archs") or ()),
        )
    return Target(
        name=name,
        description=f"captured from {facts.get('executable')}",
        sources=(f"kbundle target capture --python {facts.get('executable')}",),
        implementation="cp",
        python_full_version=str(facts["python_full_version"]),
        abi=str(facts["abis"][0]),
        os="linux",
        arch=arch,
        libc=libc,
        glibc=version_text if libc == "glibc" else None,
        tags=tuple(tags),
        markers=dict(facts["markers"]),
        cuda=cuda,
        installed=dict(sorted(installed.items())),
        provided_libraries=tuple(facts.get("shared_libraries") or ()),
        preloaded=tuple(sorted({str(canonicalize_name(n)) for n in preloaded})),
    )
