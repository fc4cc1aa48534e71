"""Which offline switches a bundle gets for which locked distributions."""

from __future__ import annotations

from bundler.vendor.offline_env import ALWAYS, offline_env


def test_the_hub_switches_are_always_set() -> None:
    assert offline_env([]) == ALWAYS == {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def test_each_library_adds_its_own_switch_by_canonical_name() -> None:
    env = offline_env(["Datasets", "wandb", "vllm", "Gradio", "evaluate", "numpy"])
    assert env == {
        **ALWAYS,
        "HF_DATASETS_OFFLINE": "1",
        "HF_EVALUATE_OFFLINE": "1",
        "WANDB_MODE": "offline",
        "VLLM_NO_USAGE_STATS": "1",
        "GRADIO_ANALYTICS_ENABLED": "False",
    }
