"""bundler.elf.fatbin on synthetic CUDA fatbin containers, byte by byte."""

from __future__ import annotations

import struct

import pytest

from bundler.elf.fatbin import MalformedFatbin, arch_sort_key, parse_fatbin

# --- CUDA fatbin: synthetic containers ----------------------------------------


def fatbin_entry(
    kind: int, arch: int, *, flags: int = 0x11, payload: bytes = b"x" * 8, header_size: int = 64
) -> bytes:
    header = struct.pack("<HHIQIIHHIIIQQQ", kind, 0x101, header_size, len(payload),
                         0, 0, 0, 1, arch, 0, 0, flags, 0, 0)  # fmt: skip
    return header + payload


def fatbin_container(*entries: bytes) -> bytes:
    body = b"".join(entries)
    return struct.pack("<IHHQ", 0xBA55ED50, 1, 16, len(body)) + body


def test_parse_fatbin_entries_across_containers() -> None:
    blob = (
        fatbin_container(fatbin_entry(2, 75), fatbin_entry(1, 86, flags=0x8011))
        + b"\0" * 8  # padding between containers
        + fatbin_container(
            fatbin_entry(2, 90, flags=0x100011),
            fatbin_entry(1, 100, flags=0x208011),
            fatbin_entry(8, 89),  # LTO-IR: not loadable, skipped
            fatbin_entry(2, 80, flags=0x2011),
        )
    )

    entries = parse_fatbin(blob)

    assert [(e.kind, e.arch, e.compressed) for e in entries] == [
        ("sass", "sm_75", False),
        ("ptx", "compute_86", True),
        ("sass", "sm_90a", False),
        ("ptx", "compute_100f", True),
        ("sass", "sm_80", True),
    ]


GOOD = fatbin_container(fatbin_entry(2, 75), fatbin_entry(1, 75))


@pytest.mark.parametrize(
    "blob",
    [
        GOOD[:-1],
        GOOD[:20],
        struct.pack("<IHHQ", 0xBA55ED50, 2, 16, 0),  # unknown container version
        struct.pack("<IHHQ", 0xBA55ED50, 1, 8, 0),  # header smaller than itself
        fatbin_container(fatbin_entry(2, 75, header_size=16)),  # entry header too small
        GOOD + b"junk",
        b"junk" + GOOD,
        GOOD + GOOD[:30],
    ],
    ids=[
        "short-payload",
        "short-entry",
        "version",
        "container-header",
        "entry-header",
        "trailing-junk",
        "leading-junk",
        "truncated-second",
    ],
)
def test_malformed_fatbin_raises(blob: bytes) -> None:
    # Never a partial answer: the reader turns this into "architectures unknown".
    with pytest.raises(MalformedFatbin):
        parse_fatbin(blob)


def test_every_truncation_of_a_fatbin_is_handled() -> None:
    blob = GOOD + GOOD
    for cut in range(len(blob) + 1):
        try:
            entries = parse_fatbin(blob[:cut])
        except MalformedFatbin:
            continue
        assert len(entries) in (0, 2, 4)
        assert cut in (0, len(GOOD), len(blob))  # only whole containers parse


def test_a_window_past_the_end_is_malformed() -> None:
    with pytest.raises(MalformedFatbin, match="past the end"):
        parse_fatbin(GOOD, 0, len(GOOD) + 8)


def test_parse_fatbin_window() -> None:
    blob = b"\xff" * 16 + GOOD + b"\xff" * 16
    assert len(parse_fatbin(blob, 16, 16 + len(GOOD))) == 2


def test_arch_sort_key_orders_by_number_then_suffix() -> None:
    archs = ["sm_100f", "sm_90a", "compute_86", "sm_75", "sm_90"]
    assert sorted(archs, key=arch_sort_key) == ["sm_75", "compute_86", "sm_90", "sm_90a", "sm_100f"]
