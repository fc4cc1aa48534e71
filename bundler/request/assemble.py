"""The precedence that merges everything the user says into one LockRequest.

A setting comes from the first of these that gives it:

1. the caller's :class:`~bundler.request.model.LockOptions` (the command line);
2. requirement files (``-r``, and ``[tool.kbundle] requirements-files``):
   their ``--index-url``, ``--extra-index-url``, ``--find-links``, ``--pre``;
3. ``[tool.kbundle]`` in ``pyproject.toml`` (:mod:`bundler.request.config`);
4. pip's configuration, for the primary index only
   (:func:`bundler.index.finder.default_index_url`), else PyPI.

Lists (extra indexes, find-links, ``--build``, ``--keep``, ``--cuda-index``)
are joined in that order rather than replaced. Requirements are the
arguments plus every requirements file; ``[tool.kbundle] requirements`` only
when neither gives any. Names and URLs that cannot work are refused here,
before any request is sent. This module reads the files the options name;
it does not resolve, and it does not write.
"""

from __future__ import annotations

from collections.abc import Sequence

from packaging.utils import NormalizedName, canonicalize_name

from bundler.errors import InputError
from bundler.inputs import check_project_name, check_url
from bundler.lock.model import Lock
from bundler.request.config import Config
from bundler.request.index_config import IndexConfig
from bundler.request.model import LockOptions, LockRequest
from bundler.request.pip_config import default_index_url
from bundler.request.requirements_file import (
    Req,
    RequirementsInput,
    parse_requirement_arg,
    parse_requirements_files,
)
from bundler.target.cuda import CUDA_INDEXES, index_tags
from bundler.target.model import Target
from bundler.target.presets import load_target


def request_target(options: LockOptions, config: Config | None = None) -> Target:
    """The target to lock for: ``options`` over ``[tool.kbundle]``, else the default preset."""
    config = config or Config()
    return load_target(
        options.target or config.target, options.manifest or config.manifest, options.preloaded
    )


def gather_request(
    options: LockOptions,
    config: Config | None = None,
    *,
    requirements: Sequence[str] = (),
    target: Target | None = None,
    previous: Lock | None = None,
    require_input: bool = True,
) -> LockRequest:
    """Merge ``options`` and ``requirements`` over ``config`` into a checked LockRequest.

    ``config`` is the project's ``[tool.kbundle]`` (None: none);
    ``requirements`` are typed requirement strings (the command line's
    arguments). ``target`` defaults to :func:`request_target`; ``previous``
    is a lock whose pins to keep. With ``require_input``, a request with no
    requirement at all is an :class:`~bundler.errors.InputError`.
    """
    config = config or Config()
    target = target or request_target(options, config)
    files_input = RequirementsInput()
    files = [*options.requirement_files, *config.requirements_files]
    if files or options.constraint_files:
        files_input = parse_requirements_files(files)
    reqs: list[Req] = [parse_requirement_arg(text, "command line") for text in requirements]
    if not reqs and not files:
        reqs = [parse_requirement_arg(t, f"{config.path}") for t in config.requirements]
    reqs.extend(files_input.requirements)
    constraints = list(files_input.constraints)
    if options.constraint_files:
        constraints.extend(
            parse_requirements_files(list(options.constraint_files), constraint=True).constraints
        )
    if not reqs and require_input:
        raise InputError(
            "nothing to lock: give requirements as arguments, with -r FILE, or as "
            "[tool.kbundle] requirements in pyproject.toml",
            source="kbundle lock",
        )
    cuda_pins = cuda_index_pins((*config.cuda_index, *options.cuda_indexes))
    _check_urls_and_names(options, files_input, config)
    primary = options.index_url or files_input.index_url or config.index_url or default_index_url()
    extras = (*options.extra_index_urls, *files_input.extra_index_urls, *config.extra_index_urls)
    index = IndexConfig(
        index_urls=tuple(dict.fromkeys((primary, *extras))),
        find_links=tuple(
            dict.fromkeys((*options.find_links, *files_input.find_links, *config.find_links))
        ),
        pins={**config.index_pins, **cuda_pins},
        cuda=index_tags(target.cuda),
        pin_fallback=frozenset(cuda_pins),
    )
    allowed = {b if b == ":all:" else str(canonicalize_name(b)) for b in options.build}
    allowed |= set(config.build)
    return LockRequest(
        target=target,
        requirements=reqs,
        constraints=constraints,
        index=index,
        build=frozenset(allowed),
        pre=options.pre or files_input.pre,
        offline=options.offline,
        refresh=options.refresh,
        previous=previous,
        upgrade=options.upgrade,
        upgrade_packages=frozenset(canonicalize_name(n) for n in options.upgrade_packages),
        keep=kept_names(target, (*config.keep, *options.keep)),
        strict_image=options.strict_image or config.strict_image,
        target_options=(
            *(("--target", options.target) if options.target else ()),
            *(("--manifest", str(options.manifest)) if options.manifest else ()),
        ),
    )


def _check_urls_and_names(
    options: LockOptions, files_input: RequirementsInput, config: Config
) -> None:
    """Index URLs and package names that cannot work fail here, before any request."""
    where = str(config.path)
    urls = [(u, "-i/--index-url") for u in (options.index_url,) if u]
    urls += [(u, "--extra-index-url") for u in options.extra_index_urls]
    urls += [(u, "requirements file") for u in (files_input.index_url,) if u]
    urls += [(u, "requirements file") for u in files_input.extra_index_urls]
    urls += [(u, where) for u in (config.index_url, *config.extra_index_urls) if u]
    urls += [(u, f"{where}: index-pins") for u in config.index_pins.values()]
    links = (*options.find_links, *files_input.find_links, *config.find_links)
    urls += [(u, "-f/--find-links") for u in links if "://" in u]
    for url, source in urls:
        check_url(url, source)
    for name in options.build:
        if name != ":all:":
            check_project_name(name, "--build")
    for name in options.upgrade_packages:
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
