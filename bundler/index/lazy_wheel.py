"""A wheel's ``*.dist-info/METADATA`` read with HTTP range requests.

A wheel is a zip file, and a zip file is read from its end: the End Of
Central Directory record (EOCD) is in the last 22 bytes plus an optional
comment, and points at the central directory, which lists every member with
its sizes and the offset of its local header. So the usual cost is two round
trips: the file's tail (EOCD and, for most wheels, the whole central
directory), then the METADATA member's local header and compressed data.
When the central directory is bigger than the tail, one more request fetches
just the missing part.

The zip structures are parsed by the pure functions below (bytes in, values
out, tested on bytes); :func:`fetch_wheel_metadata` only decides which bytes to
ask for. Anything unusual (encryption, exotic compression, a broken archive)
raises :class:`InvalidWheel`, and the caller falls back to a full download.
"""

from __future__ import annotations

import struct
import zipfile
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from packaging.utils import canonicalize_name, parse_wheel_filename

from bundler.errors import NetworkError

if TYPE_CHECKING:
    from collections.abc import Iterable
    from pathlib import Path

#: Tail fetched first. 64 KiB + 22 bytes always holds the EOCD (its comment is
#: at most 65535 bytes); the extra room usually holds the central directory
#: of wheels with up to several hundred files.
DEFAULT_TAIL = 128 * 1024
#: Local headers may carry a longer extra field than the central directory
#: entry says; over-read this much so one request usually suffices.
LOCAL_EXTRA_SLACK = 1024
#: A METADATA file bigger than this is not trusted to be inflated in memory.
MAX_METADATA_SIZE = 64 * 1024 * 1024

_EOCD = struct.Struct("<4sHHHHIIH")
_ZIP64_LOCATOR = struct.Struct("<4sIQI")
_ZIP64_EOCD = struct.Struct("<4sQHHIIQQQQ")
_CENTRAL = struct.Struct("<4sHHHHHHIIIHHHHHII")
_LOCAL = struct.Struct("<4sHHHHHIIIHH")
_EOCD_SIG = b"PK\x05\x06"
_ZIP64_LOCATOR_SIG = b"PK\x06\x07"
_ZIP64_EOCD_SIG = b"PK\x06\x06"
_CENTRAL_SIG = b"PK\x01\x02"
#: Longest ``<name>-<version>.dist-info`` folder looked for (PEP 503 names are short).
_MAX_DIST_INFO_NAME = 512
_LOCAL_SIG = b"PK\x03\x04"
_ZIP64_EXTRA_ID = 0x0001
_UTF8_FLAG = 0x800
_ENCRYPTED_FLAG = 0x1
_STORED, _DEFLATED = 0, 8


class InvalidWheel(NetworkError):
    """A wheel's zip structure could not be read (or not lazily)."""


@dataclass(frozen=True)
class CentralDirectory:
    """Where the central directory is: absolute ``offset``, ``size`` in bytes."""

    offset: int
    size: int
    entries: int


@dataclass(frozen=True)
class ZipMember:
    """One central directory entry, with zip64 extras already applied."""

    name: str
    flags: int
    method: int
    crc32: int
    compressed_size: int
    file_size: int
    header_offset: int


def parse_end_of_central_directory(
    tail: bytes, tail_offset: int
) -> tuple[CentralDirectory, int | None]:
    """Find the EOCD in ``tail`` (the last bytes of the file, starting at
    absolute ``tail_offset``).

    Returns the central directory the classic record describes and, for a
    zip64 archive, the absolute offset of the zip64 EOCD record whose values
    replace it (see :func:`parse_zip64_end_record`).
    """
    position = len(tail)
    while True:
        # The signature can also occur inside the comment or compressed data;
        # the genuine record is the one whose comment ends exactly at EOF.
        position = tail.rfind(_EOCD_SIG, 0, position)
        if position < 0 or len(tail) - position < _EOCD.size:
            raise InvalidWheel("no zip end-of-central-directory record in the file's tail")
        fields = _EOCD.unpack_from(tail, position)
        if position + _EOCD.size + fields[7] == len(tail):
            break
    _, disk, cd_disk, _, entries, cd_size, cd_offset, _ = fields
    if disk != 0 or cd_disk != 0:
        raise InvalidWheel("multi-disk zip archives are not supported")
    locator_at = position - _ZIP64_LOCATOR.size
    if locator_at >= 0 and tail[locator_at : locator_at + 4] == _ZIP64_LOCATOR_SIG:
        _, _, record_offset, _ = _ZIP64_LOCATOR.unpack_from(tail, locator_at)
        return CentralDirectory(cd_offset, cd_size, entries), record_offset
    if tail_offset + position < cd_offset + cd_size:
        raise InvalidWheel("the central directory overlaps its end record")
    return CentralDirectory(cd_offset, cd_size, entries), None


def parse_zip64_end_record(data: bytes) -> CentralDirectory:
    """The central directory as described by a zip64 EOCD record."""
    if len(data) < _ZIP64_EOCD.size or data[:4] != _ZIP64_EOCD_SIG:
        raise InvalidWheel("bad zip64 end-of-central-directory record")
    fields = _ZIP64_EOCD.unpack_from(data)
    entries, cd_size, cd_offset = fields[7], fields[8], fields[9]
    return CentralDirectory(cd_offset, cd_size, entries)


def _apply_zip64_extra(
    extra: bytes, file_size: int, compressed_size: int, header_offset: int
) -> tuple[int, int, int]:
    """Replace the saturated (0xFFFFFFFF) 32-bit fields from the zip64 extra field.

    The extra field holds 8-byte values only for the fields that are
    saturated, always in the order: size, compressed size, header offset.
    """
    position = 0
    while position + 4 <= len(extra):
        header_id, length = struct.unpack_from("<HH", extra, position)
        body = extra[position + 4 : position + 4 + length]
        position += 4 + length
        if header_id != _ZIP64_EXTRA_ID:
            continue
        values = [file_size, compressed_size, header_offset]
        cursor = 0
        for index, value in enumerate(values):
            if value == 0xFFFFFFFF:
                if cursor + 8 > len(body):
                    raise InvalidWheel("truncated zip64 extra field")
                (values[index],) = struct.unpack_from("<Q", body, cursor)
                cursor += 8
        return values[0], values[1], values[2]
    return file_size, compressed_size, header_offset


def parse_central_directory(data: bytes) -> list[ZipMember]:
    """Every entry of a complete central directory."""
    members = []
    position = 0
    while position < len(data):
        member, position = _parse_entry(data, position)
        members.append(member)
    return members


def _parse_entry(data: bytes, position: int) -> tuple[ZipMember, int]:
    """The central directory entry at ``position``, and where the next one starts."""
    if len(data) - position < _CENTRAL.size or data[position : position + 4] != _CENTRAL_SIG:
        raise InvalidWheel(f"bad central directory entry at byte {position}")
    fields = _CENTRAL.unpack_from(data, position)
    flags, method, crc = fields[3], fields[4], fields[7]
    name_length, extra_length, comment_length = fields[10], fields[11], fields[12]
    start = position + _CENTRAL.size
    if start + name_length + extra_length + comment_length > len(data):
        raise InvalidWheel(f"truncated central directory entry at byte {position}")
    raw_name = data[start : start + name_length]
    extra = data[start + name_length : start + name_length + extra_length]
    file_size, compressed_size, header_offset = _apply_zip64_extra(
        extra, fields[9], fields[8], fields[16]
    )
    # Names are UTF-8 when flag 11 is set, else code page 437 (the zip spec).
    try:
        name = raw_name.decode("utf-8" if flags & _UTF8_FLAG else "cp437")
    except UnicodeDecodeError as exc:
        raise InvalidWheel(f"undecodable member name {raw_name!r}") from exc
    member = ZipMember(name, flags, method, crc, compressed_size, file_size, header_offset)
    return member, start + name_length + extra_length + comment_length


def find_metadata_entries(data: bytes) -> list[ZipMember]:
    """The entries of a central directory whose names end in ``.dist-info/METADATA``.

    A torch or vllm wheel lists tens of thousands of files: decoding every
    entry in Python cost more CPU than the rest of a cold lock's metadata
    reads. The name is found with one ``bytes.find`` per hit instead, and its
    entry's header is the signature that precedes it by the fixed header size
    with a name length that ends exactly there. Names in the entry's extra or
    comment fields cannot pass that check, so a hit is a real entry.
    """
    found = []
    suffix = b".dist-info/METADATA"
    hit = data.find(suffix)
    while hit >= 0:
        end = hit + len(suffix)
        # Project and version names are short; a longer name is not a wheel's.
        low = max(0, hit - _CENTRAL.size - _MAX_DIST_INFO_NAME)
        header = data.rfind(_CENTRAL_SIG, low, hit)
        while header >= 0:
            start = header + _CENTRAL.size
            if start <= hit and _CENTRAL.unpack_from(data, header)[10] == end - start:
                found.append(_parse_entry(data, header)[0])
                break
            header = data.rfind(_CENTRAL_SIG, low, header)
        hit = data.find(suffix, end)
    return found


def select_metadata_name(names: Iterable[str], wheel_filename: str) -> str:
    """The ``<name>-<version>.dist-info/METADATA`` member of a wheel.

    A wheel has one top-level ``.dist-info`` directory; if a broken wheel has
    several, the one named after the wheel's project wins.
    """
    candidates = [
        name
        for name in names
        if name.count("/") == 1 and name.endswith("/METADATA") and ".dist-info/" in name
    ]
    if len(candidates) == 1:
        return candidates[0]
    project = parse_wheel_filename(wheel_filename)[0]
    matching = [name for name in candidates if canonicalize_name(name.partition("-")[0]) == project]
    if len(matching) != 1:
        raise InvalidWheel(f"{wheel_filename} has no single .dist-info/METADATA file")
    return matching[0]


def local_data_offset(header: bytes) -> int:
    """Offset of a member's data from the start of its local header."""
    if len(header) < _LOCAL.size or header[:4] != _LOCAL_SIG:
        raise InvalidWheel("bad local file header")
    fields = _LOCAL.unpack_from(header)
    return _LOCAL.size + int(fields[9]) + int(fields[10])


def inflate_member(member: ZipMember, raw: bytes) -> bytes:
    """Decompress a member's data and check its CRC-32."""
    if member.flags & _ENCRYPTED_FLAG:
        raise InvalidWheel(f"{member.name} is encrypted")
    if member.file_size > MAX_METADATA_SIZE:
        raise InvalidWheel(f"{member.name} is {member.file_size} bytes; too large")
    if member.method == _STORED:
        data = raw
    elif member.method == _DEFLATED:
        try:
            # Raw deflate stream (negative window bits): zip has no zlib header.
            data = zlib.decompressobj(-zlib.MAX_WBITS).decompress(raw, MAX_METADATA_SIZE)
        except zlib.error as exc:
            raise InvalidWheel(f"{member.name}: {exc}") from exc
    else:
        raise InvalidWheel(f"{member.name} uses zip compression method {member.method}")
    if len(data) != member.file_size or zlib.crc32(data) != member.crc32:
        raise InvalidWheel(f"{member.name} fails its size or CRC-32 check")
    return data


def metadata_from_wheel_file(path: Path, wheel_filename: str) -> bytes:
    """METADATA of a wheel on disk (the full-download fallback and local files)."""
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.read(select_metadata_name(archive.namelist(), wheel_filename))
    except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError) as exc:
        raise InvalidWheel(f"{wheel_filename} is not a readable wheel: {exc}") from exc


class RangeFetcher(Protocol):
    """The part of :class:`bundler.net.client.HttpClient` this module uses."""

    def get_range(self, url: str, start: int, end: int) -> bytes:
        """Bytes ``start..end`` (inclusive) of ``url``."""
        ...

    def get_tail(self, url: str, length: int) -> tuple[int, bytes]:
        """(file size, last ``length`` bytes) of ``url``."""
        ...


class _SparseFile:
    """The parts of a remote file fetched so far; fetches only what is missing."""

    def __init__(self, client: RangeFetcher, url: str, size: int) -> None:
        self._client = client
        self._url = url
        self._size = size
        self._chunks: list[tuple[int, bytes]] = []

    def add(self, start: int, data: bytes) -> None:
        self._chunks.append((start, data))

    def read(self, offset: int, length: int) -> bytes:
        end = offset + length
        if offset < 0 or end > self._size:
            raise InvalidWheel("a zip offset points outside the file")
        for start, data in self._chunks:
            stop = start + len(data)
            if start <= offset and end <= stop:
                return data[offset - start : end - start]
            if offset < start < end <= stop:  # held: a suffix of the range
                return self._fetch(offset, start) + data[: end - start]
            if start <= offset < stop < end:  # held: a prefix of the range
                return data[offset - start :] + self._fetch(stop, end)
        return self._fetch(offset, end)

    def _fetch(self, start: int, end: int) -> bytes:
        data = self._client.get_range(self._url, start, end - 1)
        if len(data) != end - start:
            raise InvalidWheel("the server answered a range of the wrong length")
        self._chunks.append((start, data))
        return data


def fetch_wheel_metadata(
    client: RangeFetcher, url: str, wheel_filename: str, *, tail: int = DEFAULT_TAIL
) -> bytes:
    """The METADATA bytes of the wheel at ``url`` via range requests.

    Raises :class:`bundler.net.errors.RangeNotSupported` when the server ignores
    ranges and :class:`InvalidWheel` when the zip cannot be read this way;
    both mean "download the whole file instead".
    """
    size, data = client.get_tail(url, tail)
    remote = _SparseFile(client, url, size)
    remote.add(size - len(data), data)
    directory, zip64_record = parse_end_of_central_directory(data, size - len(data))
    if zip64_record is not None:
        directory = parse_zip64_end_record(remote.read(zip64_record, _ZIP64_EOCD.size))
    central = remote.read(directory.offset, directory.size)
    candidates = [m for m in find_metadata_entries(central) if m.name.count("/") == 1]
    if len(candidates) != 1:
        # None, or several .dist-info folders (a broken wheel): read every
        # entry and let the project's name decide.
        candidates = parse_central_directory(central)
        if len(candidates) != directory.entries:
            raise InvalidWheel("the central directory does not hold the announced entries")
    by_name = {member.name: member for member in candidates}
    member = by_name[select_metadata_name(by_name, wheel_filename)]
    # One request for local header + data: guess the header's length from the
    # central entry, plus slack for a longer local extra field.
    guess = _LOCAL.size + len(member.name.encode()) + member.compressed_size + LOCAL_EXTRA_SLACK
    limit = directory.offset if member.header_offset < directory.offset else size
    head = remote.read(member.header_offset, min(guess, limit - member.header_offset))
    data_start = member.header_offset + local_data_offset(head)
    return inflate_member(member, remote.read(data_start, member.compressed_size))
