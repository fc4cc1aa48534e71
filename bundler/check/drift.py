"""Drift: the image a lock was made for versus the image as it is now."""

from __future__ import annotations

from bundler.check.findings import Finding
from bundler.lock.model import Lock
from bundler.target.manifest import Manifest


def check_drift(
    lock: Lock, lock_file: str, manifest: Manifest, manifest_source: str
) -> list[Finding]:
    """Image-provided packages of the lock whose version changed or that are gone.

    Either way the lock is stale: what it leaves to the image may no longer be
    what the image has.
    """
    relock = f"kbundle lock --manifest {manifest_source} -o {lock_file}"
    findings = []
    for package in lock.image:
        now = manifest.get(package.name)
        if now is None:
            detail = (
                f"the lock takes {package.name} {package.version} from the image, but "
                f"{manifest_source} does not have it any more"
            )
        elif now.version != package.version:
            detail = (
                f"the lock takes {package.name} {package.version} from the image, but "
                f"{manifest_source} has {now.version or 'an unknown version'}"
            )
        else:
            continue
        findings.append(
            Finding(
                "error",
                "drift",
                package.name,
                lock_file,
                detail,
                f"The lock is stale: re-lock with `{relock}`.",
            )
        )
    return findings
