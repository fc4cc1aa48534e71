"""Reading a wheel's METADATA from zip structures and with few range requests."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from pathlib import Path

import pytest

from bundler.index.lazy_wheel import (
    InvalidWheel,
    ZipMember,
    fetch_wheel_metadata,
    find_metadata_entries,
    inflate_member,
    local_data_offset,
    metadata_from_wheel_file,
    parse_central_directory,
    parse_end_of_central_directory,
    select_metadata_name,
)
from tests.helpers.wheels import build_wheel, core_metadata

METADATA = "demo-1.0.dist-info/METADATA"


class BytesFetcher:
    """A range fetcher over bytes in memory that records every request."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.calls: list[tuple[int, int]] = []

    def get_range(self, url: str, start: int, end: int) -> bytes:
        self.calls.append((start, end))
        return self.data[start : end + 1]

    def get_tail(self, url: str, length: int) -> tuple[int, bytes]:
        self.calls.append((-length, -1))
        return len(self.data), self.data[-length:]


def handmade_zip(
    members: dict[str, bytes], *, zip64: bool = False, local_padding: int = 0
) -> bytes:
    """A zip written by hand: optionally every size/offset in zip64 form, and
    local extra fields longer than the central ones."""
    out, central = bytearray(), bytearray()
    for name, data in members.items():
        compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
        raw = compressor.compress(data) + compressor.flush()
        crc, encoded, offset = zlib.crc32(data), name.encode(), len(out)
        size32 = 0xFFFFFFFF if zip64 else len(data)
        raw32 = 0xFFFFFFFF if zip64 else len(raw)
        local_extra = struct.pack("<HHQQ", 1, 16, len(data), len(raw)) if zip64 else b""
        local_extra += struct.pack("<HH", 0xCAFE, local_padding) + b"\0" * local_padding
        out += struct.pack(
            "<4sHHHHHIIIHH", b"PK\x03\x04", 45, 0x800, 8, 0, 0, crc, raw32, size32,
            len(encoded), len(local_extra),
        )  # fmt: skip
        out += encoded + local_extra + raw
        central_extra = struct.pack("<HHQQQ", 1, 24, len(data), len(raw), offset) if zip64 else b""
        central += struct.pack(
            "<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 45, 45, 0x800, 8, 0, 0, crc, raw32, size32,
            len(encoded), len(central_extra), 0, 0, 0, 0, 0xFFFFFFFF if zip64 else offset,
        )  # fmt: skip
        central += encoded + central_extra
    cd_offset, count = len(out), len(members)
    out += central
    if zip64:
        record_offset = len(out)
        out += struct.pack(
            "<4sQHHIIQQQQ", b"PK\x06\x06", 44, 45, 45, 0, 0, count, count, len(central), cd_offset
        )
        out += struct.pack("<4sIQI", b"PK\x06\x07", 0, record_offset, 1)
        out += struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, *[0xFFFFFFFF] * 2, 0)
    else:
        out += struct.pack(
            "<4sHHHHIIH", b"PK\x05\x06", 0, 0, count, count, len(central), cd_offset, 0
        )
    return bytes(out)


def wheel_bytes(
    tmp_path: Path,
    *,
    files: dict[str, bytes] | None = None,
    compression: int = zipfile.ZIP_DEFLATED,
) -> tuple[bytes, bytes]:
    """(wheel bytes, its METADATA) of a freshly built ``demo`` wheel."""
    path = build_wheel(
        tmp_path, "demo", "1.0", requires=["six>=1.0"], files=files, compression=compression
    )
    with zipfile.ZipFile(path) as archive:
        return path.read_bytes(), archive.read(METADATA)


def test_parsers_on_a_real_wheel(tmp_path: Path) -> None:
    data, metadata = wheel_bytes(tmp_path)
    tail_start = len(data) - 200
    directory, zip64_record = parse_end_of_central_directory(data[tail_start:], tail_start)
    assert zip64_record is None
    members = parse_central_directory(data[directory.offset : directory.offset + directory.size])
    assert len(members) == directory.entries == 4
    assert [m.name for m in members] == zipfile.ZipFile(io.BytesIO(data)).namelist()
    member = {m.name: m for m in members}[METADATA]
    start = member.header_offset + local_data_offset(data[member.header_offset :])
    assert inflate_member(member, data[start : start + member.compressed_size]) == metadata


def test_comment_with_a_fake_end_signature(tmp_path: Path) -> None:
    # Even the standard library's zipfile is fooled by this comment.
    comment = b"PK\x05\x06 looks like an EOCD" * 20
    path = build_wheel(tmp_path, "demo", "1.0", requires=["six>=1.0"], comment=comment)
    expected = core_metadata("demo", "1.0", requires=["six>=1.0"])
    assert fetch_wheel_metadata(BytesFetcher(path.read_bytes()), "u", path.name) == expected


def test_stored_members(tmp_path: Path) -> None:
    data, metadata = wheel_bytes(tmp_path, compression=zipfile.ZIP_STORED)
    assert fetch_wheel_metadata(BytesFetcher(data), "u", "demo-1.0-py3-none-any.whl") == metadata


@pytest.mark.parametrize("tail", [b"", b"no zip here" * 10, b"PK\x05\x06 short"])
def test_tail_without_end_record(tail: bytes) -> None:
    with pytest.raises(InvalidWheel):
        parse_end_of_central_directory(tail, 1000)


def test_truncated_central_directory() -> None:
    data = handmade_zip({METADATA: b"Name: demo\n"})
    directory, _ = parse_end_of_central_directory(data, 0)
    with pytest.raises(InvalidWheel):
        parse_central_directory(data[directory.offset : directory.offset + directory.size - 3])


@pytest.mark.parametrize("tail", [64 * 1024, 42])
def test_zip64_archive(tail: int) -> None:
    metadata = b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n"
    data = handmade_zip({"demo/__init__.py": b"x = 1\n", METADATA: metadata}, zip64=True)
    # The standard library agrees that this is a valid zip64 archive.
    assert zipfile.ZipFile(io.BytesIO(data)).read(METADATA) == metadata
    fetcher = BytesFetcher(data)
    assert fetch_wheel_metadata(fetcher, "u", "demo-1.0-py3-none-any.whl", tail=tail) == metadata
    # A 42-byte tail (EOCD and zip64 locator) misses the zip64 end record and
    # the central directory: both are fetched, then the member.
    assert len(fetcher.calls) == (1 if tail > len(data) else 4)


def test_local_extra_longer_than_the_guess() -> None:
    metadata = b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n"
    data = handmade_zip({METADATA: metadata, "demo/x.py": b"0" * 5000}, local_padding=3000)
    fetcher = BytesFetcher(data)
    assert fetch_wheel_metadata(fetcher, "u", "demo-1.0-py3-none-any.whl", tail=200) == metadata
    # tail, then local header with the too-short guess, then the rest of the data
    assert len(fetcher.calls) == 3


def test_round_trips_for_common_shapes(tmp_path: Path) -> None:
    # Small wheel: one request, the tail holds everything.
    data, metadata = wheel_bytes(tmp_path / "a")
    fetcher = BytesFetcher(data)
    assert fetch_wheel_metadata(fetcher, "u", "demo-1.0-py3-none-any.whl") == metadata
    assert len(fetcher.calls) == 1
    # METADATA outside the tail, central directory inside: two requests.
    fetcher = BytesFetcher(data)
    fetch_wheel_metadata(fetcher, "u", "demo-1.0-py3-none-any.whl", tail=400)
    assert len(fetcher.calls) == 2
    # A central directory bigger than the tail: its missing head is fetched once.
    many = {f"demo/module_{i:05}.py": b"" for i in range(3000)}
    data, metadata = wheel_bytes(tmp_path / "b", files=many)
    assert len(data) > 128 * 1024
    fetcher = BytesFetcher(data)
    assert fetch_wheel_metadata(fetcher, "u", "demo-1.0-py3-none-any.whl") == metadata
    assert len(fetcher.calls) == 3


def test_select_metadata_name() -> None:
    names = ["demo/__init__.py", "demo-1.0.dist-info/METADATA", "demo-1.0.dist-info/RECORD"]
    assert select_metadata_name(names, "demo-1.0-py3-none-any.whl") == METADATA
    confusing = [*names, "other-2.0.dist-info/METADATA", "x/y-1.dist-info/METADATA"]
    assert select_metadata_name(confusing, "demo-1.0-py3-none-any.whl") == METADATA
    with pytest.raises(InvalidWheel):
        select_metadata_name(["demo/__init__.py"], "demo-1.0-py3-none-any.whl")


def member(**changes: int) -> ZipMember:
    fields = {"flags": 0, "method": 8, "crc32": 0, "compressed_size": 0, "file_size": 0}
    fields.update(changes)
    return ZipMember(name=METADATA, header_offset=0, **fields)


def test_inflate_refuses_what_it_cannot_check() -> None:
    with pytest.raises(InvalidWheel, match="encrypted"):
        inflate_member(member(flags=1), b"")
    with pytest.raises(InvalidWheel, match="method 12"):
        inflate_member(member(method=12), b"")
    with pytest.raises(InvalidWheel, match="CRC"):
        inflate_member(member(method=0, file_size=3, crc32=1), b"abc")
    with pytest.raises(InvalidWheel):
        inflate_member(member(method=8, file_size=3), b"not deflate data")
    with pytest.raises(InvalidWheel):
        local_data_offset(b"PK\x01\x02" + b"\0" * 40)


def test_metadata_from_wheel_file(tmp_path: Path) -> None:
    path = build_wheel(tmp_path, "demo", "1.0")
    assert metadata_from_wheel_file(path, path.name).startswith(b"Metadata-Version: 2.1")
    broken = tmp_path / "demo-2.0-py3-none-any.whl"
    broken.write_bytes(b"not a zip")
    with pytest.raises(InvalidWheel, match="not a readable wheel"):
        metadata_from_wheel_file(broken, broken.name)


def _central(data: bytes) -> bytes:
    directory, _ = parse_end_of_central_directory(data[-200:], len(data) - 200)
    return data[directory.offset : directory.offset + directory.size]


def test_the_metadata_entry_is_found_without_reading_every_entry(tmp_path: Path) -> None:
    data, _ = wheel_bytes(tmp_path)
    central = _central(data)
    expected = {m.name: m for m in parse_central_directory(central)}[METADATA]
    assert find_metadata_entries(central) == [expected]


def test_look_alike_names_and_comments_are_not_the_metadata_entry() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("demo-1.0.dist-info/METADATA.orig", b"old")
        noted = zipfile.ZipInfo("demo/__init__.py")
        noted.comment = b"see demo-1.0.dist-info/METADATA"
        archive.writestr(noted, b"")
        archive.writestr(METADATA, b"Name: demo\n")
    names = [m.name for m in find_metadata_entries(_central(out.getvalue()))]
    assert names == [METADATA]


def test_a_wheel_with_two_dist_info_folders_is_read_in_full() -> None:
    # A broken wheel with two .dist-info folders: the fast path finds two and
    # falls back to the full directory, where the project's name decides.
    zip_bytes = handmade_zip(
        {"other-2.0.dist-info/METADATA": b"Name: other\n", METADATA: b"Name: demo\n"}
    )
    got = fetch_wheel_metadata(BytesFetcher(zip_bytes), "u", "demo-1.0-py3-none-any.whl")
    assert got == b"Name: demo\n"
