"""The final environment (image + lib, lib first) for the target: requirements,
preloaded packages and wheel tags."""

from __future__ import annotations

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from bundler.check.findings import Finding
from bundler.check.libscan import LibContents
from bundler.target import Target


def _version(text: str | None) -> Version | None:
    if text is None:
        return None
    try:
        return Version(text)
    except InvalidVersion:
        return None


def _applies(req: Requirement, target: Target) -> bool:
    return req.marker is None or req.marker.evaluate({**target.markers, "extra": ""})


def check_environment(lib: LibContents, target: Target) -> list[Finding]:
    """Every requirement of what the lib holds, and of the image packages the
    lib shadows' dependents, is met in image + lib for the target's markers."""
    findings: list[Finding] = []
    final: dict[str, str | None] = {n: d.version for n, d in target.installed.items()}
    final.update({n: d.version for n, d in lib.dists.items()})  # the lib shadows the image
    here = str(lib.path)

    def need(owner: str, req: Requirement, where: str, *, image_owner: bool) -> None:
        name = str(canonicalize_name(req.name))
        if not _applies(req, target):
            return
        if name not in final:
            origin = "the image's" if image_owner else "the vendored"
            findings.append(
                Finding(
                    "error",
                    "requirement",
                    owner,
                    where,
                    f"{origin} {owner} requires {req}, which neither the lib nor the image has",
                    f"Re-lock and vendor so {name} is included (`kbundle lock` then "
                    "`kbundle vendor`).",
                )
            )
            return
        version = _version(final[name])
        if version is None:
            findings.append(
                Finding(
                    "info",
                    "unknown",
                    owner,
                    where,
                    f"{owner} requires {req}; the version of {name} on the target is unknown",
                    "Capture the image (`kbundle target capture`) to know its versions.",
                )
            )
            return
        if not req.specifier.contains(version, prereleases=True):
            source = "lib" if name in lib.dists else "image"
            findings.append(
                Finding(
                    "error",
                    "requirement",
                    owner,
                    where,
                    f"{owner} requires {req}, but the final environment has {name} {version} "
                    f"(from the {source})",
                    "Re-lock so both fit (`kbundle lock`), then `kbundle vendor` again.",
                )
            )

    for name, dist in sorted(lib.dists.items()):
        for req in dist.requires:
            need(name, req, f"{here}/{dist.dist_info}", image_owner=False)
        if name in target.preloaded:
            image = target.installed.get(name)
            findings.append(
                Finding(
                    "error",
                    "preloaded",
                    name,
                    f"{here}/{dist.dist_info}",
                    f"the lib vendors {name} {dist.version}, but the host preloads the image's "
                    f"{name} {image.version if image else ''} before your code runs: the vendored "
                    "copy is never imported",
                    f"Drop {name} from the lib: lock with a version the image has.",
                )
            )
        if dist.tags and not dist.tags & set(target.tags):
            wheel_tags = ", ".join(sorted(str(t) for t in dist.tags))
            findings.append(
                Finding(
                    "error",
                    "tag",
                    name,
                    f"{here}/{dist.dist_info}/WHEEL",
                    f"{name} {dist.version} was built for {wheel_tags}, which target "
                    f"{target.name} ({target.tags[0]}) cannot use",
                    "Re-lock and vendor for this target; do not copy libs between targets.",
                )
            )
    shadowed = {n for n in lib.dists if n in target.installed}
    for name, image_dist in sorted(target.installed.items()):
        if name in lib.dists or image_dist.requires is None:
            continue
        for text in image_dist.requires:
            try:
                req = Requirement(text)
            except InvalidRequirement:
                continue
            if str(canonicalize_name(req.name)) in shadowed:
                need(name, req, f"image:{name}", image_owner=True)
    return findings
