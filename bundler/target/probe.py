"""Describe the running interpreter as JSON on stdout. STANDARD LIBRARY ONLY.

kbundle runs this file's source with another interpreter (``kbundle target
capture --python PATH``), typically the image's own Python in a notebook, where
kbundle and its dependencies may not be installed. It must therefore import
nothing outside the standard library and run on CPython >= 3.8: no ``X | Y``
annotations, no ``match``, no ``tomllib``. It only gathers raw facts; turning
them into tags and a target is kbundle's job (bundler.target.capture).
"""

from __future__ import annotations  # annotations stay strings: dict[...] on 3.8

import ctypes
import json
import os
import platform
import re
import subprocess
import sys
import sysconfig
from importlib import metadata as importlib_metadata
from typing import Any


def _full_version(info: Any) -> str:
    # Same spelling as PEP 508's implementation_version: 3.12.1, 3.13.0rc1.
    version = f"{info.major}.{info.minor}.{info.micro}"
    if info.releaselevel != "final":
        version += info.releaselevel[0] + str(info.serial)
    return version


def markers() -> dict[str, str]:
    """The PEP 508 marker environment, computed as packaging does."""
    return {
        "implementation_name": sys.implementation.name,
        "implementation_version": _full_version(sys.implementation.version),
        "os_name": os.name,
        "platform_machine": platform.machine(),
        "platform_release": platform.release(),
        "platform_system": platform.system(),
        "platform_version": platform.version(),
        "python_full_version": platform.python_version(),
        "platform_python_implementation": platform.python_implementation(),
        "python_version": ".".join(platform.python_version_tuple()[:2]),
        "sys_platform": sys.platform,
    }


def abis() -> list[str]:
    """CPython ABI tags, best first (debug and free-threaded builds included)."""
    nodot = "{}{}".format(*sys.version_info[:2])
    debug = sysconfig.get_config_var("Py_DEBUG")
    if debug is None:
        debug = hasattr(sys, "gettotalrefcount")
    threading = (
        "t" if sys.version_info >= (3, 13) and sysconfig.get_config_var("Py_GIL_DISABLED") else ""
    )
    result = ["cp" + nodot + threading + ("d" if debug else "")]
    if debug:
        # A debug build also loads ordinary extension modules.
        result.append("cp" + nodot + threading)
    return result


def glibc_version() -> str | None:
    try:
        text = os.confstr("CS_GNU_LIBC_VERSION")  # "glibc 2.35"
    except (AttributeError, OSError, ValueError):
        return None
    if not text or not text.startswith("glibc "):
        return None
    match = re.match(r"(\d+)\.(\d+)", text.split()[1])
    return "{}.{}".format(*match.groups()) if match else None


def musl_version() -> str | None:
    # The musl loader prints "Version 1.2.4" when run with no arguments.
    names = sorted(os.listdir("/lib")) if os.path.isdir("/lib") else []
    for name in names:
        if name.startswith("ld-musl-"):
            try:
                out = subprocess.run(["/lib/" + name], capture_output=True, timeout=10, check=False)
            except (OSError, subprocess.SubprocessError):
                return None
            match = re.search(rb"Version (\d+)\.(\d+)", out.stderr)
            return "{}.{}".format(*(g.decode() for g in match.groups())) if match else None
    return None


def installed() -> list[dict[str, Any]]:
    """Distributions importable from sys.path; the first one on the path wins."""
    seen: dict[str, dict[str, Any]] = {}
    for dist in importlib_metadata.distributions():
        try:
            name = dist.metadata["Name"]
        except KeyError:  # newer Pythons raise for a missing field
            continue
        if not name:
            continue
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in seen:
            continue
        seen[key] = {"name": key, "version": dist.version, "requires": list(dist.requires or [])}
    return [seen[k] for k in sorted(seen)]


def shared_libraries() -> list[str]:
    """Sonames in the dynamic loader's cache and the CUDA toolkit folder."""
    names = set()
    try:
        out = subprocess.run(
            ["ldconfig", "-p"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=20
        ).stdout.decode("utf-8", "replace")
        for line in out.splitlines()[1:]:
            name = line.strip().split(" ", 1)[0]
            if ".so" in name:
                names.add(name)
    except (OSError, subprocess.SubprocessError):
        pass
    for folder in ("/usr/local/cuda/lib64", "/usr/local/nvidia/lib64"):
        if os.path.isdir(folder):
            names.update(n for n in os.listdir(folder) if re.search(r"\.so\.\d+$", n))
    return sorted(names)


def _cuda_int_version(value: int) -> str:
    # The CUDA API encodes 12.8 as 12080.
    return f"{value // 1000}.{(value % 1000) // 10}"


def cuda() -> dict[str, Any]:
    """Driver CUDA version, runtime version and compute capabilities, if any GPU."""
    info: dict[str, Any] = {"driver_max": None, "runtime": None, "archs": []}
    try:
        libcuda = ctypes.CDLL("libcuda.so.1")
    except OSError:
        libcuda = None
    if libcuda is not None:
        version = ctypes.c_int()
        if libcuda.cuDriverGetVersion(ctypes.byref(version)) == 0:
            info["driver_max"] = _cuda_int_version(version.value)
        if libcuda.cuInit(0) == 0:
            count = ctypes.c_int()
            libcuda.cuDeviceGetCount(ctypes.byref(count))
            archs = set()
            for index in range(count.value):
                device, major, minor = ctypes.c_int(), ctypes.c_int(), ctypes.c_int()
                if libcuda.cuDeviceGet(ctypes.byref(device), index) != 0:
                    continue
                # 75/76: CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR/MINOR.
                libcuda.cuDeviceGetAttribute(ctypes.byref(major), 75, device)
                libcuda.cuDeviceGetAttribute(ctypes.byref(minor), 76, device)
                archs.add(f"{major.value}.{minor.value}")
            info["archs"] = sorted(archs)
    for soname in ("libcudart.so", "libcudart.so.13", "libcudart.so.12", "libcudart.so.11.0"):
        try:
            libcudart = ctypes.CDLL(soname)
        except OSError:
            continue
        version = ctypes.c_int()
        if libcudart.cudaRuntimeGetVersion(ctypes.byref(version)) == 0:
            info["runtime"] = _cuda_int_version(version.value)
            break
    if info["runtime"] is None and os.path.isfile("/usr/local/cuda/version.json"):
        try:
            with open("/usr/local/cuda/version.json") as handle:
                text = json.load(handle)["cuda_cudart"]["version"]
            info["runtime"] = ".".join(text.split(".")[:2])
        except (OSError, KeyError, ValueError, TypeError):
            pass
    return info


def describe(full: bool = True) -> dict[str, Any]:
    """Every fact kbundle needs about this interpreter and its machine.

    ``full=False`` leaves out the slow parts (installed distributions, the
    loader cache, CUDA): enough to describe a build host.
    """
    facts: dict[str, Any] = {
        "probe": 1,
        "implementation": sys.implementation.name,
        "python_full_version": platform.python_version(),
        "version_info": list(sys.version_info[:2]),
        "executable": sys.executable,
        "abis": abis(),
        "sysconfig_platform": sysconfig.get_platform(),
        "is_32bit": sys.maxsize <= 2**32,
        "glibc": glibc_version(),
        "musl": musl_version() if glibc_version() is None else None,
        "markers": markers(),
    }
    if full:
        facts.update(installed=installed(), shared_libraries=shared_libraries(), cuda=cuda())
    return facts


if __name__ == "__main__":
    # The script's own folder must not count as part of the image.
    sys.path[:] = [p for p in sys.path if p not in ("", os.getcwd())]
    json.dump(describe(full=sys.argv[1:] != ["--host"]), sys.stdout, sort_keys=True)
