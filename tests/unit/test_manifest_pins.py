"""Tests for bundler.target.manifest.pins: KEY_VERSION=value pins as a manifest."""

from __future__ import annotations

from tests.helpers.manifest import SRC, parse_error, versions


def test_pins_document() -> None:
    text = (
        "## config.txt\n"
        "BASE_IMAGE_TAG=m114\n"
        "GPU_BASE_IMAGE_NAME=tf2-gpu.2-15.py310\n"
        "TORCH_VERSION=2.1.2\n"
        "TORCHVISION_VERSION=0.16.2\n"
        "CUDA_MAJOR_VERSION=12\n"
        "PYTHON_VERSION=3.10\n"
        "Some prose about the image.\n"
        "ENV PYTORCH_BUILD_VERSION=$PACKAGE_VERSION\n"
        "43:ENV TENSORFLOW_IO_VERSION=0.35.0\n"
        'ARG JAX_VERSION="0.4.26"\n'
        "## later revision\n"
        "TORCH_VERSION=2.4.0\n"
    )
    assert versions(text) == {
        "jax": "0.4.26",
        "tensorflow-io": "0.35.0",
        "torch": "2.4.0",  # the later value overrides
        "torchvision": "0.16.2",
    }


def test_pin_lines_in_a_freeze_file_are_errors() -> None:
    error = parse_error("numpy==2.0.2\nTORCH_VERSION=2.1.2\n")
    assert str(error).startswith(f"{SRC}:2: cannot read 'TORCH_VERSION=2.1.2'")
