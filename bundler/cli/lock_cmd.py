"""``kbundle lock``: resolve for a target and write a PEP 751 lock."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import click
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import NormalizedName, canonicalize_name

from bundler.cli.options import LockInputs, lock_inputs, replace_option
from bundler.cli.output import plural, report_console, show_path
from bundler.cli.output_file import write_output
from bundler.cli.settings import Settings, settings, verbosity_options
from bundler.errors import InputError
from bundler.index.finder import IndexConfig, default_index_url
from bundler.lock.model import Lock
from bundler.lock.pylock_read import read_lock
from bundler.lock.pylock_write import render_lock
from bundler.lock.requirements_txt import render_requirements_txt
from bundler.lock.run import LockOutcome, LockRequest, run_lock
from bundler.request.config import Config
from bundler.request.inputs import check_project_name, check_url
from bundler.request.requirements_file import (
    Req,
    RequirementsInput,
    parse_requirement_arg,
    parse_requirements_files,
)
from bundler.target.cuda import CUDA_INDEXES, index_tags
from bundler.target.model import Target
from bundler.target.presets import load_target


def default_lock_path(config: Config, target: Target) -> Path:
    """``[tool.kbundle] lock``, else ``lockfiles/pylock.<target>.toml`` in the project."""
    if config.lock is not None:
        return config.lock
    root = config.path.parent if config.path is not None else Path.cwd()
    return root / "lockfiles" / f"pylock.{target.name}.toml"


def gather_request(
    s: Settings,
    *,
    target: Target,
    requirements: tuple[str, ...],
    inputs: LockInputs,
    previous: Lock | None,
    require_input: bool = True,
) -> LockRequest:
    """Merge command-line options over ``[tool.kbundle]`` into a LockRequest."""
    config = s.config
    files_input = RequirementsInput()
    files = [*inputs.requirement_files, *config.requirements_files]
    if files or inputs.constraint_files:
        files_input = parse_requirements_files(files)
    reqs: list[Req] = [parse_requirement_arg(text, "command line") for text in requirements]
    if not reqs and not files:
        reqs = [parse_requirement_arg(t, f"{config.path}") for t in config.requirements]
    reqs.extend(files_input.requirements)
    constraints = list(files_input.constraints)
    if inputs.constraint_files:
        constraints.extend(
            parse_requirements_files(list(inputs.constraint_files), constraint=True).constraints
        )
    if not reqs and require_input:
        raise InputError(
            "nothing to lock: give requirements as arguments, with -r FILE, or as "
            "[tool.kbundle] requirements in pyproject.toml",
            source="kbundle lock",
        )
    cuda_pins = cuda_index_pins((*config.cuda_index, *inputs.cuda_indexes))
    _check_urls_and_names(inputs, files_input, config)
    primary = inputs.index_url or files_input.index_url or config.index_url or default_index_url()
    extras = (*inputs.extra_index_urls, *files_input.extra_index_urls, *config.extra_index_urls)
    index = IndexConfig(
        index_urls=tuple(dict.fromkeys((primary, *extras))),
        find_links=tuple(
            dict.fromkeys((*inputs.find_links, *files_input.find_links, *config.find_links))
        ),
        pins={**config.index_pins, **cuda_pins},
        cuda=index_tags(target.cuda),
        pin_fallback=frozenset(cuda_pins),
    )
    allowed = {b if b == ":all:" else str(canonicalize_name(b)) for b in inputs.build}
    allowed |= set(config.build)
    return LockRequest(
        target=target,
        requirements=reqs,
        constraints=constraints,
        index=index,
        build=frozenset(allowed),
        pre=inputs.pre or files_input.pre,
        offline=inputs.offline,
        refresh=inputs.refresh,
        previous=previous,
        upgrade=inputs.upgrade,
        upgrade_packages=frozenset(canonicalize_name(n) for n in inputs.upgrade_packages),
        keep=kept_names(target, (*config.keep, *inputs.keep)),
        strict_image=inputs.strict_image or config.strict_image,
        target_options=(
            *(("--target", inputs.target) if inputs.target else ()),
            *(("--manifest", str(inputs.manifest)) if inputs.manifest else ()),
        ),
    )


def _check_urls_and_names(
    inputs: LockInputs, files_input: RequirementsInput, config: Config
) -> None:
    """Index URLs and package names that cannot work fail here, before any request."""
    where = str(config.path)
    urls = [(u, "-i/--index-url") for u in (inputs.index_url,) if u]
    urls += [(u, "--extra-index-url") for u in inputs.extra_index_urls]
    urls += [(u, "requirements file") for u in (files_input.index_url,) if u]
    urls += [(u, "requirements file") for u in files_input.extra_index_urls]
    urls += [(u, where) for u in (config.index_url, *config.extra_index_urls) if u]
    urls += [(u, f"{where}: index-pins") for u in config.index_pins.values()]
    links = (*inputs.find_links, *files_input.find_links, *config.find_links)
    urls += [(u, "-f/--find-links") for u in links if "://" in u]
    for url, source in urls:
        check_url(url, source)
    for name in inputs.build:
        if name != ":all:":
            check_project_name(name, "--build")
    for name in inputs.upgrade_packages:
        check_project_name(name, "-P/--upgrade-package")


def kept_names(target: Target, names: Sequence[str]) -> frozenset[NormalizedName]:
    """``--keep`` / ``keep = [...]``: image packages fixed at the image's version."""
    kept = frozenset(canonicalize_name(n) for n in names)
    missing = sorted(n for n in kept if n not in target.installed)
    if missing:
        raise InputError(
            f"--keep {missing[0]}: the image of target {target.name} has no {missing[0]}",
            source="--keep",
            hint="Keep only packages the image has (`kbundle target show` lists them).",
        )
    return kept


def cuda_index_pins(names: Sequence[str]) -> dict[str, str]:
    """``--cuda-index NAME``: NAME pinned to its known CUDA-variant wheel index."""
    pins = {}
    for name in names:
        key = str(canonicalize_name(name))
        if key not in CUDA_INDEXES:
            raise InputError(
                f"no CUDA wheel index is known for {name}",
                source="--cuda-index",
                hint="Known: " + ", ".join(sorted(CUDA_INDEXES)) + ". For another project, "
                "pin it in [tool.kbundle.index-pins] to a URL with {cuda}.",
            )
        pins[key] = CUDA_INDEXES[key]
    return pins


def human_size(size: int | None) -> str:
    if size is None:
        return "?"
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{size} B"


def vendor_bytes(lock: Lock) -> int:
    """Bytes of the files the lock downloads (wheels, and sdists to build)."""
    return sum((artifact.size or 0) for p in lock.vendored if (artifact := p.wheel or p.sdist))


def report_table(outcome: LockOutcome, path: Path) -> None:
    """The human report, on stderr."""
    # rich is imported only to draw: --json and -q runs start faster.
    from rich.table import Table

    lock = outcome.lock
    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("package", "version", "source", "download"):
        table.add_column(column, justify="right" if column == "download" else "left")
    for p in lock.packages:
        artifact = p.wheel or p.sdist
        note = f" (shadows image {p.shadows})" if p.shadows else ""
        table.add_row(
            p.name, p.version, p.source + note, human_size(artifact.size) if artifact else "-"
        )
    console = report_console()
    console.print(table)
    for note in outcome.resolution.notes:
        console.print(f"note: {note}", highlight=False, markup=False)
    for warning in (*outcome.resolution.warnings, *outcome.warnings):
        # Unwrapped: the versions and commands in it stay copy-pasteable.
        console.print(
            f"warning: {warning}", style="yellow", highlight=False, markup=False, soft_wrap=True
        )
    for cost in outcome.shadow_costs:
        console.print(f"shadow: {cost.sentence()}", highlight=False, markup=False, soft_wrap=True)
    console.print(
        f"{plural(len(lock.packages), 'package')} for {lock.target_name}: "
        f"{len(lock.image)} from the image, {len(lock.vendored)} to vendor "
        f"({human_size(vendor_bytes(lock))} to download); "
        f"resolved in {outcome.seconds:.2f}s -> {show_path(path)}",
        highlight=False,
    )


def locked_for_other(existing: Lock, request: LockRequest) -> bool:
    """Was ``existing`` made for other requirements than ``request``'s?"""
    old = {_parsed(text) for text in existing.requirements}
    return old != {r.requirement for r in request.requirements}


def check_replacement(
    existing: Lock | None, request: LockRequest, path: Path, replace: bool
) -> str | None:
    """Refuse, or announce, replacing a lock that was made for other requirements.

    Requirements typed as arguments that differ from the existing lock's are
    refused unless ``replace``: that is how a quickstart's lock gets lost to
    an unrelated ``kbundle lock NAME``. Requirements read from files (``-r``,
    ``[tool.kbundle]``) are the record of what the user wants, so a change
    there replaces the lock with a warning (returned, for the caller to print).
    """
    if existing is None or not locked_for_other(existing, request):
        return None
    old = {_parsed(text) for text in existing.requirements}
    new = {r.requirement for r in request.requirements}
    added = sorted(str(r) for r in new - old)
    removed = sorted(str(r) for r in old - new)
    change = "; ".join(
        part
        for part in (
            "adds " + ", ".join(added) if added else "",
            "drops " + ", ".join(removed) if removed else "",
        )
        if part
    )
    shown = show_path(path)
    typed = any(r.source == "command line" for r in request.requirements)
    if typed and not replace:
        before = ", ".join(sorted(existing.requirements))
        other = show_path(path.with_name("pylock.other.toml"))
        raise InputError(
            f"{shown} was locked for other requirements ({before}); this lock {change}",
            source="kbundle lock",
            hint=f"Write it to another file with -o (e.g. -o {other}), give all the "
            "requirements, or pass --replace to overwrite the lock.",
        )
    return f"replacing {shown}, which was locked for other requirements: this lock {change}"


def _parsed(text: str) -> Requirement:
    try:
        return Requirement(text)
    except InvalidRequirement:  # parse_lock refuses these; compare as never equal
        return Requirement("invalid-requirement-in-lock")


def lock_json(outcome: LockOutcome, path: Path) -> dict[str, object]:
    lock = outcome.lock
    packages = []
    for p in lock.packages:
        artifact = p.wheel or p.sdist
        packages.append(
            {
                "name": p.name,
                "version": p.version,
                "source": p.source,
                "url": artifact.url if artifact else None,
                "sha256": artifact.sha256 if artifact else None,
                "size": artifact.size if artifact else None,
            }
        )
    return {
        "target": lock.target_name,
        "lock": str(path),
        "seconds": round(outcome.seconds, 3),
        "vendor_bytes": vendor_bytes(lock),
        "packages": packages,
        "notes": outcome.resolution.notes,
        "warnings": [*outcome.resolution.warnings, *outcome.warnings],
        "shadows": [c.to_json() for c in outcome.shadow_costs],
    }


@click.command("lock")
@verbosity_options
@click.argument("requirements", nargs=-1, metavar="[REQUIREMENT]...")
@lock_inputs
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Lock file to write (default: [tool.kbundle] lock, else lockfiles/pylock.<target>.toml).",
)
@click.option(
    "--export-requirements",
    type=click.Path(path_type=Path, dir_okay=False),
    metavar="FILE",
    help="Also write the vendored set as a pip-compile style requirements.txt with hashes.",
)
@replace_option
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")
def lock(
    requirements: tuple[str, ...],
    inputs: LockInputs,
    output: Path | None,
    export_requirements: Path | None,
    replace: bool,
    as_json: bool,
) -> None:
    """Resolve REQUIREMENTs for the target image and write a PEP 751 lock.

    The image's installed packages are candidates like any other: a version the
    image has is used whenever it satisfies every requirement, so only the rest
    is vendored. Markers, Requires-Python and wheel tags are evaluated for the
    target, never for this machine. An existing lock's pins are kept while
    they still fit (see --upgrade).
    """
    s = settings()
    config = s.config
    t = load_target(
        inputs.target or config.target, inputs.manifest or config.manifest, inputs.preloaded
    )
    path = output or default_lock_path(config, t)
    existing = read_lock(path) if path.is_file() else None
    request = gather_request(
        s,
        target=t,
        requirements=requirements,
        inputs=inputs,
        previous=None if inputs.upgrade else existing,
    )
    replacing = check_replacement(existing, request, path, replace)
    outcome = run_lock(request)
    write_output(path, render_lock(outcome.lock).encode(), what="the lock", option="-o/--output")
    if export_requirements is not None:
        sources: dict[str, list[str]] = {}
        for req in (*request.requirements, *request.constraints):
            sources.setdefault(req.name, []).append(req.via)
        text = render_requirements_txt(
            outcome.lock, command=f"kbundle lock -o {path}", sources=sources
        )
        write_output(
            export_requirements,
            text.encode(),
            what="the requirements",
            option="--export-requirements",
        )
    if as_json:
        click.echo(json.dumps(lock_json(outcome, path), indent=2))
    if not s.quiet:
        if replacing:
            report_console().print(f"warning: {replacing}", style="yellow", highlight=False)
        report_table(outcome, path)
