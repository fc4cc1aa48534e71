"""The presets beyond Kaggle that both the source checks and the CLI tests name."""

from __future__ import annotations

LAMBDA = ("aws-lambda-py312-x86_64", "aws-lambda-py312-arm64")
SERVERS = ("manylinux_2_28-py312-x86_64", "manylinux_2_28-py312-aarch64")
# boto3's Requires-Dist closure (boto3, botocore, s3transfer, python-dateutil on PyPI).
BOTO3_CLOSURE = {"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "urllib3", "six"}
