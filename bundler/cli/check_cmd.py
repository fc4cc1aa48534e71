"""``kbundle check``: the CI gate for a lock and a lib against an image manifest."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from bundler.cache import use_cache
from bundler.check import CheckInputs, exit_code, run_checks
from bundler.check.native import cuda_libraries
from bundler.cli.options import preloaded_option
from bundler.cli.paths import FolderPath
from bundler.cli.report import Console, plural, report_console, show_path
from bundler.cli.settings import settings, verbosity_options
from bundler.errors import InputError
from bundler.lock.pylock_read import read_lock
from bundler.target.manifest import load_manifest_from
from bundler.target.model import Target
from bundler.target.presets import DEFAULT_TARGET, load_target
from bundler.vendor.libdest import MARKER


def _print_cuda_libraries(console: Console, lib: Path, target: Target) -> None:
    """``-v``: each CUDA library the lib ships or needs, and where the target has it."""
    found = cuda_libraries(lib, target)
    if not found:
        console.print(f"cuda: no CUDA library in or needed by {show_path(lib)}", highlight=False)
    places = {"lib": "in the lib", "image": "from the image", "driver": "from the GPU driver"}
    for item in found:
        where = places.get(item.where, "MISSING")
        if item.path is not None:
            where += f" at {item.path}"
        users = ""
        if item.needed_by:
            shown = ", ".join(item.needed_by[:3])
            more = len(item.needed_by) - 3
            users = f"; needed by {shown}" + (f" and {more} more" if more > 0 else "")
        console.print(f"cuda: {item.soname}: {where}{users}", highlight=False, markup=False)


def _check_is_lib(lib: Path) -> None:
    """A folder with nothing installed is not a lib: "check ok" on it would mislead.

    A lib kbundle vendored has ``kbundle.json``; one ``pip install -t`` filled
    has ``*.dist-info`` folders and is checked too (without the record).
    """
    if not lib.is_dir():
        raise InputError("no such folder", source=str(lib), hint="Give --lib the folder vendored.")
    if (lib / MARKER).is_file() or any(lib.glob("*.dist-info")):
        return
    raise InputError(
        f"is not a lib: it has no {MARKER} and no installed distributions (*.dist-info), "
        "so there is nothing to check",
        source=str(lib),
        hint=f"Vendor into it with `kbundle vendor -t {lib}`, or give --lib the folder "
        "kbundle vendored.",
    )


@click.command("check")
@verbosity_options
@click.option(
    "--lock",
    "lock_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="The lock to check (default: [tool.kbundle] lock when it exists).",
)
@click.option(
    "--lib",
    "lib",
    type=FolderPath(),
    help="The vendored lib folder to check (default: [tool.kbundle] lib when it exists); "
    "given alone, it is compared with the project's lock when there is one.",
)
@click.option(
    "--target",
    "target",
    metavar="NAME|FILE",
    help=f"The target (default: [tool.kbundle] target, else {DEFAULT_TARGET}).",
)
@click.option(
    "--manifest",
    metavar="FILE|URL",
    help="The image's package list now (pip freeze / pip list JSON / capture), a "
    "file or an http(s) URL: checks the lock for drift.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON on stdout.")
@click.option("--strict", is_flag=True, help="Fail on warnings too.")
@preloaded_option
def check(
    lock_path: Path | None,
    lib: Path | None,
    target: str | None,
    manifest: str | None,
    as_json: bool,
    strict: bool,
    preloaded: str | None,
) -> None:
    """Check a lock and a lib against the target image, from files alone (no GPU needed).

    \b
    - drift: image packages the lock relies on that changed in --manifest;
    - requirements of everything in lib + image, for the target's markers;
    - vendored copies of preloaded packages (never imported);
    - wheel tags the target cannot use;
    - native libraries: missing sonames, GLIBC/GLIBCXX symbol versions newer
      than the target's, CUDA majors its driver cannot run, GPU code for
      other architectures.

    Exit 0 when clean, 1 when an error (or, with --strict, a warning) was found,
    2 on bad input.
    """
    use_cache()  # a `kbundle cache clean` waits for this run, and it for a clean
    s = settings()
    config = s.config
    installed = load_manifest_from(manifest) if manifest else None
    t = load_target(target or config.target, preloaded=preloaded, installed=installed)
    # The target was loaded above; a --manifest changes its packages, not its name.
    default_lock = config.lock_path(t.name)
    if lock_path is None and lib is None:
        lock_path = default_lock if default_lock.is_file() else None
        project_lib = config.lib_path()
        lib = project_lib if project_lib.is_dir() else None
        if lock_path is None and lib is None:
            raise InputError(
                "nothing to check: give --lock FILE and/or --lib DIR",
                source="kbundle check",
            )
    elif lock_path is None and default_lock.is_file():
        # A lib alone would pass although the project's lock moved on (a new
        # `kbundle lock` since the last vendor): compare the two.
        lock_path = default_lock
    if lib is not None:
        _check_is_lib(lib)
    lock = read_lock(lock_path) if lock_path is not None else None
    findings = run_checks(
        CheckInputs(
            target=t,
            lock=lock,
            lock_file=str(lock_path) if lock_path else None,
            lib=lib,
            manifest=installed[0] if installed else None,
            manifest_source=installed[1] if installed else None,
        )
    )
    code = exit_code(findings, strict=strict)
    if as_json:
        click.echo(
            json.dumps({"ok": code == 0, "problems": [f.to_json() for f in findings]}, indent=2)
        )
    if not s.quiet or code:
        console = report_console()
        if s.verbose and lib is not None:
            _print_cuda_libraries(console, lib, t)
        for f in findings:
            where = " ".join(x for x in (f.package, f.file) if x)
            console.print(
                f"{f.severity}: [{f.kind}] {where}: {f.detail}. {f.remedy}",
                highlight=False,
                markup=False,
            )
        errors = sum(f.severity == "error" for f in findings)
        warnings = sum(f.severity == "warning" for f in findings)
        verdict = "FAILED" if code else "ok"
        checked = [f"target {t.name}"]
        checked += [f"lock {show_path(lock_path)}"] if lock_path is not None else []
        checked += [f"lib {show_path(lib)}"] if lib is not None else []
        console.print(
            f"check {verdict}: {plural(errors, 'error')}, {plural(warnings, 'warning')} "
            f"({', '.join(checked)})",
            highlight=False,
        )
    sys.exit(code)
