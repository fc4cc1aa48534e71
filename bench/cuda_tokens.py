"""Tokens per second of a vendored CUDA llama-cpp-python, all layers on the GPU.

Run it on a GPU machine (a Kaggle T4 notebook, say) with a lib that
``kbundle vendor`` filled with the CUDA build::

    kbundle vendor llama-cpp-python --build llama-cpp-python --target kaggle-t4 -t lib
    python bench/cuda_tokens.py --lib lib            # or --model some.gguf

It makes the tiny Llama 3 model of ``examples/llama_agent/make_tiny_model.py``
(unless ``--model`` is given), loads it through the lib's bootstrap with every
layer offloaded (``n_gpu_layers=-1``), then with none, and prints both rates.
Without a usable NVIDIA GPU it says why and exits 0: there is nothing to measure.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TINY_MODEL = REPO / "examples" / "llama_agent" / "make_tiny_model.py"

# Runs in a child process so the lib's bootstrap (CUDA preloads, sys.path) owns it.
_MEASURE = """
import json, sys, time
sys.path.insert(0, {lib!r})
import kbundle_boot
import llama_cpp
layers = {layers}
llm = llama_cpp.Llama(model_path={model!r}, n_gpu_layers=layers, n_ctx=512, seed=0, verbose=False)
llm("Warm up", max_tokens=8, temperature=0.0)
start = time.perf_counter()
out = llm("Is it an animal?", max_tokens={tokens}, temperature=0.0)
seconds = time.perf_counter() - start
print(json.dumps({{"tokens": out["usage"]["completion_tokens"], "seconds": seconds,
                  "gpu_offload": bool(llama_cpp.llama_supports_gpu_offload())}}))
"""


def gpu_problem() -> str | None:
    """Why there is no usable CUDA GPU here (None: there is one), asked of the driver."""
    try:
        cuda = ctypes.CDLL("libcuda.so.1")
    except OSError as exc:
        return f"no NVIDIA driver library ({exc})"
    if (code := cuda.cuInit(0)) != 0:
        return f"the driver found no usable GPU (cuInit returned CUDA error {code})"
    count = ctypes.c_int(0)
    if cuda.cuDeviceGetCount(ctypes.byref(count)) != 0 or count.value == 0:
        return "the driver reports no GPU"
    return None


def measure(lib: Path, model: Path, layers: int, tokens: int) -> tuple[int, float, bool]:
    """(tokens generated, seconds, GPU offload supported) for ``layers`` on the GPU."""
    code = _MEASURE.format(lib=str(lib), model=str(model), layers=layers, tokens=tokens)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"measuring with n_gpu_layers={layers} failed:\n{proc.stderr}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    return int(result["tokens"]), float(result["seconds"]), bool(result["gpu_offload"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lib", type=Path, required=True, help="a lib kbundle vendor filled")
    parser.add_argument("--model", type=Path, help="a GGUF (default: make the tiny model)")
    parser.add_argument("--tokens", type=int, default=256, help="tokens to generate")
    args = parser.parse_args(argv)
    problem = gpu_problem()
    if problem is not None:
        print(f"no CUDA GPU on this machine: {problem}; nothing to measure.")
        return 0
    if not (args.lib / "kbundle_boot.py").is_file():
        parser.error(f"{args.lib} is not a kbundle lib (no kbundle_boot.py)")
    with tempfile.TemporaryDirectory(prefix="kbundle-cuda-bench-") as tmp:
        model = args.model
        if model is None:
            model = Path(tmp) / "tiny.gguf"
            subprocess.run([sys.executable, str(TINY_MODEL), "-o", str(model)], check=True)
        gpu = measure(args.lib, model, -1, args.tokens)
        cpu = measure(args.lib, model, 0, args.tokens)
    if not gpu[2]:
        print("warning: this llama-cpp-python cannot offload to the GPU (a CPU build?)")
    print("| layers on the GPU | tokens | seconds | tokens/s |")
    print("| --- | ---: | ---: | ---: |")
    for label, (tokens, seconds, _) in (("all (n_gpu_layers=-1)", gpu), ("none", cpu)):
        print(f"| {label} | {tokens} | {seconds:.2f} | {tokens / seconds:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
