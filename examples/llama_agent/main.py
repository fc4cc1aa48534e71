"""LLM 20 Questions agent: Llama 3 Instruct (GGUF) through llama-cpp-python, offline.

Kaggle executes this file and takes its LAST callable, ``agent(obs, cfg)``, as
the agent, for all three turns: "ask" (a yes/no question), "answer" (yes or
no, about ``obs.keyword``) and "guess" (the keyword). The model is loaded once,
on the first call: ``$KBUNDLE_AGENT_MODEL``, else the first of
/kaggle_simulations/agent/model.gguf, model.gguf next to this file and
/kaggle/input/**/*.gguf. The intended model is Llama 3 8B Instruct Q8_0 (8.5 GB,
fits a T4); ``make_tiny_model.py`` builds a 25 MB stand-in for local games.

Every move is valid and on time whatever the model does: generation runs in a
worker thread against a per-move deadline, and any empty, rambling, repeated
or failed output is replaced by a fixed fallback move. ``agent`` never raises.
"""

# The snippet `kbundle vendor` prints, verbatim (a test keeps them equal):
# fmt: off
import os, sys  # noqa: E401  (kbundle: find lib/ and activate it; keep these lines first)
_kb = [os.environ.get("KBUNDLE_LIB", ""), "/kaggle_simulations/agent/lib",
       "/kaggle/working/submission/lib", os.path.abspath("lib")]
if "__file__" in globals():  # Kaggle's harness exec()s main.py: no __file__ there
    _kb.insert(1, os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib"))
_kb_in = os.environ.get("KBUNDLE_INPUT", "/kaggle/input")  # datasets: <name>/lib, <name>/*/lib
_kb_ds = sorted(e.path for e in os.scandir(_kb_in) if e.is_dir()) if os.path.isdir(_kb_in) else []
_kb_vs = sorted(e.path for d in _kb_ds for e in os.scandir(d) if e.is_dir())  # version folders
_kb += [os.path.join(d, "lib") for d in _kb_ds + _kb_vs]
_kb_lib = [p for p in _kb if p and os.path.isfile(os.path.join(p, "kbundle_boot.py"))]
if not _kb_lib:
    raise ImportError(f"kbundle: kbundle_boot.py is in none of {_kb}; set KBUNDLE_LIB")
_kb_also = set(map(os.path.realpath, _kb_lib)) - {os.path.realpath(_kb_lib[0])}
if _kb_also:  # several libs: say which one is used
    print(f"kbundle: using {_kb_lib[0]}; also found {', '.join(sorted(_kb_also))}", file=sys.stderr)
sys.path.insert(0, _kb_lib[0])
import kbundle_boot  # noqa: E402,F401
# fmt: on

import re
import threading
import time
from pathlib import Path
from typing import Any

# Kaggle exec()s this file without __file__; then the current folder stands in.
_HERE = Path(globals().get("__file__", "main.py")).resolve().parent

# Kaggle allows 60 s per move plus 300 s of overage per game. Aim well below.
MOVE_SECONDS = float(os.environ.get("KBUNDLE_AGENT_MOVE_SECONDS", "45"))
GRACE_SECONDS = 1.0  # stop generating this early so a partial answer is still used
N_CTX = 2048
SEED = 20
MAX_TOKENS = {"ask": 48, "guess": 16, "answer": 4}
HISTORY_CHARS = 3000  # ~750 tokens of Q/A history, so prompts fit N_CTX

FALLBACK_QUESTIONS = (
    "Is it a living thing?",
    "Is it a man-made object?",
    "Is it a place?",
    "Is it usually found indoors?",
    "Is it bigger than a bread box?",
    "Is it electronic or does it use electricity?",
    "Is it something you can eat or drink?",
    "Is it mainly made of metal?",
    "Is it used in the kitchen?",
    "Can you hold it in one hand?",
    "Is it used for transportation?",
    "Is it found in nature?",
    "Is it made of wood?",
    "Is it used for work or as a tool?",
    "Is it worn on the body?",
    "Is it a piece of furniture?",
    "Is it used for fun or entertainment?",
    "Is it found in a bathroom?",
    "Is it a country or a city?",
    "Is it in Europe?",
)
FALLBACK_GUESSES = ("phone", "car", "tree", "book", "chair", "computer", "dog", "apple", "paris")

SYSTEM = {
    "ask": "You are the questioner in a game of 20 Questions. The secret keyword is a thing: "
    "an object, a place, food, an animal or a plant. Ask ONE short yes-or-no question that "
    "splits the remaining possibilities roughly in half. Never repeat a question. "
    "Reply with the question only.",
    "guess": "You are the questioner in a game of 20 Questions. From the questions and answers "
    "so far, guess the secret keyword. Reply with the keyword only (one to three words), "
    "no explanation.",
    "answer": 'You are the answerer in a game of 20 Questions. The secret keyword is "{keyword}" '
    "(category: {category}). Answer the question about the keyword truthfully with one word: "
    "yes or no.",
}

_QUOTES = " \t*`\"'\u201c\u201d\u2018\u2019"  # and markdown emphasis
_state: dict[str, Any] = {}  # "model", or "error" once loading failed (never retried)
_model_lock = threading.Lock()  # held while a worker uses the model, even past its deadline


def _model_path() -> str | None:
    """The GGUF file to load: env override, the submission, then attached datasets."""
    if os.environ.get("KBUNDLE_AGENT_MODEL"):
        return os.environ["KBUNDLE_AGENT_MODEL"]
    for candidate in (Path("/kaggle_simulations/agent/model.gguf"), _HERE / "model.gguf"):
        if candidate.is_file():
            return str(candidate)
    inputs = Path("/kaggle/input")
    found = sorted(inputs.glob("**/*.gguf")) if inputs.is_dir() else []
    return str(found[0]) if found else None


def _load_model() -> Any:
    """Load the model with llama-cpp-python (tests replace this function)."""
    import llama_cpp

    path = _model_path()
    if path is None:
        raise FileNotFoundError("no .gguf model: set KBUNDLE_AGENT_MODEL or add model.gguf")
    gpu = bool(llama_cpp.llama_supports_gpu_offload())
    return llama_cpp.Llama(
        model_path=path, n_gpu_layers=-1 if gpu else 0, n_ctx=N_CTX, seed=SEED, verbose=False
    )


def _get_model() -> Any:
    """The cached model, loading it on first use; None when it cannot be loaded."""
    if "model" not in _state and "error" not in _state:
        try:
            started = time.monotonic()
            _state["model"] = _load_model()
            print(f"[agent] model loaded in {time.monotonic() - started:.1f} s", file=sys.stderr)
        except Exception as exc:
            _state["error"] = repr(exc)
            print(f"[agent] no model, playing fallback moves: {exc!r}", file=sys.stderr)
    return _state.get("model")


def _chat(system: str, user: str) -> str:
    """A Llama 3 Instruct prompt, ready for the assistant's reply.

    Written out here rather than through ``create_chat_completion``: the prompt
    is tokenized with ``special=True, add_bos=False`` and handed to llama.cpp
    as tokens, so the model sees exactly these special tokens and one
    ``<|begin_of_text|>`` (never a second BOS from the GGUF's add_bos flag),
    and ``_complete`` can measure the prompt against N_CTX before generating.
    """
    return (
        f"<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n{system}<|eot_id|>"
        f"<|start_header_id|>user<|end_header_id|>\n\n{user}<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n"
    )


def _complete(llm: Any, turn: str, system: str, user: str, stop_at: float) -> str:
    """One assistant reply: stops at <|eot_id|>, the turn's max_tokens or ``stop_at``."""
    max_tokens = MAX_TOKENS[turn]
    tokens = llm.tokenize(_chat(system, user).encode(), add_bos=False, special=True)
    while len(tokens) + max_tokens > N_CTX and len(user) > 100:  # keep the newest text
        user = user[len(user) // 2 :]
        tokens = llm.tokenize(_chat(system, user).encode(), add_bos=False, special=True)
    out = llm.create_completion(
        tokens,
        max_tokens=max_tokens,
        temperature=0.0 if turn == "answer" else 0.7,
        seed=SEED,
        stop=["<|eot_id|>", "<|end_of_text|>"],
        # Checked after every sampled token: ends the reply at the deadline.
        stopping_criteria=lambda _ids, _logits: time.monotonic() > stop_at,
    )
    return str(out["choices"][0]["text"])


def _generate(turn: str, system: str, user: str, deadline: float) -> str | None:
    """The model's reply, or None when there is none by ``deadline``.

    The model runs in a daemon thread and we wait for it only until the
    deadline: loading 8 GB or evaluating a long prompt on a CPU cannot be
    interrupted by a stopping criterion. A worker that overruns keeps the lock,
    so later moves fall back at once instead of queueing behind it.
    """
    if not _model_lock.acquire(blocking=False):
        return None
    box: dict[str, str] = {}

    def work() -> None:
        try:
            llm = _get_model()
            if llm is not None and time.monotonic() < deadline - GRACE_SECONDS:
                box["text"] = _complete(llm, turn, system, user, deadline - GRACE_SECONDS)
        except Exception as exc:
            print(f"[agent] generation failed: {exc!r}", file=sys.stderr)
        finally:
            _model_lock.release()

    worker = threading.Thread(target=work, name="llm-move", daemon=True)
    worker.start()
    worker.join(max(0.0, deadline - time.monotonic()))
    return box.get("text")


def _field(obs: Any, name: str, default: Any) -> Any:
    """``obs.name`` or ``obs[name]``: Kaggle passes a dict with attribute access."""
    value = obs.get(name) if isinstance(obs, dict) else getattr(obs, name, None)
    return default if value is None else value


def _history(questions: list[str], answers: list[str], guesses: list[str]) -> str:
    """Q/A lines, newest kept when over HISTORY_CHARS, then the wrong guesses."""
    lines: list[str] = []
    for q, a in reversed(list(zip(questions, answers, strict=False))):
        line = f"Q: {' '.join(q.split())[:200]} A: {a}"
        if sum(len(x) for x in lines) + len(line) > HISTORY_CHARS:
            break
        lines.insert(0, line)
    text = "\n".join(lines) or "(no questions yet)"
    if guesses:
        text += "\nWrong guesses so far: " + ", ".join(g[:50] for g in guesses[-10:])
    return text


def _first_line(text: str | None) -> str:
    """The reply's first non-empty line without markdown, quotes or a label."""
    for line in (text or "").splitlines():
        line = re.sub(
            r"^(question|guess|answer|keyword|the keyword is|my guess is)\s*[:\-]?\s*",
            "",
            line.strip(" \t*#>`-"),
            flags=re.IGNORECASE,
        )
        line = line.strip(_QUOTES)
        if line:
            return line
    return ""


def _ask(obs: Any, deadline: float) -> str:
    questions, answers = _field(obs, "questions", []), _field(obs, "answers", [])
    asked = {q.strip().lower() for q in questions}
    history = _history(questions, answers, _field(obs, "guesses", []))
    reply = _generate("ask", SYSTEM["ask"], f"{history}\n\nYour next question:", deadline)
    line = _first_line(reply)
    question = line[: line.find("?") + 1] if "?" in line else ""
    if len(question.split()) >= 3 and question.lower() not in asked:
        return question[:750]
    unused = [q for q in FALLBACK_QUESTIONS if q.lower() not in asked]
    return unused[0] if unused else f"Is it something people use every day? ({len(asked) + 1})"


def _guess(obs: Any, deadline: float) -> str:
    guesses = _field(obs, "guesses", [])
    tried = {g.strip().lower() for g in guesses}
    history = _history(_field(obs, "questions", []), _field(obs, "answers", []), guesses)
    reply = _generate("guess", SYSTEM["guess"], f"{history}\n\nYour guess:", deadline)
    guess = _first_line(reply).strip(_QUOTES + ".!?,;:")[:100].strip()
    if 0 < len(guess.split()) <= 6 and re.search(r"[A-Za-z]", guess) and guess.lower() not in tried:
        return guess
    unused = [g for g in FALLBACK_GUESSES if g not in tried]
    return unused[0] if unused else "thing"


def _answer(obs: Any, deadline: float) -> str:
    question = (_field(obs, "questions", []) or [""])[-1]
    keyword, category = str(_field(obs, "keyword", "")), str(_field(obs, "category", ""))
    system = SYSTEM["answer"].format(keyword=keyword, category=category)
    reply = _generate("answer", system, question, deadline)
    found = re.search(r"\b(yes|no)\b", (reply or "").lower())
    if found:
        return found.group(1)
    # No usable reply: "yes" only when the question names the keyword ("Is it Paris?").
    return "yes" if keyword and keyword.lower() in question.lower() else "no"


def agent(obs: Any, cfg: Any = None) -> str:
    """Kaggle's entry point: one move for ``obs.turnType``; always a valid move."""
    deadline = time.monotonic() + MOVE_SECONDS
    turn = str(_field(obs, "turnType", ""))
    try:
        if turn == "ask":
            return _ask(obs, deadline)
        if turn == "guess":
            return _guess(obs, deadline)
        return _answer(obs, deadline)
    except Exception as exc:  # never lose a game to a bug: play a fixed move
        print(f"[agent] {turn} failed: {exc!r}", file=sys.stderr)
        return {"ask": FALLBACK_QUESTIONS[0], "guess": FALLBACK_GUESSES[0]}.get(turn, "no")
