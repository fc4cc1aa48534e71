"""The LLM 20 Questions example in examples/llama_agent.

Without extra packages: the agent's fallbacks and time budget against fake
models, and the local game runner's rules. With ``gguf`` and numpy: the tiny
Llama 3 GGUF builder. With ``llama_cpp`` as well: full games on the tiny model.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import itertools
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
from packaging.version import Version

from bundler.cache import cache_dir
from tests.helpers.run import REPO

EXAMPLE = REPO / "examples" / "llama_agent"
# The conftest points KBUNDLE_CACHE_DIR at a temporary folder for every test:
# remember the real cache now, where a llama-cpp-python sdist may already be.
REAL_CACHE = cache_dir()
LLAMA_SDIST_PIN = "llama-cpp-python==0.3.36"
_counter = itertools.count()


@pytest.fixture(autouse=True)
def _stub_lib(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """main.py activates a kbundle lib first thing: give it an empty one."""
    lib = tmp_path / "stub-lib"
    lib.mkdir()
    (lib / "kbundle_boot.py").write_text("")
    monkeypatch.setenv("KBUNDLE_LIB", str(lib))
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delitem(sys.modules, "kbundle_boot", raising=False)


def load_example(name: str) -> ModuleType:
    """A fresh copy of examples/llama_agent/<name>.py (fresh model cache too)."""
    spec = importlib.util.spec_from_file_location(
        f"llama_agent_{name}_{next(_counter)}", EXAMPLE / f"{name}.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class FakeLlama:
    """Stands in for ``llama_cpp.Llama``: scripted replies, word by word.

    ``word_seconds`` is the time per generated word (the deadline's stopping
    criterion is asked after each); ``hang`` sleeps before generating while
    ignoring the deadline, like a long prompt evaluation; ``error`` is raised.
    """

    def __init__(
        self,
        *replies: str,
        word_seconds: float = 0.0,
        hang: float = 0.0,
        error: Exception | None = None,
    ) -> None:
        self.replies = list(replies)
        self.word_seconds = word_seconds
        self.hang = hang
        self.error = error
        self.prompts: list[str] = []
        self.calls: list[dict[str, Any]] = []
        self.generated: list[int] = []  # words produced by each completion

    def tokenize(self, text: bytes, add_bos: bool = True, special: bool = False) -> list[int]:
        assert add_bos is False  # the prompt carries its own <|begin_of_text|>
        assert special is True  # ...and the other special tokens, as tokens
        self.prompts.append(text.decode())
        return list(range(len(text) // 4 + 1))

    def create_completion(self, prompt: list[int], **kwargs: Any) -> dict[str, Any]:
        self.calls.append(kwargs)
        if self.error is not None:
            raise self.error
        time.sleep(self.hang)
        reply = self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]
        words: list[str] = []
        for word in reply.split(" ")[: kwargs["max_tokens"]]:
            time.sleep(self.word_seconds)
            words.append(word)
            if kwargs["stopping_criteria"](None, None):
                break
        self.generated.append(len(words))
        return {"choices": [{"text": " ".join(words)}]}


@pytest.fixture
def main() -> ModuleType:
    """examples/llama_agent/main.py, imported afresh, with a 2 s move budget."""
    module = load_example("main")
    module.MOVE_SECONDS = 2.0
    module.GRACE_SECONDS = 0.5
    return module


@pytest.fixture(scope="module")
def play() -> ModuleType:
    return load_example("play")


def use_model(main: ModuleType, llm: Any) -> list[int]:
    """Make ``main`` load ``llm``; the returned list counts the loads."""
    loads: list[int] = []

    def load() -> Any:
        loads.append(1)
        if isinstance(llm, Exception):
            raise llm
        return llm

    main._load_model = load
    return loads


def wait_until_idle(main: ModuleType, timeout: float = 10.0) -> None:
    """Wait for a worker that outlived its move to release the model."""
    deadline = time.monotonic() + timeout
    while main._model_lock.locked():
        assert time.monotonic() < deadline, "the model stayed busy"
        time.sleep(0.02)


def obs(turn: str, **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"turnType": turn, "questions": [], "answers": [], "guesses": []}
    return base | fields


# --- the agent ---------------------------------------------------------------


def test_agent_is_the_last_callable_as_kaggle_loads_it(play: ModuleType) -> None:
    for with_file in (True, False):
        agent = play.load_agent(EXAMPLE / "main.py", with_file=with_file)
        assert agent.__name__ == "agent"


def test_ask_uses_the_models_question_in_the_llama3_template(main: ModuleType) -> None:
    llm = FakeLlama("Is it a kitchen appliance? Or maybe a tool?\nmore")
    use_model(main, llm)
    move = main.agent(obs("ask", questions=["Is it alive?"], answers=["no"]), None)
    assert move == "Is it a kitchen appliance?"
    prompt = llm.prompts[-1]
    assert prompt.startswith("<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n")
    assert prompt.count("<|begin_of_text|>") == 1
    assert "<|eot_id|><|start_header_id|>user<|end_header_id|>\n\n" in prompt
    assert prompt.endswith("<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n")
    assert "Q: Is it alive? A: no" in prompt
    assert llm.calls[-1]["max_tokens"] == main.MAX_TOKENS["ask"]


@pytest.mark.parametrize(
    "reply",
    ["", "Hmm, let me think about that one", "Is it alive?", "IS IT ALIVE?", "?"],
)
def test_ask_falls_back_to_an_unasked_generic_question(main: ModuleType, reply: str) -> None:
    use_model(main, FakeLlama(reply))
    asked = ["Is it alive?", main.FALLBACK_QUESTIONS[0]]
    move = main.agent(obs("ask", questions=asked, answers=["no", "no"]), None)
    assert move == main.FALLBACK_QUESTIONS[1]


def test_ask_never_repeats_even_after_every_generic_question(main: ModuleType) -> None:
    use_model(main, FakeLlama(""))
    asked = list(main.FALLBACK_QUESTIONS)
    move = main.agent(obs("ask", questions=asked, answers=["no"] * len(asked)), None)
    assert move.strip()
    assert move not in asked
    assert len(move) <= 750


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("Yes.", "yes"),
        ("no, it is not", "no"),
        ("**NO**", "no"),
        ("Answer: yes", "yes"),
        ("I'm not sure", "no"),
        ("", "no"),
    ],
)
def test_answer_is_yes_or_no(main: ModuleType, reply: str, expected: str) -> None:
    use_model(main, FakeLlama(reply))
    move = main.agent(obs("answer", questions=["Is it metal?"], keyword="anvil"), None)
    assert move == expected


def test_answer_fallback_says_yes_when_the_question_names_the_keyword(main: ModuleType) -> None:
    use_model(main, FakeLlama("maybe"))
    assert main.agent(obs("answer", questions=["Is it an Anvil?"], keyword="anvil"), None) == "yes"


def test_answer_prompt_names_keyword_and_category(main: ModuleType) -> None:
    llm = FakeLlama("yes")
    use_model(main, llm)
    main.agent(obs("answer", questions=["Is it heavy?"], keyword="anvil", category="things"), None)
    assert '"anvil" (category: things)' in llm.prompts[-1]
    assert llm.calls[-1]["temperature"] == 0.0


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ('The keyword is: "Eiffel Tower".', "Eiffel Tower"),
        ("**teapot**\nBecause it is used in the kitchen.", "teapot"),
        ("Guess: anvil", "anvil"),
        ("", "phone"),
        ("car", "phone"),  # already guessed
        ("I have no idea what it could possibly be at this point", "phone"),
        ("!!!", "phone"),
    ],
)
def test_guess_is_one_short_clean_line(main: ModuleType, reply: str, expected: str) -> None:
    use_model(main, FakeLlama(reply))
    move = main.agent(obs("guess", questions=["Q?"], answers=["no"], guesses=["car"]), None)
    assert move == expected
    assert len(move) <= 100
    assert "\n" not in move
    assert '"' not in move


def test_observation_as_an_object(main: ModuleType) -> None:
    use_model(main, FakeLlama("Yes"))
    o = SimpleNamespace(turnType="answer", questions=["Is it heavy?"], answers=[], guesses=[])
    o.keyword, o.category = "anvil", "things"
    assert main.agent(o, None) == "yes"


def test_missing_model_is_loaded_once_and_every_move_is_valid(main: ModuleType) -> None:
    loads = use_model(main, FileNotFoundError("no model"))
    assert main.agent(obs("ask"), None) == main.FALLBACK_QUESTIONS[0]
    assert main.agent(obs("guess", questions=["Q?"], answers=["no"]), None) == "phone"
    assert main.agent(obs("answer", questions=["Is it big?"], keyword="x"), None) == "no"
    assert loads == [1]


def test_generation_error_falls_back(main: ModuleType) -> None:
    use_model(main, FakeLlama(error=RuntimeError("llama_decode returned -1")))
    assert main.agent(obs("ask"), None) == main.FALLBACK_QUESTIONS[0]
    assert main.agent(obs("answer", questions=["Is it big?"], keyword="x"), None) == "no"


@pytest.mark.parametrize("bad", [None, {}, {"turnType": "ask", "questions": None}, 42])
def test_agent_never_raises(main: ModuleType, bad: Any) -> None:
    use_model(main, FakeLlama("yes"))
    move = main.agent(bad, None)
    assert isinstance(move, str)
    assert move


def test_rambling_model_is_stopped_at_the_deadline(main: ModuleType) -> None:
    llm = FakeLlama("hmm " * 100, word_seconds=0.1)
    use_model(main, llm)
    main.MAX_TOKENS = {"ask": 1000, "guess": 1000, "answer": 1000}
    move = main.agent(obs("ask"), None)
    assert move == main.FALLBACK_QUESTIONS[0]
    # Stopped by the stopping criterion at MOVE_SECONDS - GRACE_SECONDS, not
    # after all 100 words (10 s): counted in words, not measured in seconds.
    wait_until_idle(main)
    assert 0 < llm.generated[0] < 100


def test_partial_reply_before_the_deadline_is_used(main: ModuleType) -> None:
    use_model(main, FakeLlama("yes " + "and " * 100, word_seconds=0.1))
    main.MAX_TOKENS = {"ask": 1000, "guess": 1000, "answer": 1000}
    assert main.agent(obs("answer", questions=["Is it big?"], keyword="x"), None) == "yes"


def test_hung_model_gives_a_fallback_on_time_then_recovers(main: ModuleType) -> None:
    use_model(main, FakeLlama("Yes", hang=3.0))
    # The fallback ("no") rather than the model's "Yes": the move did not wait for it.
    assert main.agent(obs("answer", questions=["Is it big?"], keyword="x"), None) == "no"
    # The hung call still holds the model: the next move does not wait for it either.
    assert main.agent(obs("answer", questions=["Is it big?"], keyword="x"), None) == "no"
    wait_until_idle(main)  # the hang is over
    main._get_model().hang = 0.0
    assert main.agent(obs("answer", questions=["Is it big?"], keyword="x"), None) == "yes"


def test_slow_model_load_does_not_overrun_the_first_move(main: ModuleType) -> None:
    def slow_load() -> FakeLlama:
        time.sleep(2.5)
        return FakeLlama("Yes")

    main._load_model = slow_load
    # The fallback: the move did not wait for the load.
    assert main.agent(obs("answer", questions=["Is it big?"], keyword="x"), None) == "no"
    wait_until_idle(main)  # the load finished in the background
    assert main.agent(obs("answer", questions=["Is it big?"], keyword="x"), None) == "yes"


def test_model_path_lookup(
    main: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KBUNDLE_AGENT_MODEL", "/models/llama.gguf")
    assert main._model_path() == "/models/llama.gguf"
    monkeypatch.delenv("KBUNDLE_AGENT_MODEL")
    if Path("/kaggle_simulations/agent/model.gguf").exists() or Path("/kaggle/input").exists():
        pytest.skip("this machine has Kaggle's folders")
    main._HERE = tmp_path
    assert main._model_path() is None
    (tmp_path / "model.gguf").write_bytes(b"GGUF")
    assert main._model_path() == str(tmp_path / "model.gguf")


def test_long_history_is_trimmed_to_fit_the_context(main: ModuleType) -> None:
    llm = FakeLlama("Is it red?")
    use_model(main, llm)
    questions = [f"Is it number {i}? " + "x" * 740 for i in range(19)]
    main.agent(obs("ask", questions=questions, answers=["no"] * 19), None)
    assert len(llm.prompts[-1]) < main.HISTORY_CHARS + 1500
    assert "Is it number 18?" in llm.prompts[-1]  # the newest are kept


# --- play.py -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("turn", "move", "seconds", "error"),
    [
        ("answer", "yes", 1.0, None),
        ("answer", "no", 1.0, None),
        ("answer", "Yes", 1.0, "not 'yes' or 'no'"),
        ("answer", "maybe", 1.0, "not 'yes' or 'no'"),
        ("ask", "Is it big?", 1.0, None),
        ("ask", "x" * 751, 1.0, "> 750"),
        ("ask", "", 1.0, "empty"),
        ("ask", None, 1.0, "empty"),
        ("guess", "teapot", 1.0, None),
        ("guess", "x" * 101, 1.0, "over 100"),
        ("guess", "tea\npot", 1.0, "not one line"),
        ("guess", "   ", 1.0, "empty"),
        ("guess", "teapot", 61.0, "took 61.0 s"),
    ],
)
def test_validate_move(
    play: ModuleType, turn: str, move: Any, seconds: float, error: str | None
) -> None:
    found = play.validate_move(turn, move, seconds)
    if error is None:
        assert found is None
    else:
        assert error in found


@pytest.mark.parametrize(
    ("guess", "hit"),
    [("teapot", True), ("The Teapot!", True), ("teapots", True), ("tea", False), ("pot", False)],
)
def test_keyword_comparison_is_kaggles(play: ModuleType, guess: str, hit: bool) -> None:
    assert play.keyword_guessed(guess, "teapot") is hit


def test_game_with_a_scripted_agent(play: ModuleType) -> None:
    def agent(o: Any, cfg: Any) -> str:
        if o.turnType == "ask":
            return f"Is it thing number {len(o.questions)}?"
        if o.turnType == "guess":
            return "teapot" if len(o.guesses) == 2 else "kettle"
        return "yes" if o.keyword.lower() in o.questions[-1].lower() else "no"

    guesser = play.play_game(agent, "guesser", "teapot")
    assert guesser["valid"]
    assert guesser["won"]
    assert guesser["moves"] == 6  # three rounds of ask + guess
    assert guesser["transcript"][-1][2] == "teapot"
    answerer = play.play_game(agent, "answerer", "teapot", rounds=5)
    assert answerer["valid"]
    assert answerer["moves"] == 5
    assert answerer["transcript"][-1] == ["Is it teapot?", "yes", "teapot"]


def test_main_exits_nonzero_on_an_invalid_move(
    play: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    agent = tmp_path / "main.py"
    agent.write_text(
        "def agent(obs, cfg):\n    return 'maybe' if obs.turnType == 'answer' else 'x?'\n"
    )
    assert play.main([str(agent), "--no-file", "--rounds", "3"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["valid"] is False
    guesser, answerer = report["games"]
    assert guesser["valid"]
    assert guesser["moves"] == 6
    assert answerer["ended"] == "invalid"
    assert "not 'yes' or 'no'" in answerer["errors"][0]


def test_raising_or_slow_agent_is_invalid(
    play: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    def raises(o: Any, cfg: Any) -> str:
        raise RuntimeError("boom")

    game = play.play_game(raises, "guesser", "teapot")
    assert not game["valid"]
    assert "boom" in game["errors"][0]

    def slow(o: Any, cfg: Any) -> str:
        time.sleep(0.1)
        return "no"

    monkeypatch.setattr(play, "ACT_TIMEOUT", 0.05)
    assert not play.play_game(slow, "answerer", "teapot", rounds=2)["valid"]
    # Kaggle's overage bank absorbs slow moves until it runs out.
    assert play.play_game(slow, "answerer", "teapot", rounds=2, overage=1.0)["valid"]
    assert not play.play_game(slow, "answerer", "teapot", rounds=10, overage=0.2)["valid"]


# --- the tiny model ----------------------------------------------------------


@pytest.fixture(scope="module")
def tiny() -> ModuleType:
    pytest.importorskip("numpy")
    pytest.importorskip("gguf")
    if Version(importlib.metadata.version("gguf")) < Version("0.17"):
        pytest.skip("make_tiny_model.py needs gguf >= 0.17")
    return load_example("make_tiny_model")


@pytest.fixture(scope="module")
def vocab(tiny: ModuleType, request: pytest.FixtureRequest, tmp_path_factory: Any) -> Path:
    """The Llama 3 vocab GGUF: $KBUNDLE_LLAMA_VOCAB, else from a llama-cpp-python sdist:
    $KBUNDLE_LLAMA_SDIST, one in kbundle's cache, or one from PyPI (kept in pytest's cache)."""
    if os.environ.get("KBUNDLE_LLAMA_VOCAB"):
        return Path(os.environ["KBUNDLE_LLAMA_VOCAB"])
    cache = getattr(request.config, "cache", None)  # None under -p no:cacheprovider
    name = "llama-cpp-python-sdist"
    downloads = cache.mkdir(name) if cache is not None else tmp_path_factory.mktemp(name)
    sdist = (
        Path(os.environ["KBUNDLE_LLAMA_SDIST"])
        if os.environ.get("KBUNDLE_LLAMA_SDIST")
        else tiny.find_sdist(REAL_CACHE) or tiny.find_sdist(downloads)
    )
    if sdist is None:
        pip = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:"]
        proc = subprocess.run(
            [*pip, LLAMA_SDIST_PIN, "-d", str(downloads)],
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        sdist = tiny.find_sdist(downloads)
        if sdist is None:
            pytest.skip(f"no llama-cpp-python sdist (pip download: {proc.stderr[-300:]})")
    return tiny.extract_vocab(sdist, tmp_path_factory.mktemp("vocab"))


@pytest.fixture(scope="module")
def tiny_model(tiny: ModuleType, vocab: Path, tmp_path_factory: Any) -> Path:
    out = tmp_path_factory.mktemp("tiny") / "model.gguf"
    started = time.monotonic()
    tiny.build(vocab, out, seed=0)
    print(f"tiny model: {out.stat().st_size / 1e6:.1f} MB in {time.monotonic() - started:.1f} s")
    return out


def test_tiny_model_is_deterministic(tiny: ModuleType, vocab: Path, tiny_model: Path) -> None:
    again = tiny.build(vocab, tiny_model.with_name("again.gguf"), seed=0)
    assert again.read_bytes() == tiny_model.read_bytes()
    other = tiny.build(vocab, tiny_model.with_name("other.gguf"), seed=1)
    assert other.read_bytes() != tiny_model.read_bytes()


def test_tiny_model_contents(tiny: ModuleType, tiny_model: Path, vocab: Path) -> None:
    import gguf

    assert 20e6 < tiny_model.stat().st_size < 30e6
    reader = gguf.GGUFReader(tiny_model)
    types = {t.name: t.tensor_type for t in reader.tensors}
    assert len(types) == 3 + 9 * tiny.N_LAYER
    for name, qtype in types.items():
        expected = "F32" if name.endswith("norm.weight") else "Q8_0"
        assert qtype.name == expected, name
    shapes = {t.name: [int(n) for n in t.shape] for t in reader.tensors}
    assert shapes["token_embd.weight"] == [tiny.N_EMBD, 128256]  # ggml order: [n_embd, n_vocab]
    assert shapes["blk.0.ffn_down.weight"] == [tiny.N_FF, tiny.N_EMBD]

    fields = reader.fields
    assert fields["general.architecture"].contents() == "llama"
    assert len(fields["tokenizer.ggml.tokens"].data) == 128256
    assert fields["tokenizer.ggml.tokens"].contents(128006) == "<|start_header_id|>"
    assert fields["tokenizer.ggml.token_type"].types == [
        gguf.GGUFValueType.ARRAY,
        gguf.GGUFValueType.INT32,
    ]
    assert fields["tokenizer.ggml.bos_token_id"].types == [gguf.GGUFValueType.UINT32]
    assert fields["tokenizer.ggml.bos_token_id"].contents() == 128000
    assert "<|start_header_id|>" in fields["tokenizer.chat_template"].contents()
    assert fields["llama.vocab_size"].contents() == 128256
    assert fields["general.file_type"].contents() == gguf.LlamaFileType.MOSTLY_Q8_0
    for key in ("context_length", "block_count", "attention.head_count_kv", "rope.freq_base"):
        assert f"llama.{key}" in fields
    # Every tokenizer key of the vocab is copied with its exact type and value.
    source = tiny.read_metadata(vocab)
    copied = tiny.read_metadata(tiny_model)
    for key, value in source.items():
        if key.startswith("tokenizer."):
            assert copied[key] == value, key


def test_tiny_model_command_line(tiny: ModuleType, vocab: Path, tmp_path: Path) -> None:
    out = tmp_path / "m.gguf"
    assert tiny.main(["--vocab", str(vocab), "-o", str(out), "--seed", "3"]) == 0
    assert out.read_bytes()[:4] == b"GGUF"


# --- the real thing: llama.cpp on the tiny model -----------------------------


@pytest.fixture(scope="module")
def llama_cpp() -> ModuleType:
    return pytest.importorskip("llama_cpp")


def test_llama_cpp_generates_on_the_tiny_model(llama_cpp: ModuleType, tiny_model: Path) -> None:
    llm = llama_cpp.Llama(model_path=str(tiny_model), n_ctx=512, n_gpu_layers=0, verbose=False)
    prompt = "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
    tokens = llm.tokenize(prompt.encode(), add_bos=False, special=True)
    assert tokens[:3] == [128000, 128006, 882]  # special tokens are single tokens
    started = time.monotonic()
    out = llm.create_completion(tokens, max_tokens=128, temperature=0.7, seed=1)
    rate = out["usage"]["completion_tokens"] / (time.monotonic() - started)
    print(f"tiny model: {rate:.0f} tokens/s")  # ~800 on 2 idle cores; a figure, not a bound
    assert out["usage"]["completion_tokens"] > 0


def test_full_games_on_the_tiny_model(
    llama_cpp: ModuleType,
    tiny_model: Path,
    play: ModuleType,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("KBUNDLE_AGENT_MODEL", str(tiny_model))
    assert play.main([str(EXAMPLE / "main.py"), "--no-file", "--keyword", "teapot"]) == 0
    report = json.loads(capsys.readouterr().out)
    guesser, answerer = report["games"]
    assert guesser["valid"]
    assert guesser["moves"] == 40 or guesser["won"]
    assert answerer["valid"]
    assert answerer["moves"] == 20
    assert max(guesser["max_move_seconds"], answerer["max_move_seconds"]) < 60
