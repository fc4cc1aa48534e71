"""Killing a real kbundle process half-way through unpacking a wheel (kill -9 tests)."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from tests.helpers.run import REPO


def kill_mid_unpack(code: str, *, after: int, marker: Path, timeout: float) -> None:
    """Run ``code`` in a new interpreter that stops for good after verifying
    ``after`` wheel members, then SIGKILL it there.

    The stop is a patch of the unpacker's per-member check, so the kill lands
    mid-unpack every time; ``marker`` is touched when it is reached. Fails if
    the process ends first or ``timeout`` seconds pass.
    """
    script = textwrap.dedent(
        f"""
            import sys, time
            from pathlib import Path
            import bundler.vendor.unpack as unpack
            original = unpack._CheckedStream.matches
            seen = []
            def matches(self):
                seen.append(1)
                if len(seen) == {after}:
                    Path({str(marker)!r}).touch()
                    time.sleep(600)
                return original(self)
            unpack._CheckedStream.matches = matches
            """
    ) + textwrap.dedent(code)
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=REPO)
    try:
        deadline = time.monotonic() + timeout
        while not marker.exists():
            assert proc.poll() is None, "the process ended before it was half-way"
            assert time.monotonic() < deadline
            time.sleep(0.01)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
