"""Click parameter types for paths where an empty value is a mistake."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click


class FolderPath(click.Path):
    """A folder path; ``''`` is refused instead of meaning the current folder.

    An empty value is nearly always an unset shell variable (``-t "$LIB"``):
    taking it as ``.`` would point kbundle at whatever folder the user is in.
    """

    def __init__(self) -> None:
        super().__init__(path_type=Path, file_okay=False)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, str) and not value.strip():
            self.fail(
                "is empty; give a folder path (an unset shell variable?), "
                "e.g. submission/lib, or '.' for the current folder.",
                param,
                ctx,
            )
        return super().convert(value, param, ctx)
