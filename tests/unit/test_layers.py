"""The package layout is the pipeline: a stage imports only from the stages before it.

docs/architecture.md draws the order; this test keeps the code to it, so a
new import that runs against the flow fails here rather than in a review.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import bundler

PACKAGE = Path(bundler.__file__).parent

#: The stages in data-flow order (docs/architecture.md).
STAGES = (
    "target",
    "request",
    "index",
    "build",
    "resolve",
    "lock",
    "vendor",
    "check",
    "pack",
    "cli",
)
#: Modules and packages every stage may use; they import no stage themselves.
SHARED = (
    "__init__",
    "errors",
    "cache",
    "cache_admin",
    "toml_table",
    "inputs",
    "pip_lines",
    "background",
    "net",
    "elf",
)
#: The value resolve writes and every later stage reads; earlier ones may name it too
#: (a request carries the previous lock).
LOCK_VALUE = "bundler.lock.model"


def _part(module: str) -> str:
    """The stage or shared part a dotted ``bundler.…`` module belongs to."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports() -> Iterator[tuple[str, str]]:
    """(importing file, imported module) for every ``bundler`` import in the package."""
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        here = str(path.relative_to(PACKAGE.parent))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                if node.module == "bundler":
                    yield here, "bundler"  # the package's own names (__version__)
                elif node.module.startswith("bundler."):
                    yield here, node.module
            elif isinstance(node, ast.Import):
                yield from ((here, a.name) for a in node.names if a.name.startswith("bundler."))


def _owner(file: str) -> str:
    """The stage or shared part a file is in: ``bundler/lock/run.py`` is ``lock``."""
    return Path(file).with_suffix("").parts[1]


def test_every_part_of_the_package_is_a_stage_or_shared() -> None:
    parts = {
        p.stem for p in PACKAGE.iterdir() if p.suffix == ".py" or (p / "__init__.py").is_file()
    }
    assert parts - {"__main__"} == set(STAGES) | set(SHARED)


def test_imports_follow_the_pipeline() -> None:
    wrong = []
    for file, module in _imports():
        owner, used = _owner(file), _part(module)
        if used == owner or used in SHARED or module == LOCK_VALUE or owner == "__main__":
            continue
        if owner in SHARED:
            wrong.append(f"{file} (shared) imports the stage module {module}")
        elif used not in STAGES or STAGES.index(used) > STAGES.index(owner):
            wrong.append(f"{file} ({owner}) imports {module}, a later stage")
    assert wrong == []
