"""The final environment (image + lib, lib first) for the target: requirements,
preloaded packages and wheel tags."""

from __future__ import annotations

from collections.abc import Iterable

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from bundler.check.findings import Finding, Severity
from bundler.check.libscan import LibContents
from bundler.resolve.shadowing import find_breaks, image_closure
from bundler.target.model import Target


def _version(text: str | None) -> Version | None:
    if text is None:
        return None
    try:
        return Version(text)
    except InvalidVersion:
        return None


def check_environment(
    lib: LibContents, target: Target, *, lock_image: Iterable[str] = (), strict: bool = False
) -> list[Finding]:
    """Every requirement of what the lib holds is met in image + lib for the
    target's markers; image packages that depend on what the lib shadows are
    checked by the lock's scoping rule (``lock_image``: the lock's image
    packages; ``strict``: the lock was made with ``--strict-image``)."""
    findings: list[Finding] = []
    final: dict[str, str | None] = {n: d.version for n, d in target.installed.items()}
    final.update({n: d.version for n, d in lib.dists.items()})  # the lib shadows the image
    here = str(lib.path)

    def need(owner: str, req: Requirement, where: str) -> None:
        name = str(canonicalize_name(req.name))
        if not target.marker_true(req.marker):
            return

        def finding(severity: Severity, code: str, message: str, hint: str) -> None:
            findings.append(Finding(severity, code, owner, where, message, hint))

        if name not in final:
            finding(
                "error",
                "requirement",
                f"the vendored {owner} requires {req}, which neither the lib nor the image has",
                f"Re-lock and vendor so {name} is included (`kbundle lock` then `kbundle vendor`).",
            )
            return
        version = _version(final[name])
        if version is None:
            finding(
                "info",
                "unknown",
                f"{owner} requires {req}; the version of {name} on the target is unknown",
                "Capture the image (`kbundle target capture`) to know its versions.",
            )
            return
        if not req.specifier.contains(version, prereleases=True):
            source = "lib" if name in lib.dists else "image"
            finding(
                "error",
                "requirement",
                f"{owner} requires {req}, but the final environment has {name} {version} "
                f"(from the {source})",
                "Re-lock so both fit (`kbundle lock`), then `kbundle vendor` again.",
            )

    for name, dist in sorted(lib.dists.items()):
        for req in dist.requires:
            need(name, req, f"{here}/{dist.dist_info}")
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
    findings += _image_dependents(lib, target, lock_image=lock_image, strict=strict)
    return findings


def _image_dependents(
    lib: LibContents, target: Target, *, lock_image: Iterable[str], strict: bool
) -> list[Finding]:
    """Image packages whose requirement on a package the lib shadows is not met.

    The rule is the lock's (:mod:`bundler.resolve.shadowing`): an error for those in
    scope (reached from the lib's requirements or the lock's image packages,
    ABI-coupled, preloaded; every one with ``strict``), a warning otherwise.
    """
    shadowed: dict[NormalizedName, Version] = {}
    for name, dist in lib.dists.items():
        version = _version(dist.version)
        if name in target.installed and version is not None:
            shadowed[NormalizedName(name)] = version
    requires: dict[NormalizedName, tuple[Requirement, ...] | None] = {}

    def requires_of(name: NormalizedName) -> tuple[Requirement, ...] | None:
        if name not in requires:
            texts = target.recorded_requires(name)
            requires[name] = None if texts is None else tuple(_parsed(texts))
        return requires[name]

    roots = {NormalizedName(n) for n in lock_image}
    for dist in lib.dists.values():
        roots |= {canonicalize_name(r.name) for r in dist.requires if target.marker_true(r.marker)}
    closure = image_closure(target, roots, requires_of) | {NormalizedName(n) for n in lib.dists}
    findings = []
    for b in find_breaks(
        target,
        shadowed,
        closure=closure,
        requires_of=requires_of,
        strict=strict,
    ):
        if b.follows:
            findings.append(
                Finding(
                    "error",
                    "requirement",
                    b.dependent,
                    f"image:{b.dependent}",
                    f"{b.sentence()} (the lib can load it: {b.scope})",
                    "Re-lock so both fit (`kbundle lock`), then `kbundle vendor` again.",
                )
            )
        else:
            findings.append(
                Finding(
                    "warning",
                    "requirement",
                    b.dependent,
                    f"image:{b.dependent}",
                    b.warning(),
                    "Nothing the lib needs imports it; lock with --strict-image to vendor "
                    "a matching copy anyway.",
                )
            )
    return findings


def _parsed(texts: Iterable[str]) -> Iterable[Requirement]:
    for text in texts:
        try:
            yield Requirement(text)
        except InvalidRequirement:
            continue
