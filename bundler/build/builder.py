"""Build a wheel from an sdist: isolated, cached, logged.

The build runs pypa/build's frontend (``python -m build --wheel``) in an
isolated environment, under the build host's interpreter, with the recipe's
environment (:mod:`bundler.build.recipes`). Its output goes to ``build.log`` in the
cache entry; the wheel is moved into the entry only once it is complete and
its tags fit the target, so an entry holding a wheel is a finished build and
a second vendor reuses it without building.

Cache layout under :func:`bundler.cache.cache_dir`::

    builds/<key>/<wheel>.whl, build.log, .lock
    build-envs/<interpreter key>/      a venv with pypa/build for --build-python
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING

from packaging.utils import InvalidWheelFilename, parse_wheel_filename

from bundler.cache import atomic_write, cache_dir
from bundler.errors import KbundleError

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping, Sequence

    from bundler.build.recipes import Host, Recipe
    from bundler.target.model import Target

log = logging.getLogger(__name__)

#: What a ``--build-python`` environment installs to run the frontend.
BUILD_FRONTEND = "build>=1.2"
_TAIL_LINES = 20


class _StepFailed(Exception):
    """A step failed; :func:`_build` raises :class:`BuildError` once the log is in place."""


class BuildError(KbundleError):
    """A build step failed; ``log`` holds its whole output, ``tail`` the last lines."""

    def __init__(self, package: str, what: str, log_path: Path) -> None:
        self.package = package
        self.log = log_path
        self.tail = _tail(log_path)
        super().__init__(
            f"{what}; the full log is {log_path}. Fix the cause, or find a wheel of "
            f"{package} for the target. The log ends with:\n{self.tail}"
        )


def build_wheel(
    sdist: Path,
    recipe: Recipe,
    target: Target,
    host: Host,
    *,
    sdist_sha256: str,
    jobs: int | None = None,
) -> Path:
    """Build ``sdist`` with ``recipe`` for ``target`` on ``host``; return the cached wheel.

    A previous build of the same (sdist, recipe, target) is returned without
    building; concurrent callers of one key wait for each other and build
    once. ``jobs`` caps the compiler processes (default: the CPU count).
    Raises :class:`BuildError` when a step fails and :class:`KbundleError`
    when the wheel does not fit the target.
    """
    entry = build_entry(sdist_sha256, recipe, target)
    entry.mkdir(parents=True, exist_ok=True)
    with _exclusive(entry / ".lock", f"a build of {recipe.name}"):
        cached = cached_wheel(entry)
        if cached is not None:
            log.info("reusing %s built earlier (%s)", cached.name, entry)
            return cached
        return _build(sdist, recipe, target, host, entry, jobs or os.cpu_count() or 1)


def build_entry(sdist_sha256: str, recipe: Recipe, target: Target) -> Path:
    """The cache folder of the build of that sdist with that recipe for that target.

    It holds the wheel once a build has finished (see :func:`cached_wheel`).
    """
    return cache_dir() / "builds" / _entry_key(sdist_sha256, recipe, target)


def cached_wheel(entry: Path) -> Path | None:
    """The wheel a finished build left in ``entry``, None if none finished there."""
    return next(iter(sorted(entry.glob("*.whl"))), None)


def _entry_key(sdist_sha256: str, recipe: Recipe, target: Target) -> str:
    # The target's build fingerprint is part of the key because the same sdist
    # and recipe build different wheels for different targets (Python ABI,
    # CUDA, glibc, tags). The image's package list is not: a new manifest
    # must not cost a 7-minute llama.cpp rebuild. The recipe's env is in the
    # key too, so changing a recipe's flags in a new kbundle forces a rebuild.
    parts = [sdist_sha256, recipe.key, sorted(recipe.env.items()), target.build_fingerprint]
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:32]


def _build(sdist: Path, recipe: Recipe, target: Target, host: Host, entry: Path, jobs: int) -> Path:
    """Build in a temporary folder inside ``entry``, then move the results in."""
    # Work folders of a build that was killed (a CUDA build's can be gigabytes);
    # no one else uses them while this process holds the entry's lock.
    for stale in entry.glob(".tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)
    log_path = entry / "build.log"
    log.info("building %s from %s (%s); log: %s", recipe.name, sdist.name, recipe.key, log_path)
    with tempfile.TemporaryDirectory(dir=entry, prefix=".tmp-") as tmp:
        work = Path(tmp)
        try:
            with _log_file(work / "build.log", log_path) as log_file:
                wheel = _run_frontend(sdist, recipe, host, work, log_file, jobs)
        except _StepFailed as exc:
            raise BuildError(recipe.name, str(exc), log_path) from None
        _check_tags(wheel, sdist, target)
        final = entry / wheel.name
        wheel.replace(final)
    return final


@contextlib.contextmanager
def _log_file(path: Path, final: Path) -> Iterator[IO[str]]:
    """Write a log at ``path``; move it to ``final`` afterwards, success or not.

    The log moves into place whole (the cache's rule: a file there is
    complete) and before any error names its path. Append mode: the build
    subprocesses write to the same file, and every write must land at its end.
    """
    try:
        with path.open("a", encoding="utf-8") as handle:
            yield handle
    finally:
        path.replace(final)


def _run_frontend(
    sdist: Path, recipe: Recipe, host: Host, work: Path, log_file: IO[str], jobs: int
) -> Path:
    """Run ``python -m build --wheel`` on the unpacked sdist; the wheel it wrote."""
    log_file.write(
        f"# kbundle: {sdist.name} with recipe {recipe.key} ({host.python}, {jobs} jobs)\n"
        f"# recipe environment: {json.dumps(dict(recipe.env))}\n"
    )
    source = _extract(sdist, work / "src")
    frontend = _frontend_python(host, log_file)
    outdir = work / "out"
    command = [frontend, "-m", "build", "--wheel", "--outdir", str(outdir), str(source)]
    if _run(command, log_file, _build_environ(recipe.env, jobs), cwd=work) != 0:
        raise _StepFailed(f"building {recipe.name} from {sdist.name} failed")
    wheels = sorted(outdir.glob("*.whl"))
    if len(wheels) != 1:
        raise _StepFailed(f"building {sdist.name} wrote {len(wheels)} wheels, not one")
    return wheels[0]


def _build_environ(recipe_env: Mapping[str, str], jobs: int) -> dict[str, str]:
    environ = dict(os.environ)
    # CMake-based backends (scikit-build-core, llama.cpp) and make read these.
    environ.update({"CMAKE_BUILD_PARALLEL_LEVEL": str(jobs), "MAKEFLAGS": f"-j{jobs}"})
    # The recipe overrides the user's own variables (an exported CMAKE_ARGS, say):
    # its values are in the cache key, so the build must use exactly them.
    environ.update(recipe_env)
    return environ


def _frontend_python(host: Host, log_file: IO[str]) -> str:
    """An interpreter that is ``host.python`` (or a venv of it) with pypa/build importable."""
    if host.python == sys.executable:
        return sys.executable  # pypa/build is a dependency of kbundle itself
    # One venv per interpreter, keyed by its path and X.Y: a --build-python
    # rarely has pypa/build, and installing it into the user's Python is rude.
    key = hashlib.sha256(f"{host.python}|{host.python_version}".encode()).hexdigest()[:16]
    root = cache_dir() / "build-envs"
    env_dir = root / key
    root.mkdir(parents=True, exist_ok=True)
    with _exclusive(root / f"{key}.lock", f"a build environment for {host.python}"):
        if not env_dir.exists():
            _create_frontend_env(host, env_dir, log_file)
    return str(env_dir / "bin" / "python")


def _create_frontend_env(host: Host, env_dir: Path, log_file: IO[str]) -> None:
    """Create the venv beside ``env_dir`` and rename it there: it exists only when complete."""
    with tempfile.TemporaryDirectory(dir=env_dir.parent, prefix=".tmp-") as tmp:
        staging = Path(tmp) / "env"
        steps = (
            [host.python, "-m", "venv", str(staging)],
            [str(staging / "bin" / "python"), "-m", "pip", "install", BUILD_FRONTEND],
        )
        for command in steps:
            if _run(command, log_file, dict(os.environ), cwd=Path(tmp)) != 0:
                raise _StepFailed(f"could not set up pypa/build for {host.python}")
        staging.replace(env_dir)


def _run(command: Sequence[str], log_file: IO[str], environ: dict[str, str], cwd: Path) -> int:
    """Run ``command`` with its output appended to ``log_file``; its exit code."""
    log_file.write("$ " + " ".join(command) + "\n")
    log_file.flush()
    log.debug("running %s", command)
    proc = subprocess.run(
        command,
        stdin=subprocess.DEVNULL,
        stdout=log_file,
        stderr=subprocess.STDOUT,
        env=environ,
        cwd=cwd,
        check=False,
    )
    log_file.write(f"# exit code {proc.returncode}\n")
    return proc.returncode


def _extract(sdist: Path, dest: Path) -> Path:
    """Unpack ``sdist`` into ``dest``; its single top-level directory."""
    try:
        if sdist.name.endswith(".zip"):
            # zipfile drops ".." and leading "/" from member names by itself.
            with zipfile.ZipFile(sdist) as archive:
                archive.extractall(dest)
        else:
            with tarfile.open(sdist, "r:*") as archive:
                _extract_tar(archive, dest)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as exc:
        raise KbundleError(f"{sdist.name} is not a readable sdist: {exc}") from exc
    tops = list(dest.iterdir())
    if len(tops) != 1 or not tops[0].is_dir():
        raise KbundleError(f"{sdist.name} is not an sdist: it must hold one top-level directory")
    return tops[0]


def _extract_tar(archive: tarfile.TarFile, dest: Path) -> None:
    """Extract without letting a member write outside ``dest`` (sdists are untrusted)."""
    if hasattr(tarfile, "data_filter"):
        archive.extractall(dest, filter="data")
        return
    # Pythons before 3.10.12 / 3.11.4 lack extraction filters: allow only
    # plain files and folders with relative paths that stay inside.
    for member in archive.getmembers():
        parts = PurePosixPath(member.name).parts
        if not (member.isfile() or member.isdir()) or member.name.startswith("/") or ".." in parts:
            raise KbundleError(f"refusing to extract {member.name!r}: not a plain relative file")
    archive.extractall(dest)


def _check_tags(wheel: Path, sdist: Path, target: Target) -> None:
    """Refuse a wheel the target cannot install (another Python ABI, say)."""
    try:
        _, _, _, tags = parse_wheel_filename(wheel.name)
    except InvalidWheelFilename as exc:
        raise KbundleError(f"the build of {sdist.name} wrote {wheel.name}: {exc}") from exc
    if not tags.isdisjoint(target.tags):
        return
    version = "{}.{}".format(*target.python_version)
    libc = f"{target.libc} {target.glibc}" if target.glibc else target.libc
    raise KbundleError(
        f"the build of {sdist.name} made {wheel.name}, which {target.name} cannot install: "
        f"its tags fit no tag of the target (CPython {version}, ABI {target.abi}, "
        f"{libc}, {target.arch})",
        hint=f"If it is the Python version, rerun with `--build-python PATH` pointing at "
        f"a Python {version}, or run this command in a notebook on the target image.",
    )


@contextlib.contextmanager
def _exclusive(lock_path: Path, what: str) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``lock_path``: one kbundle process at a time."""
    with lock_path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("waiting for another kbundle working on %s", what)
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _tail(log_path: Path) -> str:
    try:
        lines = log_path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return "(the log could not be read)"
    return "\n".join(lines[-_TAIL_LINES:])


def prepare_metadata(sdist: Path, sdist_sha256: str) -> bytes:
    """Core metadata of an sdist whose dependencies are dynamic, from its build backend.

    Runs the backend's ``prepare_metadata_for_build_wheel`` (or a wheel build,
    as PEP 517 allows) in an isolated environment with pypa/build. Only called
    for packages the user allowed to build: it runs the package's build code.
    Cached forever by the sdist's sha256, like index metadata.
    """
    from build import BuildBackendException, BuildException
    from build.util import project_wheel_metadata

    entry = cache_dir() / "metadata" / "prepared" / sdist_sha256
    if entry.is_file():
        return entry.read_bytes()
    with tempfile.TemporaryDirectory(prefix="kbundle-meta-") as tmp:
        source = _extract(sdist, Path(tmp))
        try:
            message = project_wheel_metadata(source, isolated=True)
        except (BuildException, BuildBackendException, OSError, subprocess.SubprocessError) as exc:
            raise KbundleError(
                f"the build backend of {sdist.name} could not say what it depends on: {exc}",
                hint="Pin a version with a wheel or static metadata, or fix the sdist.",
            ) from exc
    data = str(message).encode()
    # A temporary name of its own: two processes preparing one sdist never share it.
    atomic_write(entry, data)
    return data
