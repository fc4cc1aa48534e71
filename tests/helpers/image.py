"""A venv that plays the target image, and its capture as a kbundle target file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.helpers.run import run_cli


def image_venv(root: Path, packages: dict[str, str], *, pip: bool = False) -> Path:
    """A venv under ``root/image`` holding tiny stand-ins of ``packages`` (and pip
    if asked); returns its interpreter."""
    venv = root / "image"
    base = getattr(sys, "_base_executable", sys.executable)
    flags = [] if pip else ["--without-pip"]
    subprocess.run([base, "-m", "venv", *flags, str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(
        subprocess.run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    )
    for name, version in packages.items():
        (site / f"{name}.py").write_text(f"SOURCE = 'image'\nVERSION = {version!r}\n")
        info = site / f"{name}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        (info / "INSTALLER").write_text("image\n")
        (info / "RECORD").write_text(f"{name}.py,,\n")
    return python


def capture(python: Path, out: Path) -> Path:
    """``kbundle target capture --python PYTHON -o OUT``, asserted to succeed."""
    res = run_cli("target", "capture", "--python", str(python), "-o", str(out))
    assert res.exit_code == 0, res.stderr
    return out
