"""Play LLM 20 Questions locally with an agent's ``main.py``, loaded as Kaggle loads it.

    python play.py main.py --keyword teapot             # both roles, one game each
    python play.py main.py --role guesser --no-file     # exactly Kaggle's loader

The agent plays the guesser (ask, then guess, for up to 20 rounds) against a
scripted answerer, and the answerer against a scripted asker. Every agent move
is checked as the competition would (answers "yes"/"no", questions up to 750
characters, guesses up to 100 on one line, at most 60 s a move); the summary
is printed as JSON and the exit status is 1 when any move was invalid.
Standard library only: it runs wherever the agent runs.
"""

from __future__ import annotations

import argparse
import json
import string
import sys
import time
import zlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

Agent = Callable[[Any, Any], Any]

ACT_TIMEOUT = 60.0
SCRIPTED_QUESTIONS = (
    "Is it a living thing?",
    "Is it a place?",
    "Is it bigger than a person?",
    "Is it used in the kitchen?",
    "Is it made of metal?",
    "Can you eat it?",
    "Is it electronic?",
)
SCRIPTED_GUESSES = ("car", "tree", "book", "phone", "chair")
_NO_PUNCT = str.maketrans("", "", string.punctuation)
# Roughly the configuration Kaggle passes as the agent's second argument.
CONFIG = {"episodeSteps": 61, "actTimeout": ACT_TIMEOUT, "runTimeout": 9600, "agentTimeout": 3600}


class Obs(dict[str, Any]):
    """Kaggle's observation: a dict whose keys are also attributes."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError as exc:
            raise AttributeError(name) from exc


def load_agent(path: Path, *, with_file: bool = True) -> Agent:
    """Load ``path`` like ``kaggle_environments.agent.get_last_callable``.

    Kaggle compiles the source under its path, appends its folder to
    ``sys.path``, executes it in an EMPTY namespace (no ``__file__``, so code
    must not rely on it) and takes the last callable value. ``with_file=True``
    adds ``__file__`` as ``python main.py`` or an import would.
    """
    folder = str(path.resolve().parent)
    env: dict[str, Any] = {"__file__": str(path.resolve())} if with_file else {}
    sys.path.append(folder)
    try:
        exec(compile(path.read_text(), str(path), "exec"), env)
    finally:
        if sys.path and sys.path[-1] == folder:
            sys.path.pop()
    callables = [value for value in env.values() if callable(value)]
    if not callables:
        raise ValueError(f"{path} defines no callable")
    return callables[-1]  # type: ignore[no-any-return]


def validate_move(turn: str, move: Any, seconds: float, limit: float = ACT_TIMEOUT) -> str | None:
    """Why ``move`` would lose the game on Kaggle, or None when it is valid."""
    if not isinstance(move, str) or not move.strip():
        return f"{turn}: empty or not a string: {move!r}"
    if turn == "answer" and move not in ("yes", "no"):
        return f"answer: {move!r} is not 'yes' or 'no'"
    if turn == "ask" and len(move) > 750:
        return f"ask: question of {len(move)} characters (> 750)"
    if turn == "guess" and (len(move) > 100 or "\n" in move):
        return f"guess: {move[:40]!r}... is over 100 characters or not one line"
    if seconds > limit:
        return f"{turn}: took {seconds:.1f} s (> {limit:.0f} s)"
    return None


def keyword_guessed(guess: str, keyword: str, alts: Sequence[str] = ()) -> bool:
    """Kaggle's comparison: case, spaces, punctuation and "the" ignored; plural -s/-es."""

    def norm(s: str) -> str:
        return s.lower().replace("the", "").replace(" ", "").translate(_NO_PUNCT)

    def same(a: str, b: str) -> bool:
        a, b = norm(a), norm(b)
        if a == b:
            return True
        if len(a) < 3 or len(b) < 3:
            return False
        return a in (b + "s", b + "es") or b in (a + "s", a + "es")

    return any(same(guess, k) for k in (keyword, *alts))


def scripted_answer(keyword: str, question: str) -> str:
    """The scripted answerer: "yes" when the question names the keyword, else a
    fixed pseudo-random answer (crc32 of keyword and question), so games replay."""
    if keyword.lower() in question.lower():
        return "yes"
    return "yes" if zlib.crc32(f"{keyword}|{question}".encode()) % 3 == 0 else "no"


def play_game(
    agent: Agent,
    role: str,
    keyword: str,
    category: str = "things",
    rounds: int = 20,
    overage: float = 0.0,
) -> dict[str, Any]:
    """One game with ``agent`` as "guesser" or "answerer"; returns its summary.

    A move slower than 60 s draws on an ``overage`` bank, as Kaggle's 300 s per
    game does; the default 0 makes every move's 60 s a hard limit.
    """
    questions: list[str] = []
    answers: list[str] = []
    guesses: list[str] = []
    summary: dict[str, Any] = {"role": role, "keyword": keyword, "moves": 0, "valid": True}
    summary.update(ended="rounds", won=False, seconds=0.0, max_move_seconds=0.0, errors=[])
    bank = overage

    def move(turn: str, step: int) -> str | None:
        nonlocal bank
        obs = Obs(turnType=turn, questions=list(questions), answers=list(answers))
        obs.update(guesses=list(guesses), step=step, remainingOverageTime=bank)
        obs.update(role=role, keyword=keyword if role == "answerer" else "")
        obs.update(category=category if role == "answerer" else "")
        started = time.monotonic()
        try:
            action = agent(obs, Obs(CONFIG))
        except Exception as exc:
            action = None
            summary["errors"].append(f"{turn}: raised {exc!r}")
        seconds = time.monotonic() - started
        summary["moves"] += 1
        summary["seconds"] = round(summary["seconds"] + seconds, 3)
        summary["max_move_seconds"] = round(max(summary["max_move_seconds"], seconds), 3)
        error = validate_move(turn, action, seconds, ACT_TIMEOUT + bank)
        bank -= max(0.0, seconds - ACT_TIMEOUT)
        if error or action is None:
            summary["errors"].append(error or f"{turn}: no move")
            summary.update(valid=False, ended="invalid")
            return None
        return str(action)

    for r in range(rounds):
        last = r == rounds - 1  # the scripted asker names the keyword in the last round
        if role == "guesser":
            question = move("ask", 3 * r)
            if question is None:
                break
            questions.append(question[:750])
            if keyword_guessed(question, keyword):  # Kaggle checks every guesser action
                summary.update(won=True, ended="guessed")
                break
            answers.append(scripted_answer(keyword, question))
            guess = move("guess", 3 * r + 2)
            if guess is None:
                break
        else:
            question = f"Is it {keyword}?" if last else SCRIPTED_QUESTIONS[r % 7]
            questions.append(question)
            answer = move("answer", 3 * r + 1)
            if answer is None:
                break
            answers.append(answer)
            guess = keyword if last else SCRIPTED_GUESSES[r % len(SCRIPTED_GUESSES)]
        guesses.append(guess[:100])
        if keyword_guessed(guess, keyword):
            summary.update(won=True, ended="guessed")
            break
    summary["transcript"] = [list(t) for t in zip(questions, answers, guesses, strict=False)]
    return summary


def main(argv: list[str] | None = None) -> int:
    """Command line: see the module docstring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("agent", nargs="?", type=Path, default=Path(__file__).with_name("main.py"))
    parser.add_argument("--keyword", default="teapot")
    parser.add_argument("--category", default="things")
    parser.add_argument("--role", choices=("guesser", "answerer", "both"), default="both")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--overage", type=float, default=0.0, help="seconds (Kaggle: 300)")
    parser.add_argument(
        "--no-file", action="store_true", help="run main.py without __file__, as Kaggle does"
    )
    args = parser.parse_args(argv)

    started = time.monotonic()
    agent = load_agent(args.agent, with_file=not args.no_file)
    load_seconds = round(time.monotonic() - started, 3)
    roles = ("guesser", "answerer") if args.role == "both" else (args.role,)
    games = [
        play_game(agent, role, args.keyword, args.category, args.rounds, args.overage)
        for role in roles
    ]
    valid = all(game["valid"] for game in games)
    report = {"agent": str(args.agent), "load_seconds": load_seconds, "valid": valid}
    print(json.dumps({**report, "games": games}, indent=2))
    return 0 if valid else 1


if __name__ == "__main__":
    sys.exit(main())
