"""Tag derivation for targets that are not the running interpreter."""

from __future__ import annotations

import os
import platform
import sys

import pytest
from packaging import tags as ptags

from bundler.target.tags import (
    interpreter_tags,
    linux_platforms,
    manylinux_platforms,
    musllinux_platforms,
    parse_libc_version,
)


def _linux_last(platforms: list[str]) -> list[str]:
    return [p for p in platforms if not p.startswith("linux_")] + [
        p for p in platforms if p.startswith("linux_")
    ]


def test_manylinux_walks_down_with_legacy_aliases() -> None:
    plats = list(manylinux_platforms("x86_64", (2, 31)))
    assert plats[0] == "manylinux_2_31_x86_64"
    assert plats[-2:] == ["manylinux_2_5_x86_64", "manylinux1_x86_64"]
    assert plats.index("manylinux2014_x86_64") == plats.index("manylinux_2_17_x86_64") + 1
    assert "manylinux2010_x86_64" in plats


def test_aarch64_stops_at_manylinux2014() -> None:
    plats = list(manylinux_platforms("aarch64", (2, 35)))
    assert plats[-1] == "manylinux2014_aarch64"


def test_linux_tag_is_last_and_musl() -> None:
    assert linux_platforms("x86_64", "glibc", (2, 35))[-1] == "linux_x86_64"
    assert list(musllinux_platforms("x86_64", (1, 2))) == [
        "musllinux_1_2_x86_64",
        "musllinux_1_1_x86_64",
        "musllinux_1_0_x86_64",
    ]
    with pytest.raises(ValueError, match="libc"):
        linux_platforms("x86_64", "bionic", (1, 0))


@pytest.mark.parametrize("bad", ["2", "x.y", "2.", ""])
def test_parse_libc_version_rejects(bad: str) -> None:
    with pytest.raises(ValueError, match=r"2\.35"):
        parse_libc_version(bad)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux host needed")
def test_same_tags_as_packaging_for_the_running_interpreter() -> None:
    """Equal to sys_tags() once linux_* is moved behind manylinux (see bundler.target.tags)."""
    glibc = parse_libc_version(os.confstr("CS_GNU_LIBC_VERSION").split()[1])
    abi = ptags.interpreter_abi()
    platforms = linux_platforms(platform.machine(), "glibc", glibc)
    ours = [str(t) for t in interpreter_tags(sys.version_info[:2], [abi], platforms)]
    expected_platforms = _linux_last(list(ptags.platform_tags()))
    expected = [str(t) for t in ptags.cpython_tags(platforms=expected_platforms)]
    expected += [
        str(t)
        for t in ptags.compatible_tags(
            interpreter="cp" + ptags.interpreter_version(), platforms=expected_platforms
        )
    ]
    assert ours == expected
    assert set(ours) == {str(t) for t in ptags.sys_tags()}
