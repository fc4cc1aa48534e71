"""The environment variables that keep a bundle's libraries off the network.

A scoring notebook or agent runs with the internet off. Libraries that look
things up online by default (the Hugging Face Hub for a model id, a usage
report, an experiment tracker) then hang on retries or fail with a confusing
error; in offline mode they fail at once, saying the file is not in the local
cache, or work from local files. ``kbundle_boot`` sets these variables at
activation, each only when it is not already set, so a user's own choice wins.

Each entry is the library's documented switch, read where the library reads
it (see the comments); nothing is set for a library the lock does not hold,
except the Hub pair, which nearly every model library in an image reads.
"""

from __future__ import annotations

from collections.abc import Iterable

from packaging.utils import canonicalize_name

__all__ = ["ALWAYS", "BY_DISTRIBUTION", "offline_env"]

#: Set in every bundle: huggingface_hub's switch (``constants.HF_HUB_OFFLINE``,
#: which the libraries that download through it follow: transformers,
#: diffusers, sentence-transformers, peft, timm, vllm ...) and transformers' own
#: older one (``TRANSFORMERS_OFFLINE``, still honoured by transformers 4.x).
ALWAYS: dict[str, str] = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}

#: Distribution (canonical name) -> variables, set when the lock holds it.
BY_DISTRIBUTION: dict[str, dict[str, str]] = {
    # datasets.config: HF_DATASETS_OFFLINE (older releases ignore HF_HUB_OFFLINE).
    "datasets": {"HF_DATASETS_OFFLINE": "1"},
    # evaluate.config: HF_EVALUATE_OFFLINE (metrics are loaded from the Hub by name).
    "evaluate": {"HF_EVALUATE_OFFLINE": "1"},
    # wandb: WANDB_MODE=offline logs to ./wandb and never dials out (wandb sync later).
    "wandb": {"WANDB_MODE": "offline"},
    # vllm.usage.usage_lib: VLLM_NO_USAGE_STATS=1 stops the usage report it sends on start.
    "vllm": {"VLLM_NO_USAGE_STATS": "1"},
    # gradio.analytics: GRADIO_ANALYTICS_ENABLED must be exactly "True" to report.
    "gradio": {"GRADIO_ANALYTICS_ENABLED": "False"},
}


def offline_env(distributions: Iterable[str]) -> dict[str, str]:
    """The variables for a bundle whose lock holds ``distributions``."""
    env = dict(ALWAYS)
    for name in sorted({str(canonicalize_name(n)) for n in distributions}):
        env.update(BY_DISTRIBUTION.get(name, {}))
    return env
