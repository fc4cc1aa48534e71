"""Benchmark: `kbundle vendor -t DIR` against `uv pip install --target` and
`pip install --target`, cold and warm cache, with the size of the resulting lib.

Run from the repository root after the README's set-up:

    .venv/bin/python bench/vendor.py [--sets llama hf-t4 hf-2024 ds-cpu]

The llama.cpp set installs one llama-cpp-python wheel, built once beforehand
with kbundle (CPU build, kept in $KBUNDLE_BENCH_DIR/llama-wheel) and offered to
every tool with --find-links, so no run times a C++ build.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
from pathlib import Path

from common import (
    BENCH_DIR,
    SETS,
    Measurement,
    ReqSet,
    Run,
    Tools,
    ensure_tools,
    fmt_bytes,
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
    tree_bytes,
)

TIMEOUT = 900.0
LLAMA_DIR = BENCH_DIR / "llama-wheel"
LLAMA_BUILD_TIMEOUT = 3600.0


def llama_wheel(tools: Tools) -> Path:
    """A folder holding one CPU llama-cpp-python wheel, built with kbundle once."""
    wheels = LLAMA_DIR / "wheels"
    if list(wheels.glob("llama_cpp_python-*.whl")):
        return wheels
    cache = LLAMA_DIR / "cache"
    print("building llama-cpp-python once with kbundle (CPU; several minutes)", flush=True)
    cmd: list[str | Path] = [
        tools.kbundle,
        "vendor",
        "llama-cpp-python",
        "--build",
        "llama-cpp-python",
        "--cpu",
    ]
    cmd += ["-j", str(os.cpu_count() or 1), "--target", "kaggle-t4"]
    r = run(
        [*cmd, "-t", LLAMA_DIR / "lib", "--lock", LLAMA_DIR / "pylock.toml"],
        env=tool_env(KBUNDLE_CACHE_DIR=str(cache)),
        cwd=LLAMA_DIR,
        log=LLAMA_DIR / "build.log",
        timeout=LLAMA_BUILD_TIMEOUT,
    )
    built = sorted((cache / "builds").glob("*/llama_cpp_python-*.whl"))
    if not r.ok or not built:
        raise SystemExit(f"building llama-cpp-python failed, see {LLAMA_DIR / 'build.log'}[.err]")
    wheels.mkdir(parents=True, exist_ok=True)
    shutil.copy2(built[-1], wheels / built[-1].name)
    (LLAMA_DIR / "build-seconds.txt").write_text(f"{r.seconds:.0f}\n")
    return wheels


def target_platforms(tools: Tools, target: str) -> list[str]:
    """The target's platform tags, best first, as kbundle has them (manylinux_2_35 down to
    manylinux1, then linux_x86_64). pip does not expand `--platform manylinux_2_35_x86_64`
    to older manylinux tags, so it gets every one."""
    out = subprocess.run(
        [tools.kbundle, "target", "show", target, "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    tags = json.loads(out.stdout)["platform_tags"]
    return list(dict.fromkeys(tag.split("-")[2] for tag in tags))


def dist_infos(lib: Path) -> int:
    return sum(1 for p in lib.glob("*.dist-info") if p.is_dir())


def _finish(m: Measurement, lib: Path) -> None:
    """Size and package count of the lib the last run left."""
    if lib.is_dir():
        m.info["bytes"], m.info["apparent_bytes"] = tree_bytes(lib)
        m.info["packages"] = dist_infos(lib)


def bench_kbundle(
    s: ReqSet, tools: Tools, work: Path, logs: Path, links: Path | None
) -> Measurement:
    cache = work / "kbundle-cache"
    lib = work / "kbundle-lib"
    # With the prebuilt wheel in --find-links nothing is built, so --build is not passed:
    # kbundle must take the wheel.
    extra = ["-f", str(links)] if links else list(s.kbundle_args)

    def once(tag: str) -> Run:
        lock = work / f"kbundle-{tag}.toml"
        lock.unlink(missing_ok=True)  # lock again (with the cache as it is), then vendor
        shutil.rmtree(lib, ignore_errors=True)
        cmd: list[str | Path] = [
            tools.kbundle,
            "vendor",
            *s.kbundle_reqs,
            "--target",
            s.target,
            *extra,
        ]
        return run(
            [*cmd, "--lock", lock, "-t", lib, "--json"],
            env=tool_env(KBUNDLE_CACHE_DIR=str(cache)),
            cwd=work,
            log=logs / f"{s.key}-kbundle-{tag}.log",
            timeout=TIMEOUT,
        )

    def cold() -> Run:
        fresh_dir(cache)
        return once("cold")

    m = measure(cold, lambda i: once(f"warm{i}"))
    _finish(m, lib)
    return m


def bench_uv(
    s: ReqSet, tools: Tools, work: Path, logs: Path, index: str, links: Path | None
) -> Measurement:
    cache = work / "uv-cache"
    lib = work / "uv-lib"
    reqs = work / "requirements.in"

    def once(tag: str) -> Run:
        shutil.rmtree(lib, ignore_errors=True)
        cmd: list[str | Path] = [
            tools.uv,
            "pip",
            "install",
            "-q",
            "--cache-dir",
            cache,
            "--python",
            tools.python,
        ]
        cmd += ["--python-version", s.python_version, "--python-platform", s.uv_platform]
        cmd += ["--default-index", index, "--target", lib, "-r", reqs]
        if links:
            cmd += ["--find-links", links]
        return run(
            cmd, env=tool_env(), cwd=work, log=logs / f"{s.key}-uv-{tag}.log", timeout=TIMEOUT
        )

    def cold() -> Run:
        fresh_dir(cache)
        return once("cold")

    m = measure(cold, lambda i: once(f"warm{i}"))
    _finish(m, lib)
    return m


def bench_pip(
    s: ReqSet, tools: Tools, work: Path, logs: Path, index: str, links: Path | None
) -> Measurement:
    cache = work / "pip-cache"
    lib = work / "pip-lib"
    reqs = work / "requirements.in"
    platforms = target_platforms(tools, s.target)

    def once(tag: str) -> Run:
        shutil.rmtree(lib, ignore_errors=True)
        # --no-compile: byte code compiled by this host's Python would be for the wrong
        # Python (and uv and kbundle write none).
        cmd: list[str | Path] = [tools.pip, "install", "-q", "--no-compile", "--cache-dir", cache]
        cmd += ["--target", lib, "--only-binary=:all:"]
        for platform_tag in platforms:
            cmd += ["--platform", platform_tag]
        cmd += ["--python-version", s.python_xy, "--implementation", "cp"]
        cmd += ["--index-url", index, "-r", reqs]
        if links:
            cmd += ["--find-links", links]
        return run(
            cmd, env=tool_env(), cwd=work, log=logs / f"{s.key}-pip-{tag}.log", timeout=TIMEOUT
        )

    def cold() -> Run:
        fresh_dir(cache)
        return once("cold")

    m = measure(cold, lambda i: once(f"warm{i}"))
    _finish(m, lib)
    return m


def cleanup(work: Path) -> None:
    """Drop the multi-GB libs and caches of a finished set (keep the logs)."""
    for name in ("kbundle-lib", "uv-lib", "pip-lib", "kbundle-cache", "uv-cache", "pip-cache"):
        shutil.rmtree(work / name, ignore_errors=True)


def report(results: dict[str, dict[str, Measurement]], tools: Tools, llama: Path | None) -> str:
    rows = []
    goal_rows = []
    for s in SETS:
        if s.key not in results:
            continue
        r = results[s.key]
        kb, uv = r["kbundle"], r.get("uv")
        for name, m in r.items():
            rows.append(
                [
                    s.key,
                    name,
                    fmt_cold(m),
                    fmt_warm(m),
                    m.info.get("packages", "-"),
                    fmt_bytes(m.info.get("bytes")),  # type: ignore[arg-type]
                    fmt_bytes(m.info.get("apparent_bytes")),  # type: ignore[arg-type]
                ]
            )
        kb_bytes, uv_bytes = kb.info.get("bytes"), uv.info.get("bytes") if uv else None
        goal_rows.append(
            [
                s.key,
                ratio(kb.warm_median, uv.warm_median if uv else None),
                ratio(
                    kb.cold.seconds if kb.cold and kb.cold.ok else None,
                    uv.cold.seconds if uv and uv.cold and uv.cold.ok else None,
                ),
                ratio(kb_bytes, uv_bytes),  # type: ignore[arg-type]
            ]
        )
    table = markdown_table(
        [
            "set",
            "tool",
            "cold s",
            "warm s (median)",
            "dists in lib",
            "lib bytes (du -sb)",
            "every name counted",
        ],
        rows,
    )
    goals = markdown_table(
        [
            "set",
            "kbundle warm / uv warm (goal ≤ 1.0)",
            "kbundle cold / uv cold",
            "kbundle lib / uv lib (goal ≤ 0.5 for llama)",
        ],
        goal_rows,
    )
    notes = [
        "- kbundle: `kbundle vendor REQS --target T --lock NEW -t LIB` (locks, then fetches "
        "and installs only what the image lacks).",
        "- uv: `uv pip install --target LIB --python-platform x86_64-manylinux_X_Y "
        "--python-version X.Y.Z -r reqs` (the full closure).",
        "- pip: `pip install --target LIB --platform manylinux_X_Y_x86_64 --platform … "
        "--python-version X.Y --implementation cp --only-binary=:all: --no-compile -r reqs` "
        "(the full closure; one `--platform` for each of the target's platform tags, "
        "manylinux_X_Y down to manylinux1 and linux_x86_64, since pip does not expand them).",
        "- Each run starts from an empty LIB; cold = empty cache, warm = the cache of the "
        "previous runs.",
        "- lib bytes: regular files, each inode once (`du -sb`; hard links, which `tar` and "
        "`kbundle pack` keep, cost once); the last column counts every name.",
    ]
    if llama is not None:
        wheel = next(llama.glob("llama_cpp_python-*.whl"))
        notes.append(
            f"- llama: every tool gets `--find-links` to one prebuilt `{wheel.name}` "
            f"({fmt_bytes(wheel.stat().st_size)}, CPU build made by kbundle beforehand, "
            "not timed); kbundle gets no `--build`, so it must take that wheel. "
            "No run builds C++."
        )
        seconds = LLAMA_DIR / "build-seconds.txt"
        if seconds.exists():
            notes[-1] += f" (That build took {seconds.read_text().strip()} s on this machine.)"
    return (
        "## Vendor\n\n"
        + machine_info(tools)
        + "\n\n"
        + "\n".join(notes)
        + "\n\n"
        + table
        + "\n\n"
        + goals
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="*", help=f"subset of {[s.key for s in SETS]}")
    parser.add_argument("--skip-pip", action="store_true", help="do not run pip install")
    parser.add_argument("--keep", action="store_true", help="keep libs and caches afterwards")
    args = parser.parse_args()
    tools = ensure_tools()
    index = index_url()
    sets = select_sets(args.sets, vendoring=True)
    llama = llama_wheel(tools) if any(s.key == "llama" for s in sets) else None
    logs = fresh_dir(BENCH_DIR / "logs" / "vendor")
    results: dict[str, dict[str, Measurement]] = {}
    for s in sets:
        work = fresh_dir(BENCH_DIR / "vendor" / s.key)
        (work / "requirements.in").write_text("\n".join(s.other_reqs) + "\n")
        links = llama if s.key == "llama" else None
        print(f"== {s.key}: {s.title} on {s.target}", flush=True)
        r: dict[str, Measurement] = {}
        print("  kbundle vendor", flush=True)
        r["kbundle"] = bench_kbundle(s, tools, work, logs, links)
        print("  uv pip install --target", flush=True)
        r["uv"] = bench_uv(s, tools, work, logs, index, links)
        if not args.skip_pip:
            print("  pip install --target", flush=True)
            r["pip"] = bench_pip(s, tools, work, logs, index, links)
        results[s.key] = r
        if not args.keep:
            cleanup(work)
    data = {k: {t: m.as_json() for t, m in r.items()} for k, r in results.items()}
    save_results(
        "vendor-results", report(results, tools, llama), {"versions": tools.versions, **data}
    )


if __name__ == "__main__":
    main()
