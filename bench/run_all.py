"""Run every benchmark in turn: lock, vendor, then the profile of kbundle.

    .venv/bin/python bench/run_all.py

Each script prints its Markdown report; they are kept in $KBUNDLE_BENCH_DIR.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    failed = []
    for script in ("lock.py", "vendor.py", "profile_kbundle.py"):
        print(f"\n######## {script}\n", flush=True)
        if subprocess.run(
            [sys.executable, str(HERE / script), *sys.argv[1:]], check=False
        ).returncode:
            failed.append(script)
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
