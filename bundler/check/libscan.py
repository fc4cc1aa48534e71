"""Reading a vendored lib/ folder: its distributions and kbundle's record of it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement
from packaging.tags import Tag, parse_tag
from packaging.utils import canonicalize_name

from bundler.errors import InputError


@dataclass(frozen=True)
class LibDist:
    """One distribution installed in the lib (its ``.dist-info``)."""

    name: str
    version: str
    requires: tuple[Requirement, ...]
    tags: frozenset[Tag]
    dist_info: str
    files: tuple[str, ...]


@dataclass(frozen=True)
class LibContents:
    path: Path
    dists: dict[str, LibDist]
    record: dict[str, Any] | None  # kbundle.json, when kbundle wrote this lib


def scan_lib(lib: Path) -> LibContents:
    """The distributions in ``lib`` (an InputError when it is not a folder)."""
    if not lib.is_dir():
        raise InputError(
            "is not a folder", source=str(lib), hint="Give the lib folder `kbundle vendor` made."
        )
    dists: dict[str, LibDist] = {}
    for info in sorted(lib.glob("*.dist-info")):
        meta_path = info / "METADATA"
        if not meta_path.is_file():
            continue
        headers = BytesHeaderParser().parsebytes(meta_path.read_bytes())
        name = str(canonicalize_name(str(headers.get("Name", info.name.split("-")[0]))))
        requires = []
        for text in headers.get_all("Requires-Dist") or []:
            try:
                requires.append(Requirement(str(text)))
            except InvalidRequirement:
                continue
        tags: set[Tag] = set()
        wheel = info / "WHEEL"
        if wheel.is_file():
            for value in BytesHeaderParser().parsebytes(wheel.read_bytes()).get_all("Tag") or []:
                tags.update(parse_tag(str(value).strip()))
        files: tuple[str, ...] = ()
        record = info / "RECORD"
        if record.is_file():
            files = tuple(
                line.split(",", 1)[0]
                for line in record.read_text(encoding="utf-8", errors="replace").splitlines()
                if line.strip()
            )
        dists[name] = LibDist(
            name,
            str(headers.get("Version", "")),
            tuple(requires),
            frozenset(tags),
            info.name,
            files,
        )
    record_path = lib / "kbundle.json"
    kbundle_record: dict[str, Any] | None = None
    if record_path.is_file():
        try:
            kbundle_record = json.loads(record_path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise InputError(f"is not valid JSON: {exc}", source=str(record_path)) from exc
    return LibContents(lib, dists, kbundle_record)
