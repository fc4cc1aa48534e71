"""The example GitHub Actions workflow is valid and runs what the README documents."""

from __future__ import annotations

from pathlib import Path

import yaml

from tests.helpers.run import REPO

WORKFLOW = REPO / ".github" / "workflows" / "kbundle-check.yml"


def _run_lines(doc: dict[object, object]) -> list[str]:
    lines = []
    for job in doc["jobs"].values():  # type: ignore[attr-defined]
        for step in job["steps"]:
            for line in str(step.get("run", "")).splitlines():
                if "kbundle" in line:
                    lines.append(line.strip())
    return lines


def test_workflow_is_valid_yaml_with_a_check_job() -> None:
    doc = yaml.safe_load(WORKFLOW.read_text())
    assert doc["name"] == "kbundle check"
    assert {"push", "pull_request", "schedule"} <= set(doc[True])  # YAML 1.1 reads `on` as True
    steps = doc["jobs"]["check"]["steps"]
    assert steps[0]["uses"].startswith("actions/checkout@")


def test_workflow_commands_are_documented_in_the_readme() -> None:
    readme = (REPO / "README.md").read_text()
    doc = yaml.safe_load(WORKFLOW.read_text())
    lines = _run_lines(doc)
    assert any(line.startswith("kbundle check --lock") for line in lines)
    for line in lines:
        assert line in readme, f"README does not show: {line}"


def test_documented_check_options_exist() -> None:
    from click.testing import CliRunner

    from bundler.cli import cli

    help_text = CliRunner().invoke(cli, ["check", "--help"]).output
    for option in ("--lock", "--manifest", "--lib", "--target", "--json", "--strict"):
        assert option in help_text
    assert Path(WORKFLOW).is_file()
