"""Reading a kbundle ``pylock.toml`` back into a :class:`~bundler.lock.model.Lock`.

Two checks, in order: the document must be valid PEP 751 (``packaging.pylock``
says so), then kbundle's own facts under ``[tool.kbundle]`` must agree with
the ``[[packages]]`` (each package once, from the image or the lock; every
dependency named in the lock). Every error is an :class:`~bundler.errors.InputError`
naming the file and the key. The layout is in :mod:`bundler.lock.pylock`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from packaging.pylock import Pylock, PylockUnsupportedVersionError, PylockValidationError
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from bundler.errors import InputError
from bundler.lock.model import Artifact, Lock, LockedPackage, Source
from bundler.lock.pylock import KBUNDLE_TABLES, RESERVED_KEYS, describe, format_time
from bundler.toml_table import Table, parse_toml

__all__ = ["parse_lock", "read_lock"]

_RELOCK_HINT = "Run `kbundle lock` to write the lock again."
_PACKAGE_KEYS = frozenset(
    {
        "name",
        "version",
        "requires-python",
        "index",
        "dependencies",
        "sdist",
        "wheels",
        "attestation-identities",
        "tool",
    }
)


def read_lock(path: Path) -> Lock:
    """Read and validate a kbundle lock file; errors are :class:`InputError` naming it."""
    try:
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise InputError(
            "the lock file does not exist", source=str(path), hint="Run `kbundle lock` to write it."
        ) from exc
    except OSError as exc:
        raise InputError(f"cannot read the lock file: {exc.strerror}", source=str(path)) from exc
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError("is not UTF-8 text", source=str(path), hint=_RELOCK_HINT) from exc
    return parse_lock(text, str(path))


def parse_lock(text: str, source: str) -> Lock:
    """Parse lock text: valid PEP 751 (checked by ``packaging.pylock``) written by kbundle.

    Errors name ``source`` and the offending key, e.g.
    ``pylock.toml: key 'packages[2].wheels[0].hashes' ...``.
    """
    data = parse_toml(text.encode("utf-8", "surrogatepass"), source)
    tool = data.get("tool")
    if not isinstance(tool, Mapping) or "kbundle" not in tool:
        raise InputError(
            "is not a kbundle lock: it has no [tool.kbundle] table",
            source=source,
            hint="kbundle reads only the locks it writes, which record the target they are "
            "for; run `kbundle lock` to write one.",
        )
    try:
        Pylock.from_dict(data)
    except PylockUnsupportedVersionError as exc:
        raise InputError(
            f"key 'lock-version' is {data.get('lock-version')!r}, which this kbundle "
            f"cannot read ({exc.message})",
            source=source,
            hint="Upgrade kbundle, or run `kbundle lock` to write the lock again.",
        ) from exc
    except PylockValidationError as exc:
        raise InputError(
            f"is not a valid PEP 751 lock: {describe(exc, data)}",
            source=source,
            hint=_RELOCK_HINT,
        ) from exc
    return _lock_from(data, source)


def _lock_from(data: Mapping[str, Any], source: str) -> Lock:
    """Build the Lock from a document packaging.pylock has validated."""
    top = Table(data, source)
    kbundle = top.get_table("tool").get_table("kbundle")
    build = set(_names(kbundle.get_str_list("build")))
    shadowed = _name_map(kbundle, "shadowed")
    image = _name_map(kbundle, "image")
    raw_packages: list[Mapping[str, Any]] = data.get("packages", [])
    names = [str(raw["name"]) for raw in raw_packages]  # normalized: pylock checked
    _check_names(top, kbundle, names, image, build, set(shadowed))
    known = {*names, *image}
    image_deps = _image_dependencies(kbundle, known)
    packages = [
        _vendored(Table(raw, source, f"packages[{i}]."), build, shadowed, known)
        for i, raw in enumerate(raw_packages)
    ]
    packages += [LockedPackage(name=n, version=v, source="image") for n, v in image.items()]
    # The dependencies [[packages]] cannot express are added back here.
    packages = [
        replace(p, dependencies=tuple(sorted({*p.dependencies, *image_deps.get(p.name, ())})))
        for p in packages
    ]
    return Lock(
        target_name=kbundle.require_str("target"),
        target_fingerprint=kbundle.require_str("fingerprint"),
        requires_python=top.require_str("requires-python"),
        marker=_marker(top),
        requirements=_requirements(kbundle),
        packages=tuple(sorted(packages, key=lambda p: p.name)),
        kbundle_version=kbundle.require_str("kbundle-version"),
        extra={k: v for k, v in kbundle.data.items() if k not in (*RESERVED_KEYS, *KBUNDLE_TABLES)},
    )


def _marker(top: Table) -> str:
    environments = top.get_str_list("environments")
    if len(environments) != 1:
        raise top.error(
            "environments",
            f"must hold exactly one marker (the target's), not {len(environments)}",
            hint=_RELOCK_HINT,
        )
    return environments[0]


def _requirements(kbundle: Table) -> tuple[str, ...]:
    requirements = kbundle.get_str_list("requirements")
    for requirement in requirements:
        try:
            Requirement(requirement)
        except InvalidRequirement as exc:
            raise kbundle.error(
                "requirements", f"holds {requirement!r}, which is not a valid requirement"
            ) from exc
    return tuple(requirements)


def _names(values: Sequence[str]) -> list[str]:
    return [str(canonicalize_name(v)) for v in values]


def _name_map(kbundle: Table, key: str) -> dict[str, str]:
    """A name -> version table, with canonical names."""
    return {str(canonicalize_name(k)): v for k, v in kbundle.get_str_map(key).items()}


def _check_names(
    top: Table,
    kbundle: Table,
    names: list[str],
    image: Mapping[str, str],
    build: set[str],
    shadowed: set[str],
) -> None:
    """Each package once, from the image or [[packages]]; build/shadowed name packages."""
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise top.error("packages", f"has {twice[0]} more than once", hint=_RELOCK_HINT)
    both = sorted(set(names) & set(image))
    if both:
        raise kbundle.get_table("image").error(
            both[0], "is also in [[packages]]; a package comes from the image or the lock, not both"
        )
    for key, listed in (("build", build), ("shadowed", shadowed)):
        strays = sorted(listed - set(names))
        if strays:
            raise kbundle.error(key, f"names {strays[0]}, which is not in [[packages]]")


def _image_dependencies(kbundle: Table, known: set[str]) -> dict[str, tuple[str, ...]]:
    table = kbundle.get_table("image-dependencies")
    result = {}
    for key in table.data:
        name = str(canonicalize_name(key))
        if name not in known:
            raise table.error(key, "is not a package of the lock", hint=_RELOCK_HINT)
        deps = _names(table.get_str_list(key))
        unknown = sorted(set(deps) - known)
        if unknown:
            raise table.error(key, f"names {unknown[0]}, which is not in the lock", _RELOCK_HINT)
        result[name] = tuple(deps)
    return result


def _vendored(
    table: Table, build: set[str], shadowed: Mapping[str, str], known: set[str]
) -> LockedPackage:
    """One ``[[packages]]`` entry (its types already checked by packaging.pylock)."""
    table.reject_unknown(_PACKAGE_KEYS)
    name = table.require_str("name")
    deps = []
    for j, dep in enumerate(table.data.get("dependencies", [])):
        entry = Table(dep, table.source, table.key(f"dependencies[{j}]."))
        dep_name = str(canonicalize_name(entry.require_str("name")))
        if dep_name not in known:
            raise entry.error("name", f"is {dep_name}, which is not in the lock", _RELOCK_HINT)
        deps.append(dep_name)
    wheels = table.data.get("wheels", [])
    if len(wheels) > 1:
        raise table.error(
            "wheels", "holds more than one wheel; a kbundle lock has one", _RELOCK_HINT
        )
    wheel = (
        _artifact(Table(wheels[0], table.source, table.key("wheels[0].")), "wheel")
        if wheels
        else None
    )
    sdist = _artifact(table.get_table("sdist"), "sdist") if "sdist" in table.data else None
    source: Source = "build" if name in build else "vendor"
    if source == "vendor" and wheel is None:
        raise table.error(
            "wheels", "is required: the package is not in tool.kbundle.build", _RELOCK_HINT
        )
    if source == "build" and sdist is None:
        raise table.error(
            "sdist", "is required: the package is in tool.kbundle.build", _RELOCK_HINT
        )
    return LockedPackage(
        name=name,
        version=table.require_str("version"),
        source=source,
        wheel=wheel,
        sdist=sdist,
        index=table.get_str("index"),
        requires_python=table.get_str("requires-python"),
        dependencies=tuple(deps),
        shadows=shadowed.get(name),
    )


def _artifact(table: Table, kind: str) -> Artifact:
    url = table.get_str("url")
    if not url:
        raise table.error("url", f"is required: kbundle fetches every {kind} by URL", _RELOCK_HINT)
    hashes = table.get_table("hashes")
    sha256 = hashes.get_str("sha256")
    if not sha256:
        raise hashes.error("sha256", "is required", _RELOCK_HINT)
    size = table.data.get("size")
    when = table.data.get("upload-time")
    return Artifact(
        url=url,
        filename=table.get_str("name") or unquote(urlparse(url).path.rsplit("/", 1)[-1]),
        sha256=sha256,
        size=size if isinstance(size, int) else None,
        upload_time=format_time(when) if isinstance(when, datetime) else None,
    )
