"""What activating a vendored lib costs: the import time of ``kbundle_boot``.

Run from the repository root after the README's set-up:

    .venv/bin/python bench/bootstrap.py [--python PYTHON] [--repeats 20]

It renders ``kbundle_boot.py`` into a small lib (one shadowed package, a
``.pth`` file, an environment variable: the work activation does on every
start), then times ``import kbundle_boot`` in fresh interpreters and prints
the median and the slowest, in milliseconds. The goal is well under 20 ms.
This is a measurement, not a test: it asserts nothing about the figure.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bundler.vendor.bootstrap import BootInfo, Shadowed, render_bootstrap

_TIMED = """
import json, sys, time
sys.path.insert(0, {lib!r})
started = time.perf_counter()
import kbundle_boot
print(json.dumps({{"ms": (time.perf_counter() - started) * 1000}}))
"""


def make_lib(root: Path) -> Path:
    """A lib with a shadowed package, a ``.pth`` folder and kbundle_boot.py."""
    lib = root / "lib"
    (lib / "imgpkg").mkdir(parents=True)
    (lib / "imgpkg" / "__init__.py").write_text("VERSION = 'vendored'\n")
    info = lib / "imgpkg-2.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: imgpkg\nVersion: 2.0\n")
    (lib / "extra_dir").mkdir()
    (lib / "extra.pth").write_text("extra_dir\n")
    boot = BootInfo(
        "sha256:bench",
        shadowed={"imgpkg": Shadowed("2.0", "1.0", ("imgpkg",))},
        env={"KB_X": "{lib}"},
    )
    (lib / "kbundle_boot.py").write_bytes(render_bootstrap(boot))
    return lib


def time_activation(python: str, lib: Path, repeats: int) -> list[float]:
    """Milliseconds ``import kbundle_boot`` took, one fresh interpreter per sample."""
    # Without the caller's PYTHON* variables: an inherited PYTHONPATH would
    # change what the interpreter imports at start-up.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "KBUNDLE_"))}
    samples = []
    for _ in range(repeats):
        proc = subprocess.run(
            [python, "-c", _TIMED.format(lib=str(lib))],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=True,
        )
        samples.append(float(json.loads(proc.stdout.strip().splitlines()[-1])["ms"]))
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--python", default=sys.executable, help="the image's interpreter")
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kbundle-bench-boot-") as tmp:
        lib = make_lib(Path(tmp))
        samples = time_activation(args.python, lib, args.repeats)
    print(
        f"kbundle_boot activation ({args.python}, {len(samples)} runs): "
        f"median {statistics.median(samples):.2f} ms, slowest {max(samples):.2f} ms"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
