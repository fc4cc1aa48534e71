"""Which image packages must follow a vendored package that shadows the image's copy.

When the bundle ships a version of ``Y`` over the image's, every image package
``X`` that requires ``Y`` keeps its own requirement, which the new ``Y`` may not
meet. Not all such ``X`` matter: an image package the bundle's code never
imports cannot break it. The *scope* is the image packages the bundle can
actually load or that cannot be separated from ``Y``:

* those in the closure of the user's requirements (reached from them through
  the resolution and, inside the image, through the image packages' own
  requirements);
* those ABI-coupled to ``Y``: they pin one release of it (``==2.10.0``,
  ``===``, or ``~=12.9.4``, which allows patch releases only; a wildcard such
  as ``==26.2.*`` or ``==12.*`` is a compatibility range, not a build
  coupling), or
  they carry native extensions built against ``Y``'s C++ ABI
  (:data:`NATIVE_DEPENDENTS`: torchvision, torchaudio, xformers, … on torch);
* those the host preloads (they run against ``Y`` whatever the user imports).

A broken requirement inside the scope makes ``X`` follow: it is vendored too (or,
when preloaded, the lock fails). Outside the scope it is a warning: do not
import ``X`` together with the bundle. ``strict`` puts every image package in
scope (the whole image stays consistent).

Pure: the requirements of image packages come from a callable, so the caller
decides what is known and what may be fetched.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass

from packaging.requirements import Requirement
from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import Version

from bundler.target.model import Target

#: Image packages whose native extensions are compiled against the named
#: package's C++ ABI: they only work with the build they were compiled with,
#: whatever their metadata says.
NATIVE_DEPENDENTS: Mapping[str, frozenset[str]] = {
    "torch": frozenset(
        {
            "torchvision",
            "torchaudio",
            "torchtext",
            "xformers",
            "flash-attn",
            "torchao",
            "fbgemm-gpu",
            "torch-scatter",
            "torch-sparse",
            "torch-cluster",
            "torch-spline-conv",
            "pytorch3d",
            "apex",
            "mamba-ssm",
            "causal-conv1d",
        }
    ),
    "tensorflow": frozenset(
        {"tensorflow-text", "tensorflow-io", "tensorflow-decision-forests", "tensorflow-addons"}
    ),
    "jaxlib": frozenset({"jax-cuda12-plugin", "jax-cuda13-plugin"}),
}


#: The image's requirements of a package: Requires-Dist strings, or None if unknown.
RequiresOf = Callable[[NormalizedName], "tuple[Requirement, ...] | None"]


@dataclass(frozen=True)
class Break:
    """An image package whose requirement a shadowing version does not meet."""

    dependent: NormalizedName
    dependent_version: str
    requirement: Requirement
    shadowed: NormalizedName
    vendored: Version
    image_version: str
    #: "closure", "abi", "preloaded", "strict", or None when out of scope.
    scope: str | None

    @property
    def follows(self) -> bool:
        return self.scope is not None

    def sentence(self) -> str:
        return (
            f"the image's {self.dependent} {self.dependent_version} requires {self.requirement}, "
            f"but this bundle ships {self.shadowed} {self.vendored} over the image's "
            f"{self.image_version}"
        )

    def warning(self) -> str:
        return f"{self.sentence()}: do not import {self.dependent} with this lib"


def abi_coupled(dependent: NormalizedName, req: Requirement) -> bool:
    """Does ``dependent`` only work with the exact build of ``req``'s project?"""
    name = canonicalize_name(req.name)
    if dependent in NATIVE_DEPENDENTS.get(name, frozenset()):
        return True
    return any(_pins_one_release(s.operator, s.version) for s in req.specifier)


def _pins_one_release(operator: str, version: str) -> bool:
    """``==1.2.3``, ``===x`` or ``~=1.2.3``: one release (patch releases at most)."""
    if operator == "===":
        return True
    release = version.split("+")[0]
    if operator == "==":
        return not release.endswith(".*")
    if operator == "~=":
        return release.count(".") >= 2
    return False


def reachable(
    roots: Iterable[NormalizedName], children: Callable[[NormalizedName], Iterable[NormalizedName]]
) -> set[NormalizedName]:
    """``roots`` and every name reached from them through ``children``."""
    seen: set[NormalizedName] = set()
    todo = list(roots)
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo.extend(child for child in children(name) if child not in seen)
    return seen


def image_closure(
    target: Target, roots: Iterable[NormalizedName], requires_of: RequiresOf
) -> set[NormalizedName]:
    """``roots`` and every image package reached from them through image requirements."""

    def image_children(name: NormalizedName) -> Iterator[NormalizedName]:
        for req in requires_of(name) or ():
            child = canonicalize_name(req.name)
            if child in target.installed and target.marker_true(req.marker):
                yield child

    return reachable((r for r in roots if r in target.installed), image_children)


def find_breaks(
    target: Target,
    shadowed: Mapping[NormalizedName, Version],
    *,
    closure: Collection[NormalizedName],
    requires_of: RequiresOf,
    strict: bool = False,
    only: Collection[NormalizedName] | None = None,
) -> list[Break]:
    """Every image package (of ``only``, if given) whose requirement ``shadowed`` breaks.

    ``shadowed`` maps each vendored name the image also has to the vendored
    version. Requirements are asked of ``requires_of`` only for packages that
    may be in scope (closure, native dependents, preloaded, or every one when
    ``strict``) or whose recorded requirements name a shadowed package
    (:meth:`Target.requirers`, which costs nothing): the rest of a rich image
    is never looked up.
    """
    if not shadowed:
        return []
    candidates: set[str] = set(target.installed) if strict else set(closure)
    candidates |= set(target.preloaded)
    for name in shadowed:
        candidates |= NATIVE_DEPENDENTS.get(name, frozenset()) | target.requirers(name)
    if only is not None:
        candidates &= set(only)
    breaks: list[Break] = []
    for key in sorted(candidates):
        dependent = NormalizedName(key)
        if dependent in shadowed or dependent not in target.installed:
            continue
        for req in requires_of(dependent) or ():
            name = canonicalize_name(req.name)
            if name not in shadowed or not target.marker_true(req.marker):
                continue
            if req.specifier.contains(shadowed[name], prereleases=True):
                continue
            breaks.append(
                Break(
                    dependent=dependent,
                    dependent_version=target.installed[dependent].version or "?",
                    requirement=req,
                    shadowed=name,
                    vendored=shadowed[name],
                    image_version=target.installed[name].version or "?",
                    scope=_scope(target, dependent, req, closure, strict=strict),
                )
            )
            break
    return breaks


def _scope(
    target: Target,
    dependent: NormalizedName,
    req: Requirement,
    closure: Collection[NormalizedName],
    *,
    strict: bool,
) -> str | None:
    if dependent in target.preloaded:
        return "preloaded"
    if dependent in closure:
        return "closure"
    if abi_coupled(dependent, req):
        return "abi"
    if strict:
        return "strict"
    return None
