"""``pip list --format=json`` output as a manifest.

``[{"name": ..., "version": ...}, ...]``; extra keys are ignored except
``editable_project_location``, which is kept as the ``url`` of an editable
install. Versions are kept verbatim when they are not PEP 440: pip reported
them, so the image has them.
"""

from __future__ import annotations

import json

from packaging.utils import InvalidName, canonicalize_name

from bundler.errors import InputError
from bundler.target.manifest.dist import InstalledDist, Manifest, normalize_version

__all__ = ["parse_json_list"]

_HINT = "Expected the output of `pip list --format=json`."


def parse_json_list(text: str, source: str) -> Manifest:
    """Parse ``pip list --format=json`` output; errors name ``source`` (and a bad JSON line)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"invalid JSON: {exc.msg} (column {exc.colno}).",
            source=source,
            line=exc.lineno,
            hint=_HINT,
        ) from None
    if not isinstance(data, list):
        raise InputError("expected a JSON list of distributions.", source=source, hint=_HINT)
    found: dict[str, tuple[int, InstalledDist]] = {}
    for index, item in enumerate(data, start=1):
        dist = _dist_from_json(item)
        if dist is None:
            raise InputError(
                f"JSON entry {index} ({json.dumps(item)[:80]}) needs string 'name' and 'version'.",
                source=source,
                hint=_HINT,
            )
        if dist.name in found and found[dist.name][1] != dist:
            raise InputError(
                f"{dist.name} is listed twice with different versions: "
                f"entries {found[dist.name][0]} and {index}.",
                source=source,
            )
        found.setdefault(dist.name, (index, dist))
    return {name: found[name][1] for name in sorted(found)}


def _dist_from_json(item: object) -> InstalledDist | None:
    """One ``pip list`` JSON entry, or ``None`` if it is malformed."""
    if not isinstance(item, dict):
        return None
    name, version, location = (
        item.get("name"),
        item.get("version"),
        item.get("editable_project_location"),
    )
    if not isinstance(name, str) or not isinstance(version, str) or not version.strip():
        return None
    try:
        canonical = canonicalize_name(name, validate=True)
    except InvalidName:
        return None
    return InstalledDist(
        canonical,
        normalize_version(version),
        url=location if isinstance(location, str) else None,
    )
