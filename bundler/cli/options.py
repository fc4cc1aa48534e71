"""Options shared by the commands that take a target, indexes and requirements."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from bundler.request.model import LockOptions
from bundler.target.presets import DEFAULT_TARGET

F = TypeVar("F", bound=Callable[..., Any])


def _compose(*decorators: Callable[[F], F]) -> Callable[[F], F]:
    def apply(func: F) -> F:
        for decorator in reversed(decorators):
            func = decorator(func)
        return func

    return apply


target_options = _compose(
    click.option(
        "--target",
        "target",
        metavar="NAME|FILE",
        help="Target preset, alias or file "
        f"(default: [tool.kbundle] target, else {DEFAULT_TARGET}).",
    ),
    click.option(
        "--manifest",
        type=click.Path(path_type=Path, dir_okay=False),
        help="The image's installed packages (pip freeze / pip list JSON / capture); "
        "replaces the target's list.",
    ),
)

index_options = _compose(
    click.option(
        "-i",
        "--index-url",
        metavar="URL",
        help="Primary index (default: pip's configured index, else PyPI). '{cuda}' is "
        "replaced by the target's CUDA tag, e.g. cu121.",
    ),
    click.option(
        "--extra-index-url",
        "extra_index_urls",
        multiple=True,
        metavar="URL",
        help="More indexes, asked after the primary one; the first index that knows a "
        "name supplies all of its files.",
    ),
    click.option(
        "-f",
        "--find-links",
        "find_links",
        multiple=True,
        metavar="PATH|URL",
        help="A folder or HTML page of distribution files to consider too.",
    ),
    click.option(
        "--cuda-index",
        "cuda_indexes",
        multiple=True,
        metavar="NAME",
        help="Take NAME only from its CUDA-variant wheel index (llama-cpp-python, torch, "
        "torchvision, torchaudio), the variant chosen for the target's CUDA.",
    ),
    click.option("--offline", is_flag=True, help="Use only the cache; fail on a miss."),
    click.option("--refresh", is_flag=True, help="Revalidate every cached index page."),
)


def _pip_files_option(short: str, long: str, name: str, help: str) -> Callable[[F], F]:
    """A repeatable option naming pip-format files (``-r``, ``-c``)."""
    return click.option(
        short,
        long,
        name,
        multiple=True,
        type=click.Path(path_type=Path, dir_okay=False),
        metavar="FILE",
        help=help,
    )


resolve_options = _compose(
    _pip_files_option(
        "-r",
        "--requirement",
        "requirement_files",
        "Read requirements from a pip requirements file (repeatable).",
    ),
    _pip_files_option(
        "-c",
        "--constraint",
        "constraint_files",
        "Constrain versions with a pip constraints file (repeatable).",
    ),
    click.option(
        "--build",
        "build",
        multiple=True,
        metavar="NAME",
        help="Allow building NAME from its sdist (':all:' for every package).",
    ),
    click.option("--pre", is_flag=True, help="Allow pre-releases."),
    click.option("-U", "--upgrade", is_flag=True, help="Ignore the pins of an existing lock."),
    click.option(
        "-P",
        "--upgrade-package",
        "upgrade_packages",
        multiple=True,
        metavar="NAME",
        help="Let NAME move off its pin in the existing lock (repeatable).",
    ),
)

# -- which image packages the bundle keeps consistent (issue 9) ---------------------------
image_scope_options = _compose(
    click.option(
        "--keep",
        "keep",
        multiple=True,
        metavar="NAME",
        help="Keep the image's NAME at the image's version, like a preloaded package "
        "(repeatable): the resolver finds versions that work with it.",
    ),
    click.option(
        "--strict-image",
        "strict_image",
        is_flag=True,
        help="Keep every image package consistent with what the bundle ships (vendor the "
        "ones it breaks), not only those the bundle can load.",
    ),
)


preloaded_option = click.option(
    "--preloaded",
    metavar="NAMES",
    help="Set the target's preloaded packages (imported by the host before your code): "
    "comma-separated names, '' for none. They must be in the image's package list.",
)


def lock_inputs(func: F) -> F:
    """Add the target, index and resolve options, handed over as one ``inputs``."""
    names = [f.name for f in dataclasses.fields(LockOptions)]

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        inputs = LockOptions(**{name: kwargs.pop(name) for name in names})
        return func(*args, inputs=inputs, **kwargs)

    return target_options(
        preloaded_option(index_options(resolve_options(image_scope_options(wrapper))))
    )  # type: ignore[return-value]


# --- replacing a lock (lock, vendor) ---
replace_option = click.option(
    "--replace",
    is_flag=True,
    help="Replace the existing lock even though it was made for other requirements "
    "(without it, requirements given as arguments that differ from the lock's are refused).",
)
