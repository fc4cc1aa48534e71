"""The wheelhouse's requirements.txt (the CLI's side: tests/cli/test_wheelhouse.py)."""

from __future__ import annotations

from bundler.lock.model import Lock, LockedPackage
from bundler.vendor.wheelhouse import WheelhouseWheel, install_command, render_requirements


def _lock() -> Lock:
    return Lock(
        target_name="kaggle-t4",
        target_fingerprint="sha256:abc",
        requires_python="==3.12.*",
        marker="",
        requirements=("app",),
        packages=(
            LockedPackage("app", "1.0", "vendor"),
            LockedPackage("numpy", "2.1.0", "vendor", shadows="1.26.4"),
            LockedPackage("jinja2", "3.1.4", "image"),
        ),
        kbundle_version="0.1.0",
    )


def test_requirements_pin_every_wheel_to_its_file_hash() -> None:
    wheels = [
        WheelhouseWheel("app", "1.0", "build", "app-1.0-py3-none-any.whl", "a" * 64, 10),
        WheelhouseWheel("numpy", "2.1.0", "vendor", "numpy-2.1.0-cp312.whl", "b" * 64, 20),
    ]
    text = render_requirements(wheels, _lock(), install_command("/kaggle/input/x/wheels"))
    assert text.startswith("# kbundle wheelhouse")
    assert "#    pip install --no-index --find-links /kaggle/input/x/wheels " in text
    assert f"app==1.0 \\\n    --hash=sha256:{'a' * 64}\n    # built from source" in text
    assert f"numpy==2.1.0 \\\n    --hash=sha256:{'b' * 64}\n" in text
    assert "# replaces the image's numpy==1.26.4" in text
    requirement_lines = [line for line in text.splitlines() if line and line[0].isalpha()]
    assert requirement_lines == ["app==1.0 \\", "numpy==2.1.0 \\"]  # the image's jinja2: not
    assert "#   jinja2==3.1.4" in text
