"""Benchmark: `kbundle lock` against `uv pip compile` and `pip-compile`, cold and warm.

Run from the repository root after the README's set-up:

    .venv/bin/python bench/lock.py [--sets llama hf-t4 hf-2024 ds-cpu]

See bench/README.md for what is measured.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from common import (
    BENCH_DIR,
    HOST,
    SETS,
    Measurement,
    ReqSet,
    Run,
    Tools,
    count_pins,
    ensure_tools,
    fmt_cold,
    fmt_warm,
    fresh_dir,
    index_url,
    machine_info,
    markdown_table,
    measure,
    ratio,
    run,
    save_results,
    select_sets,
    tool_env,
)

from bundler.toml_table import tomllib

KBUNDLE_TIMEOUT = 300.0
UV_TIMEOUT = 300.0
PIP_COMPILE_TIMEOUT = 300.0


def lock_counts(path: Path) -> tuple[int, int] | None:
    """(vendored, from the image) in a kbundle lock."""
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError):
        return None
    image = data.get("tool", {}).get("kbundle", {}).get("image", {})
    return len(data.get("packages", [])), len(image)


def kbundle_seconds(log: Path) -> float | None:
    """The resolve time kbundle reports itself (`--json` "seconds")."""
    try:
        return float(json.loads(log.read_text())["seconds"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def bench_kbundle(s: ReqSet, tools: Tools, work: Path, logs: Path) -> Measurement:
    cache = work / "kbundle-cache"

    def once(tag: str) -> Run:
        out = work / f"kbundle-{tag}.toml"
        out.unlink(missing_ok=True)  # no existing lock: its pins would be kept
        cmd: list[str | Path] = [
            tools.kbundle,
            "lock",
            *s.kbundle_reqs,
            "--target",
            s.target,
            *s.kbundle_args,
        ]
        return run(
            [*cmd, "-o", out, "--json"],
            env=tool_env(KBUNDLE_CACHE_DIR=str(cache)),
            cwd=work,
            log=logs / f"{s.key}-kbundle-{tag}.log",
            timeout=KBUNDLE_TIMEOUT,
        )

    def cold() -> Run:
        fresh_dir(cache)
        return once("cold")

    m = measure(cold, lambda i: once(f"warm{i}"))
    counts = lock_counts(work / "kbundle-cold.toml")
    if counts:
        m.info.update(vendored=counts[0], image=counts[1])
    m.info["internal_cold"] = kbundle_seconds(logs / f"{s.key}-kbundle-cold.log")
    m.info["internal_warm"] = [
        kbundle_seconds(logs / f"{s.key}-kbundle-warm{i}.log") for i in range(len(m.warm))
    ]
    return m


def bench_uv(s: ReqSet, tools: Tools, work: Path, logs: Path, index: str) -> dict[str, Measurement]:
    cache = work / "uv-cache"
    reqs = work / "requirements.in"

    def once(tag: str, *extra: str) -> Run:
        out = work / f"uv-{tag}.txt"
        out.unlink(missing_ok=True)  # an existing output file is read as preferences
        cmd: list[str | Path] = [
            tools.uv,
            "pip",
            "compile",
            "-q",
            "--cache-dir",
            cache,
            "--python",
            tools.python,
        ]
        cmd += ["--python-version", s.python_version, "--python-platform", s.uv_platform]
        return run(
            [*cmd, "--default-index", index, *extra, reqs, "-o", out],
            env=tool_env(),
            cwd=work,
            log=logs / f"{s.key}-uv-{tag}.log",
            timeout=UV_TIMEOUT,
        )

    def cold() -> Run:
        fresh_dir(cache)
        return once("cold")

    m = measure(cold, lambda i: once(f"warm{i}"))
    m.info["packages"] = count_pins(work / "uv-cold.txt")
    result = {"uv": m}
    if m.cold is not None and m.cold.ok:
        # The index sends no caching headers, so a warm uv revalidates every page and
        # file it uses; --offline shows uv's time without those round trips.
        result["uv --offline"] = measure(None, lambda i: once(f"offline{i}", "--offline"))
    return result


def bench_pip_compile(s: ReqSet, tools: Tools, work: Path, logs: Path, index: str) -> Measurement:
    cache = work / "pip-tools-cache"
    pip_cache = work / "pip-cache"
    reqs = work / "requirements.in"

    def once(tag: str) -> Run:
        out = work / f"pip-compile-{tag}.txt"
        out.unlink(missing_ok=True)  # an existing output file is read as pins
        cmd: list[str | Path] = [
            tools.pip_compile,
            "-q",
            "--no-header",
            "--strip-extras",
            "--cache-dir",
            cache,
        ]
        return run(
            [*cmd, "--index-url", index, reqs, "-o", out],
            env=tool_env(PIP_CACHE_DIR=str(pip_cache)),
            cwd=work,
            log=logs / f"{s.key}-pip-compile-{tag}.log",
            timeout=PIP_COMPILE_TIMEOUT,
        )

    def cold() -> Run:
        fresh_dir(cache)
        fresh_dir(pip_cache)
        return once("cold")

    m = measure(cold, lambda i: once(f"warm{i}"))
    m.info["packages"] = count_pins(work / "pip-compile-cold.txt")
    return m


def report(results: dict[str, dict[str, Measurement]], tools: Tools) -> str:
    rows = []
    goal_rows = []
    for s in SETS:
        if s.key not in results:
            continue
        r = results[s.key]
        kb = r["kbundle"]
        for name, m in r.items():
            if name == "kbundle":
                vend, img = m.info.get("vendored"), m.info.get("image")
                pkgs = f"{vend} vendored + {img} image" if vend is not None else "-"
                internal_warm = m.info.get("internal_warm")
                warm_int = [x for x in internal_warm or [] if x is not None]  # type: ignore[attr-defined]
                internal = (
                    f"{m.info.get('internal_cold') or 0:.2f} / {min(warm_int):.2f}"
                    if warm_int
                    else "-"
                )
                platform_note = f"{s.target} (py {s.python_version})"
            else:
                pkgs = str(m.info.get("packages", "-")) if "packages" in m.info else ""
                internal = ""
                platform_note = (
                    HOST if name == "pip-compile" else f"{s.uv_platform}, py {s.python_version}"
                )
            rows.append([s.key, name, platform_note, fmt_cold(m), fmt_warm(m), pkgs, internal])
        uv, pc, uv_offline = r.get("uv"), r.get("pip-compile"), r.get("uv --offline")
        kb_cold = kb.cold.seconds if kb.cold and kb.cold.ok else None
        uv_cold = uv.cold.seconds if uv and uv.cold and uv.cold.ok else None
        pc_cold = pc.cold.seconds if pc and pc.cold and pc.cold.ok else None
        if pc and pc.cold and pc.cold.timed_out:
            pc_cold_txt = f">{ratio(pc.cold.seconds, kb_cold)} (pip-compile timed out)"
        else:
            pc_cold_txt = ratio(pc_cold, kb_cold)
        goal_rows.append(
            [
                s.key,
                ratio(kb.warm_median, uv.warm_median if uv else None),
                ratio(kb.warm_median, uv_offline.warm_median if uv_offline else None),
                ratio(kb_cold, uv_cold),
                pc_cold_txt,
                ratio(pc.warm_median if pc else None, kb.warm_median),
            ]
        )
    table = markdown_table(
        [
            "set",
            "tool",
            "resolves for",
            "cold s",
            "warm s (median)",
            "packages in lock",
            "kbundle's own resolve s (cold / best warm)",
        ],
        rows,
    )
    goals = markdown_table(
        [
            "set",
            "kbundle warm / uv warm (goal ≤ 1.5 on the rich-image sets)",
            "kbundle warm / uv --offline",
            "kbundle cold / uv cold (goal ≤ 2 on the rich-image sets)",
            "pip-compile cold / kbundle cold (goal ≥ 10)",
            "pip-compile warm / kbundle warm",
        ],
        goal_rows,
    )
    sets = "\n".join(
        f"- `{s.key}` ({s.target}): {s.title}: `kbundle lock {' '.join(s.kbundle_reqs)}"
        f"{' ' + ' '.join(s.kbundle_args) if s.kbundle_args else ''}`"
        + (f"; {s.note}" if s.note else "")
        for s in SETS
        if s.key in results
    )
    return (
        "## Lock\n\n"
        + machine_info(tools)
        + "\n\nSets:\n\n"
        + sets
        + "\n\nSeconds, wall clock around the subprocess; warm = median of up to 3 runs "
        "(n shown when fewer).\n\n" + table + "\n\n" + goals
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="*", help=f"subset of {[s.key for s in SETS]}")
    parser.add_argument(
        "--skip-pip-compile", action="store_true", help="do not run pip-compile (slow)"
    )
    args = parser.parse_args()
    tools = ensure_tools()
    index = index_url()
    logs = fresh_dir(BENCH_DIR / "logs" / "lock")
    results: dict[str, dict[str, Measurement]] = {}
    for s in select_sets(args.sets):
        work = fresh_dir(BENCH_DIR / "lock" / s.key)
        (work / "requirements.in").write_text("\n".join(s.other_reqs) + "\n")
        print(f"== {s.key}: {s.title} on {s.target}", flush=True)
        r: dict[str, Measurement] = {}
        print("  kbundle lock", flush=True)
        r["kbundle"] = bench_kbundle(s, tools, work, logs)
        print("  uv pip compile", flush=True)
        r.update(bench_uv(s, tools, work, logs, index))
        if not args.skip_pip_compile:
            print("  pip-compile (host platform)", flush=True)
            r["pip-compile"] = bench_pip_compile(s, tools, work, logs, index)
        results[s.key] = r
    data = {k: {t: m.as_json() for t, m in r.items()} for k, r in results.items()}
    save_results("lock-results", report(results, tools), {"versions": tools.versions, **data})


if __name__ == "__main__":
    main()
