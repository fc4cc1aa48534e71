"""What the manifest tests share: parse text as a manifest, expect an error."""

from __future__ import annotations

import pytest

from bundler.errors import InputError
from bundler.target.manifest import parse_manifest

SRC = "image.txt"


def versions(text: str, source: str = SRC) -> dict[str, str | None]:
    """Name -> version of the manifest ``text`` (format detected as for a file)."""
    return {name: dist.version for name, dist in parse_manifest(text, source).items()}


def parse_error(text: str, source: str = SRC) -> InputError:
    """The input error ``text`` raises, checked to be a usage error (exit code 2)."""
    with pytest.raises(InputError) as info:
        parse_manifest(text, source)
    assert info.value.exit_code == 2
    return info.value
