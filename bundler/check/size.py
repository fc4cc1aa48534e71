"""The unpacked-size limit of a deployment platform (AWS Lambda's 250 MB)."""

from __future__ import annotations

import os
from pathlib import Path

from bundler.check.findings import Finding
from bundler.target.model import Target


def unpacked_size(root: Path) -> int:
    """Bytes the files under ``root`` take once unpacked from an archive.

    Every file counts in full: a zip or tar stores each hard-linked copy
    again (a vendored lib hard-links identical files), and symlinks are not
    followed. ``__pycache__`` folders count too: they are deployed with the
    rest unless left out on purpose.
    """
    total = 0
    for folder, _dirs, files in os.walk(root):
        for name in files:
            path = Path(folder, name)
            if not path.is_symlink():
                total += path.stat().st_size
    return total


def check_size(lib: Path, target: Target) -> list[Finding]:
    """An error when ``lib`` alone exceeds the target's unpacked-size limit."""
    limit = target.unpacked_size_limit
    if limit is None:
        return []
    size = unpacked_size(lib)
    if size <= limit:
        return []
    return [
        Finding(
            "error",
            "size",
            None,
            str(lib),
            f"the lib takes {size:,} bytes unpacked, above {target.name}'s limit of "
            f"{limit:,} bytes for everything deployed (code, lib and layers)",
            "Vendor less (packages the image already has need not be in the lib), or "
            "deploy as a container image, whose limit is far higher.",
        )
    ]
