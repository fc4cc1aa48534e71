"""Reading and writing target descriptions.

Three inputs make a :class:`~bundler.target.model.Target`:

* kbundle's own TOML target file — presets shipped with kbundle and the files
  ``kbundle target capture`` writes share one format (documented in README);
* pex's complete-platform JSON (``marker_environment`` + ``compatible_tags``);
* a preset name or alias (see :mod:`bundler.target.presets`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import tomli_w
from packaging.tags import Tag, parse_tag
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from bundler.errors import InputError
from bundler.target.manifest import (
    Manifest,
    installed_from_table,
    installed_to_table,
    load_manifest,
)
from bundler.target.model import Cuda, Target, default_markers
from bundler.target.tags import interpreter_tags, linux_platforms, parse_libc_version
from bundler.toml_table import Table, parse_toml

FORMAT_VERSION = 1

_TOP_KEYS = frozenset(
    {
        "format",
        "name",
        "aliases",
        "default",
        "description",
        "sources",
        "partial",
        "implementation",
        "python_full_version",
        "abi",
        "os",
        "arch",
        "libc",
        "glibc",
        "musl",
        "platform_tags",
        "preloaded",
        "provided_libraries",
        "manifest",
        "markers",
        "cuda",
        "installed",
        "unpacked_size_limit",
    }
)
_CUDA_KEYS = frozenset({"runtime", "driver_max", "archs"})
_CUDA_VERSION = re.compile(r"^\d+\.\d+$")
_ARCH = re.compile(r"^\d+\.\d+$")


def load_target_file(path: Path) -> Target:
    """A target from a kbundle TOML file or a pex complete-platform JSON file."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(
            f"cannot read the target file: {exc.strerror}",
            source=str(path),
            hint="Give a preset name (see `kbundle target list`) or a path to a target file.",
        ) from exc
    if path.suffix == ".json" or data.lstrip().startswith(b"{"):
        return parse_pex_platform(data, str(path), default_name=path.stem)
    return parse_target_toml(parse_toml(data, str(path)), str(path), path.parent)


def parse_target_toml(doc: Mapping[str, Any], source: str, base_dir: Path) -> Target:
    """Build a target from a parsed kbundle target TOML document.

    ``base_dir`` resolves a relative ``manifest`` path (presets keep their
    package lists in a ``pip freeze`` file beside the TOML).
    """
    top = Table(doc, source)
    top.reject_unknown(_TOP_KEYS)
    fmt = doc.get("format", FORMAT_VERSION)
    if fmt != FORMAT_VERSION:
        raise top.error("format", f"is {fmt!r}; this kbundle reads format {FORMAT_VERSION}")

    implementation = top.get_str("implementation", "cp") or "cp"
    if implementation != "cp":
        raise top.error("implementation", f"is {implementation!r}; kbundle targets CPython ('cp')")
    python_full_version = _python_version(top)
    major, minor = python_full_version.split(".")[:2]
    os_name = top.get_str("os", "linux") or "linux"
    if os_name != "linux":
        raise top.error("os", f"is {os_name!r}; kbundle targets Linux images only")
    arch = top.get_str("arch", "x86_64") or "x86_64"
    libc = top.get_str("libc", "glibc") or "glibc"
    if libc not in ("glibc", "musl"):
        raise top.error("libc", f"is {libc!r}; expected 'glibc' or 'musl'")
    libc_key = "glibc" if libc == "glibc" else "musl"
    libc_text = top.get_str(libc_key)
    libc_version = None
    if libc_text is not None:
        try:
            libc_version = parse_libc_version(libc_text)
        except ValueError as exc:
            raise top.error(libc_key, str(exc)) from exc
    abi = top.get_str("abi") or f"cp{major}{minor}"

    explicit_tags = top.get_str_list("platform_tags")
    if "platform_tags" in doc and not explicit_tags:
        # An empty list would leave no wheel installable; absence is how to say "derive".
        raise top.error(
            "platform_tags",
            "is an empty list",
            hint="List the wheel tags the target accepts, best first, or remove the key "
            "to derive them from arch and glibc.",
        )
    if explicit_tags:
        tags = _parse_tags(explicit_tags, top)
    else:
        try:
            platforms = linux_platforms(arch, libc, libc_version)
        except ValueError as exc:
            raise top.error(libc_key, str(exc)) from exc
        tags = tuple(interpreter_tags((int(major), int(minor)), [abi], platforms))

    markers_table = top.get_str_map("markers")
    markers = default_markers(python_full_version, arch, markers_table)

    installed: Manifest = {}
    manifest_ref = top.get_str("manifest")
    if manifest_ref:
        manifest_path = base_dir / manifest_ref
        if not manifest_path.is_file():
            raise top.error("manifest", f"names {manifest_path}, which does not exist")
        installed.update(load_manifest(manifest_path))
    installed.update(installed_from_table(top.get_table("installed").data, source))

    preloaded = tuple(str(canonicalize_name(n)) for n in top.get_str_list("preloaded"))
    return Target(
        name=top.get_str("name") or Path(source).stem,
        description=top.get_str("description", "") or "",
        sources=tuple(top.get_str_list("sources")),
        implementation=implementation,
        python_full_version=python_full_version,
        abi=abi,
        os=os_name,
        arch=arch,
        libc=libc,
        glibc=libc_text if libc == "glibc" else None,
        tags=tags,
        markers=markers,
        cuda=_parse_cuda(top),
        installed=dict(sorted(installed.items())),
        provided_libraries=tuple(top.get_str_list("provided_libraries")),
        preloaded=preloaded,
        partial=top.get_bool("partial"),
        unpacked_size_limit=top.get_int("unpacked_size_limit", minimum=1),
    )


def _python_version(top: Table) -> str:
    text = top.require_str("python_full_version")
    try:
        version = Version(text)
    except InvalidVersion as exc:
        raise top.error("python_full_version", f"is not a version: {text!r}") from exc
    if len(version.release) != 3 or version.major != 3:
        raise top.error(
            "python_full_version", f"must be a full Python 3 version such as 3.12.13, not {text!r}"
        )
    return text


def _parse_tags(texts: Sequence[str], top: Table) -> tuple[Tag, ...]:
    tags: list[Tag] = []
    for text in texts:
        parsed = _parse_tag_text(text)
        if parsed is None:
            raise top.error("platform_tags", f"has {text!r}, which is not interpreter-abi-platform")
        tags.extend(parsed)
    return tuple(tags)


def _parse_tag_text(text: str) -> list[Tag] | None:
    if text.count("-") != 2:
        return None
    # parse_tag expands compressed tag sets ("py2.py3-none-any") in a fixed
    # order; callers list tags best first, so keep that order as given.
    return sorted(parse_tag(text), key=str)


def _parse_cuda(top: Table) -> Cuda | None:
    if "cuda" not in top.data:
        return None
    cuda = top.get_table("cuda")
    cuda.reject_unknown(_CUDA_KEYS)
    for key in ("runtime", "driver_max"):
        value = cuda.get_str(key)
        if value is not None and not _CUDA_VERSION.match(value):
            raise cuda.error(key, f"must be a CUDA version such as 12.8, not {value!r}")
    archs = cuda.get_str_list("archs")
    for arch in archs:
        if not _ARCH.match(arch):
            raise cuda.error("archs", f"has {arch!r}; compute capabilities look like 7.5")
    return Cuda(cuda.get_str("runtime"), cuda.get_str("driver_max"), tuple(archs))


def parse_pex_platform(data: bytes, source: str, *, default_name: str) -> Target:
    """A target from pex's ``--complete-platform`` JSON.

    It carries markers and tags but not glibc, CUDA or packages: glibc is read
    off the newest ``manylinux_2_N`` tag, the rest stays unknown.
    """
    try:
        doc = json.loads(data.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"is not valid JSON: {exc}", source=source) from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("marker_environment"), dict):
        raise InputError(
            "is not a pex complete-platform file: no 'marker_environment' object",
            source=source,
            hint="Expected keys 'marker_environment' and 'compatible_tags'.",
        )
    env = doc["marker_environment"]
    raw_tags = doc.get("compatible_tags")
    if (
        not isinstance(raw_tags, list)
        or not raw_tags
        or not all(isinstance(t, str) for t in raw_tags)
    ):
        raise InputError("'compatible_tags' must be a non-empty list of strings", source=source)
    table = Table(doc, source)
    tags = _parse_tags(raw_tags, table)
    version = env.get("python_full_version")
    if not isinstance(version, str):
        raise InputError("'marker_environment' lacks python_full_version", source=source)
    glibc_minors = [
        int(m.group(1)) for t in tags if (m := re.match(r"manylinux_2_(\d+)_", t.platform))
    ]
    arch = str(env.get("platform_machine", "x86_64"))
    markers = default_markers(version, arch, {k: str(v) for k, v in env.items()})
    return Target(
        name=default_name,
        description="pex complete platform",
        sources=(source,),
        implementation="cp",
        python_full_version=version,
        abi=tags[0].abi,
        os="linux",
        arch=arch,
        libc="glibc",
        glibc=f"2.{max(glibc_minors)}" if glibc_minors else None,
        tags=tags,
        markers=markers,
        cuda=None,
        partial=True,
    )


def render_target_toml(target: Target, *, header: str = "") -> str:
    """The TOML text of a target, with explicit tags and markers (capture output)."""
    doc: dict[str, Any] = {
        "format": FORMAT_VERSION,
        "name": target.name,
        "description": target.description,
        "sources": list(target.sources),
        "partial": target.partial,
        "implementation": target.implementation,
        "python_full_version": target.python_full_version,
        "abi": target.abi,
        "os": target.os,
        "arch": target.arch,
        "libc": target.libc,
    }
    if target.glibc:
        doc["glibc"] = target.glibc
    doc["preloaded"] = list(target.preloaded)
    doc["provided_libraries"] = list(target.provided_libraries)
    doc["platform_tags"] = [str(t) for t in target.tags]
    doc["markers"] = dict(sorted(target.markers.items()))
    if target.unpacked_size_limit is not None:
        doc["unpacked_size_limit"] = target.unpacked_size_limit
    if target.cuda is not None:
        doc["cuda"] = {k: v for k, v in target.cuda.to_json().items() if v is not None and v != []}
    doc["installed"] = installed_to_table(target.installed)
    return header + tomli_w.dumps(doc, multiline_strings=False)
