"""Version pins in a Dockerfile or config excerpt as a manifest.

``KEY_VERSION=value`` lines (optionally after ``ENV``/``ARG``), as in Kaggle's
``config.txt``: a last resort for images that publish no package list, read
only when the text has no freeze requirement lines. Everything else in such a
document is prose and ignored.
"""

from __future__ import annotations

import re

from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from bundler.pip_lines import split_lines, strip_comment
from bundler.target.manifest.dist import InstalledDist, Manifest

__all__ = ["is_pin_line", "parse_pins"]

# `KEY_VERSION=value`, optionally after a Dockerfile `ENV`/`ARG` and after the
# `NN:` line-number prefix used when quoting excerpts of a Dockerfile.
_PIN_RE = re.compile(
    r"^(?:\d+:)?(?:(?:ENV|ARG)\s+)?(?P<key>[A-Z][A-Z0-9_]*_VERSION)=(?P<value>\S*)"
)
# Keys naming the base image, CUDA or Python rather than a Python package.
_NON_PACKAGE_PREFIXES = ("CUDA_", "PYTHON_", "BASE_", "CPU_", "GPU_")


def is_pin_line(line: str) -> bool:
    """Whether a (comment-stripped) line starts with a ``KEY_VERSION=`` pin."""
    return _PIN_RE.match(line) is not None


def parse_pins(text: str) -> Manifest:
    """Parse ``KEY_VERSION=value`` pins from a Dockerfile/config excerpt.

    Lines that are not pins are document text and ignored, as are keys for the base
    image, CUDA or Python and values that are not versions (``$PACKAGE_VERSION``).
    """
    pins: dict[str, InstalledDist] = {}
    for line in split_lines(text):
        match = _PIN_RE.match(strip_comment(line).strip())
        if match is None or match["key"].startswith(_NON_PACKAGE_PREFIXES):
            continue
        try:
            version = Version(match["value"].strip("\"'"))
        except InvalidVersion:
            continue
        name = canonicalize_name(match["key"].removesuffix("_VERSION"))
        # A key repeated later overrides: such documents append later revisions of
        # the same config below earlier ones, so the last value is the newest.
        pins[name] = InstalledDist(name, str(version))
    return dict(sorted(pins.items()))
