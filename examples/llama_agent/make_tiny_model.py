"""Build a tiny random-weight Llama 3 GGUF, offline and deterministically.

The file has the real Llama 3 tokenizer (128256 tokens, its merges and special
tokens such as ``<|begin_of_text|>`` and ``<|eot_id|>``), the Llama 3 chat
template, and a 2-layer, 64-wide Llama body with Q8_0-quantized matrices and
random weights. It is about 25 MB, builds in a few seconds, loads in llama.cpp
like a real Llama 3 8B Instruct GGUF (same architecture, tokenizer and tensor
types) and generates hundreds of tokens per second on a CPU: good for playing
the agent end to end without the 8.5 GB model. It talks nonsense, of course.

The tokenizer comes from ``vendor/llama.cpp/models/ggml-vocab-llama-bpe.gguf``,
the vocab-only GGUF shipped inside every llama-cpp-python sdist::

    python make_tiny_model.py --sdist llama_cpp_python-0.3.36.tar.gz -o model.gguf
    python make_tiny_model.py --vocab ggml-vocab-llama-bpe.gguf -o model.gguf
    python make_tiny_model.py   # finds the sdist in kbundle's cache

Same vocab, seed and gguf package → byte-identical output.
Needs ``gguf`` >= 0.17 and numpy (``pip install gguf``); tested with gguf 0.17.0 and
0.19.0, which write the same bytes.
"""

from __future__ import annotations

import argparse
import inspect
import os
import struct
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

import gguf
import numpy as np

VOCAB_MEMBER = "vendor/llama.cpp/models/ggml-vocab-llama-bpe.gguf"

# The chat template of Meta-Llama-3-8B-Instruct (tokenizer_config.json), verbatim.
LLAMA3_CHAT_TEMPLATE = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}"
    "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\n\n'"
    "+ message['content'] | trim + '<|eot_id|>' %}"
    "{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}"
    "{{ content }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}"
    "{% endif %}"
)

# The body. Q8_0 packs rows in blocks of 32 values, so every matrix's row
# length (the numpy array's LAST axis: n_embd or n_ff) must be a multiple of 32.
N_EMBD = 64
N_HEAD = 4
N_HEAD_KV = 2  # grouped-query attention, as in Llama 3 (8 KV heads for 32)
N_LAYER = 2
N_FF = 192
CONTEXT_LENGTH = 8192
ROPE_FREQ_BASE = 500000.0
RMS_EPS = 1e-5


def kbundle_cache_dir() -> Path:
    """kbundle's cache directory, computed without importing kbundle."""
    if os.environ.get("KBUNDLE_CACHE_DIR"):
        return Path(os.environ["KBUNDLE_CACHE_DIR"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "kbundle"


def find_sdist(cache: Path | None = None) -> Path | None:
    """The newest-named ``llama_cpp_python-*.tar.gz`` in kbundle's cache, if any."""
    root = cache or kbundle_cache_dir()
    found = sorted(root.glob("**/llama_cpp_python-*.tar.gz")) if root.is_dir() else []
    return found[-1] if found else None


def extract_vocab(sdist: Path, dest: Path) -> Path:
    """Copy the vocab-only GGUF out of a llama-cpp-python sdist into ``dest``."""
    with tarfile.open(sdist, "r:gz") as tar:
        for member in tar:
            if member.isfile() and member.name.endswith("/" + VOCAB_MEMBER):
                source = tar.extractfile(member)
                assert source is not None
                out = dest / Path(VOCAB_MEMBER).name
                out.write_bytes(source.read())
                return out
    raise FileNotFoundError(f"{VOCAB_MEMBER} is not in {sdist}")


# GGUF metadata value types (gguf.GGUFValueType) → struct format of a scalar.
_SCALAR_FORMATS = {
    0: "B",
    1: "b",
    2: "H",
    3: "h",
    4: "I",
    5: "i",
    6: "f",
    7: "?",
    10: "Q",
    11: "q",
    12: "d",
}
_STRING, _ARRAY = 8, 9


def read_metadata(path: Path) -> dict[str, tuple[Any, gguf.GGUFValueType, Any]]:
    """Every metadata key of a (little-endian) GGUF file: value, type, element type.

    Why not ``gguf.GGUFReader``: it builds a numpy view per array element and
    takes ~10 s on the 400k strings of the Llama 3 vocab; this takes well under
    one. Values keep their exact GGUF types (``token_type`` stays an INT32
    array, the token ids UINT32, strings stay raw bytes), because llama.cpp
    checks the types and the writer would otherwise guess them from Python values.
    """
    data = path.read_bytes()
    if data[:4] != b"GGUF":
        raise ValueError(f"{path} is not a GGUF file")
    offset = 24  # magic, uint32 version, uint64 tensor count, uint64 kv count

    def take(fmt: str) -> Any:
        nonlocal offset
        (value,) = struct.unpack_from("<" + fmt, data, offset)
        offset += struct.calcsize(fmt)
        return value

    def take_string() -> bytes:
        nonlocal offset
        size = take("Q")
        offset += size
        return data[offset - size : offset]

    def take_value(vtype: int) -> Any:
        nonlocal offset
        if vtype == _STRING:
            return take_string()
        if vtype != _ARRAY:
            return take(_SCALAR_FORMATS[vtype])
        sub, count = take("I"), take("Q")
        if sub in (_STRING, _ARRAY):
            return [take_value(sub) for _ in range(count)]
        dtype = np.dtype("<" + _SCALAR_FORMATS[sub])
        items = np.frombuffer(data, dtype=dtype, count=count, offset=offset).tolist()
        offset += dtype.itemsize * count
        return items

    metadata = {}
    for _ in range(struct.unpack_from("<Q", data, 16)[0]):
        key = take_string().decode()
        vtype = take("I")
        sub = struct.unpack_from("<I", data, offset)[0] if vtype == _ARRAY else None
        value = take_value(vtype)
        metadata[key] = (
            value,
            gguf.GGUFValueType(vtype),
            None if sub is None else gguf.GGUFValueType(sub),
        )
    return metadata


def _quantized(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """A random matrix, Q8_0-quantized.

    ``shape`` is numpy's (rows, row_length): the REVERSE of ggml's ne order, so
    ggml's token_embd [n_embd, n_vocab] is numpy (n_vocab, n_embd). The writer
    turns the uint8 byte array back into the logical shape from the Q8_0 type.
    """
    weights = rng.standard_normal(shape, dtype=np.float32) * np.float32(0.02)
    return gguf.quants.quantize(weights, gguf.GGMLQuantizationType.Q8_0)


def build(vocab: Path, out: Path, seed: int = 0) -> Path:
    """Write the tiny model to ``out`` (atomically) and return it."""
    if "sub_type" not in inspect.signature(gguf.GGUFWriter.add_key_value).parameters:
        raise RuntimeError("make_tiny_model.py needs gguf >= 0.17: pip install -U gguf")
    tokenizer_kv = {k: v for k, v in read_metadata(vocab).items() if k.startswith("tokenizer.")}
    n_vocab = len(tokenizer_kv["tokenizer.ggml.tokens"][0])
    head_dim = N_EMBD // N_HEAD

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    writer = gguf.GGUFWriter(tmp, "llama")  # writes general.architecture = "llama"
    writer.add_name("tiny-random-llama3")
    writer.add_context_length(CONTEXT_LENGTH)
    writer.add_embedding_length(N_EMBD)
    writer.add_block_count(N_LAYER)
    writer.add_feed_forward_length(N_FF)
    writer.add_head_count(N_HEAD)
    writer.add_head_count_kv(N_HEAD_KV)
    writer.add_layer_norm_rms_eps(RMS_EPS)
    writer.add_rope_freq_base(ROPE_FREQ_BASE)
    writer.add_rope_dimension_count(head_dim)
    writer.add_vocab_size(n_vocab)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_Q8_0)
    for key, (value, vtype, sub) in tokenizer_kv.items():
        if key != gguf.Keys.Tokenizer.CHAT_TEMPLATE:
            writer.add_key_value(key, value, vtype, sub)
    writer.add_chat_template(LLAMA3_CHAT_TEMPLATE)

    # Tensors in a fixed order from one seeded generator: same seed → same bytes.
    # Norm weights stay F32: llama.cpp multiplies them element-wise and expects F32.
    rng = np.random.default_rng(seed)
    n_kv = head_dim * N_HEAD_KV
    ones = np.ones(N_EMBD, dtype=np.float32)
    q8 = gguf.GGMLQuantizationType.Q8_0
    writer.add_tensor("token_embd.weight", _quantized(rng, (n_vocab, N_EMBD)), raw_dtype=q8)
    for i in range(N_LAYER):
        blk = f"blk.{i}."
        writer.add_tensor(blk + "attn_norm.weight", ones)
        writer.add_tensor(blk + "attn_q.weight", _quantized(rng, (N_EMBD, N_EMBD)), raw_dtype=q8)
        writer.add_tensor(blk + "attn_k.weight", _quantized(rng, (n_kv, N_EMBD)), raw_dtype=q8)
        writer.add_tensor(blk + "attn_v.weight", _quantized(rng, (n_kv, N_EMBD)), raw_dtype=q8)
        writer.add_tensor(
            blk + "attn_output.weight", _quantized(rng, (N_EMBD, N_EMBD)), raw_dtype=q8
        )
        writer.add_tensor(blk + "ffn_norm.weight", ones)
        writer.add_tensor(blk + "ffn_gate.weight", _quantized(rng, (N_FF, N_EMBD)), raw_dtype=q8)
        writer.add_tensor(blk + "ffn_up.weight", _quantized(rng, (N_FF, N_EMBD)), raw_dtype=q8)
        writer.add_tensor(blk + "ffn_down.weight", _quantized(rng, (N_EMBD, N_FF)), raw_dtype=q8)
    writer.add_tensor("output_norm.weight", ones)
    writer.add_tensor("output.weight", _quantized(rng, (n_vocab, N_EMBD)), raw_dtype=q8)

    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    tmp.replace(out)
    return out


def main(argv: list[str] | None = None) -> int:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--vocab", type=Path, help="a vocab-only Llama 3 GGUF")
    source.add_argument("--sdist", type=Path, help="a llama_cpp_python-*.tar.gz to take it from")
    parser.add_argument("-o", "--output", type=Path, default=Path("model.gguf"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    started = time.monotonic()
    with tempfile.TemporaryDirectory() as scratch:
        vocab = args.vocab
        if vocab is None:
            sdist = args.sdist or find_sdist()
            if sdist is None:
                parser.error(
                    f"no llama_cpp_python-*.tar.gz in {kbundle_cache_dir()}: pass --vocab or "
                    "--sdist (`pip download --no-deps --no-binary :all: llama-cpp-python`)"
                )
            vocab = extract_vocab(sdist, Path(scratch))
        out = build(vocab, args.output, seed=args.seed)
    size_mb = out.stat().st_size / 1e6
    print(f"wrote {out} ({size_mb:.1f} MB) in {time.monotonic() - started:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
