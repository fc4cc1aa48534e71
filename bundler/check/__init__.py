"""``kbundle check``: a lock and a lib against the target image, from files alone.

Each check is a pure function from inputs to :class:`Finding` values; this
module picks the ones the given inputs allow and collects every finding
before anything is reported (validate fully, report once).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bundler.check.drift import check_drift
from bundler.check.environment import check_environment
from bundler.check.findings import Finding, exit_code, sort_findings
from bundler.check.libscan import scan_lib
from bundler.check.native import check_native
from bundler.check.size import check_size
from bundler.lock.model import Lock
from bundler.target.manifest import Manifest
from bundler.target.model import Target

__all__ = ["CheckInputs", "Finding", "exit_code", "run_checks"]


@dataclass(frozen=True)
class CheckInputs:
    """Any subset of a lock, a lib folder, a target and an image manifest."""

    target: Target
    lock: Lock | None = None
    lock_file: str | None = None
    lib: Path | None = None
    manifest: Manifest | None = None
    manifest_source: str | None = None


def _lock_vs_lib(
    lock: Lock,
    lock_file: str,
    lib_dists: dict[str, str],
    lib: Path,
    record: dict[str, Any] | None = None,
) -> list[Finding]:
    findings = []
    vendored_for = (record or {}).get("requirements")
    if isinstance(vendored_for, list) and sorted(map(str, vendored_for)) != sorted(
        lock.requirements
    ):
        findings.append(
            Finding(
                "error",
                "lib-stale",
                None,
                str(lib),
                "the lib was vendored for "
                + (", ".join(sorted(map(str, vendored_for))) or "no requirements")
                + f", but {lock_file} is locked for "
                + (", ".join(sorted(lock.requirements)) or "no requirements"),
                f"Run `kbundle vendor --lock {lock_file} -t {lib}` again, or check the lib "
                "against the lock it came from (--lock).",
            )
        )
    for package in lock.vendored:
        have = lib_dists.get(package.name)
        if have == package.version:
            continue
        state = f"has {have}" if have else "does not have it"
        findings.append(
            Finding(
                "error",
                "lib-stale",
                package.name,
                str(lib),
                f"the lock vendors {package.name} {package.version}, but the lib {state}",
                f"Run `kbundle vendor --lock {lock_file} -t {lib}` again.",
            )
        )
    return findings


def run_checks(inputs: CheckInputs) -> list[Finding]:
    """Every finding the inputs allow, sorted (errors first)."""
    findings: list[Finding] = []
    target = inputs.target
    lock, lock_file = inputs.lock, inputs.lock_file or "the lock"
    if lock is not None and inputs.manifest is not None:
        findings += check_drift(
            lock, lock_file, inputs.manifest, inputs.manifest_source or "the manifest"
        )
    elif lock is not None and lock.target_fingerprint != target.fingerprint:
        findings.append(
            Finding(
                "warning",
                "stale-target",
                None,
                lock_file,
                f"the lock was made for target {lock.target_name} ({lock.target_fingerprint}); "
                f"{target.name} is now {target.fingerprint}",
                f"Re-lock with `kbundle lock -o {lock_file}`.",
            )
        )
    if inputs.lib is not None:
        contents = scan_lib(inputs.lib)
        findings += check_environment(
            contents,
            target,
            lock_image=[p.name for p in lock.image] if lock is not None else (),
            strict=bool(lock is not None and lock.extra.get("strict-image")),
        )
        findings += check_native(inputs.lib, target)
        findings += check_size(inputs.lib, target)
        if lock is not None:
            versions = {n: d.version for n, d in contents.dists.items()}
            findings += _lock_vs_lib(lock, lock_file, versions, inputs.lib, contents.record)
    return sort_findings(findings)
