"""Where does kbundle spend its time? Import time, cProfile and pyinstrument.

Run from the repository root after the README's set-up:

    .venv/bin/python bench/profile_kbundle.py [--sets llama hf-2024 ds-cpu]
                                              [--vendor-sets llama hf-2024]

It measures the interpreter's bare start-up, `kbundle --version` (start-up plus
the CLI's imports) and `-X importtime` of the CLI; then for each set, the
imports of a warm `kbundle lock` (`-X importtime`, no profiler) and a cold and a
warm `kbundle lock` under cProfile (own time summed by kind, named phases, top
functions) and pyinstrument (call trees); and for each vendor set a cold and a
warm `kbundle vendor` under cProfile (llama with vendor.py's prebuilt wheel).
Reports go to $KBUNDLE_BENCH_DIR/profile/.
"""

from __future__ import annotations

import argparse
import io
import pstats
import re
import shutil
import statistics
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

from common import (
    BENCH_DIR,
    ReqSet,
    Tools,
    ensure_tools,
    fresh_dir,
    markdown_table,
    run,
    select_sets,
    tool_env,
)

PROFILE_DIR = BENCH_DIR / "profile"
PYINSTRUMENT_LIB = BENCH_DIR / "pyinstrument-lib"
TIMEOUT = 300.0


def pyinstrument_path(tools: Tools) -> Path | None:
    """pyinstrument alone (no dependencies) in a folder for PYTHONPATH, so it runs inside
    the project's interpreter without shadowing kbundle's own dependencies."""
    if not (PYINSTRUMENT_LIB / "pyinstrument").is_dir():
        cmd: list[str | Path] = [
            tools.pip,
            "install",
            "-q",
            "--no-deps",
            "--target",
            PYINSTRUMENT_LIB,
        ]
        proc = subprocess.run([*cmd, "pyinstrument"], timeout=600, check=False)
        if proc.returncode:
            return None
    return PYINSTRUMENT_LIB


def startup(tools: Tools, logs: Path) -> list[list[str]]:
    rows = []
    commands: tuple[tuple[str, list[str | Path]], ...] = (
        ("python -c pass", [sys.executable, "-c", "pass"]),
        ("python -c 'import bundler.cli'", [sys.executable, "-c", "import bundler.cli"]),
        ("kbundle --version", [tools.kbundle, "--version"]),
        ("uv --version", [tools.uv, "--version"]),
    )
    for label, cmd in commands:
        times = [
            run(cmd, env=tool_env(), cwd=PROFILE_DIR, log=logs / "startup.log", timeout=60).seconds
            for _ in range(5)
        ]
        rows.append([label, f"{statistics.median(times):.3f}"])
    return rows


def import_times(
    args: list[str], log: Path, env: dict[str, str] | None = None
) -> tuple[float, list[list[str]]]:
    """Total import time of ``python -X importtime ARGS`` (every import, also those done
    lazily inside functions) and the packages that cost the most (self time summed over
    each package's modules)."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=env or tool_env(),
        cwd=log.parent,
        check=False,
    )
    log.write_text(proc.stderr)
    by_package: dict[str, int] = defaultdict(int)
    total = 0
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)", line)
        if not m:
            continue
        self_us, cumulative, indent, name = int(m[1]), int(m[2]), m[3], m[4]
        top = name.split(".")[0]
        if top == "bundler" and "." in name:
            top = ".".join(name.split(".")[:2])
        by_package[top] += self_us
        if indent == " ":  # an import not nested in another one
            total += cumulative
    rows = [
        [name, f"{us / 1000:.0f}"]
        for name, us in sorted(by_package.items(), key=lambda kv: -kv[1])[:15]
    ]
    return total / 1e6, rows


CATEGORIES = (
    # (label, substrings of "file:function" that select a function's own time)
    ("network (TLS reads, CA loading, connect)", ("_ssl.", "socket", "load_verify_locations")),
    ("waiting on worker threads / locks", ("_thread.lock", "_thread.RLock")),
    ("zlib decompress + crc (wheels, sdists)", ("zlib.", "gzip.py", "_compression.py")),
    ("tar headers (sdists)", ("tarfile.py",)),
    ("zip handling", ("zipfile",)),
    ("sha256 hashing", ("_hashlib",)),
    (
        "imports (finding, unmarshalling, running module bodies)",
        (
            "<frozen importlib",
            "builtins.compile",
            "marshal.loads",
            "_imp.",
            "builtins.exec",
            "__build_class__",
            "io.open_code",
        ),
    ),
    ("packaging (versions, specifiers, tags)", ("packaging/",)),
    ("resolvelib", ("resolvelib/",)),
    ("json", ("json/",)),
    ("email parser (core metadata)", ("email/",)),
    ("regular expressions", ("re/_", "re.Pattern", "sre_")),
    ("file I/O", ("io.open", "BufferedReader", "BufferedWriter", "posix.", "os.py", "shutil")),
    ("kbundle's own code", ("/bundler/",)),
)


def breakdown(prof: Path) -> tuple[float, float, list[list[str]]]:
    """(total, time in imports, own time per category) of a cProfile file.

    The import time is the cumulative time of importlib's ``_find_and_load``
    (outermost calls only, module bodies included), wherever the import happens.
    """
    stats = pstats.Stats(str(prof)).stats  # type: ignore[attr-defined]
    totals: dict[str, float] = defaultdict(float)
    total = imports = 0.0
    for (filename, _line, func), (_cc, _nc, tottime, cumtime, _callers) in stats.items():
        where = f"{filename}:{func}"
        if filename.endswith("bundler/__main__.py") and func == "<module>":
            total = cumtime
        if filename == "<frozen importlib._bootstrap>" and func == "_find_and_load":
            imports = cumtime
        label = next((lab for lab, keys in CATEGORIES if any(k in where for k in keys)), "other")
        totals[label] += tottime
    rows = [[label, f"{sec:.3f}"] for label, sec in sorted(totals.items(), key=lambda kv: -kv[1])]
    return total, imports, rows


def breakdown_text(title: str, prof: Path) -> str:
    total, imports, rows = breakdown(prof)
    return (
        f"{title} under cProfile: {total:.2f} s, of which {imports:.2f} s importing modules "
        "(cumulative); own time by kind (s):\n\n" + markdown_table(["kind", "s"], rows[:10])
    )


def lock_cmd(s: ReqSet, out: Path) -> list[str]:
    return ["lock", *s.kbundle_reqs, "--target", s.target, *s.kbundle_args, "-o", str(out)]


def cprofile(s: ReqSet, cache: Path, tag: str, work: Path) -> str:
    out = work / f"{s.key}-{tag}.prof"
    lock = work / f"{s.key}-{tag}.toml"
    lock.unlink(missing_ok=True)
    cmd: list[str | Path] = [
        sys.executable,
        "-m",
        "cProfile",
        "-o",
        str(out),
        "-m",
        "bundler",
        *lock_cmd(s, lock),
    ]
    run(
        cmd,
        env=tool_env(KBUNDLE_CACHE_DIR=str(cache)),
        cwd=work,
        log=work / f"{s.key}-{tag}.cprofile.log",
        timeout=TIMEOUT,
    )
    buf = io.StringIO()
    stats = pstats.Stats(str(out), stream=buf)
    stats.sort_stats("cumulative").print_stats(25)
    stats.sort_stats("tottime").print_stats(20)
    text = buf.getvalue()
    (work / f"{s.key}-{tag}.cprofile.txt").write_text(text)
    return text


def pyinstrument(s: ReqSet, cache: Path, tag: str, work: Path, lib: Path) -> Path:
    lock = work / f"{s.key}-{tag}-pyi.toml"
    lock.unlink(missing_ok=True)
    report = work / f"{s.key}-{tag}.pyinstrument.txt"
    cmd: list[str | Path] = [
        sys.executable,
        "-m",
        "pyinstrument",
        "--show-all",
        "-r",
        "text",
        "-o",
        str(report),
    ]
    run(
        [*cmd, "-m", "bundler", *lock_cmd(s, lock)],
        env=tool_env(KBUNDLE_CACHE_DIR=str(cache), PYTHONPATH=str(lib)),
        cwd=work,
        log=work / f"{s.key}-{tag}.pyinstrument.log",
        timeout=TIMEOUT,
    )
    return report


PHASES = (
    # (label, end of the file name, function): cumulative times worth naming
    ("lock: resolve", "bundler/lock/run.py", "run_lock"),
    ("lock: rank files per project (build_offer)", "bundler/resolve/candidates.py", "build_offer"),
    ("lock: Requires-Python checks (python_ok)", "bundler/resolve/candidates.py", "python_ok"),
    ("lock: prefetch hints (thread start-up)", "bundler/lock/prefetch.py", "hint"),
    ("lock: read sdist metadata", "bundler/index/sdist_metadata.py", "sdist_metadata"),
    ("vendor: install wheels", "bundler/vendor/install.py", "install_wheels"),
    ("vendor: find or unpack cached wheels", "bundler/vendor/unpacked.py", "unpacked_wheel"),
    ("vendor: unpack and verify a wheel", "bundler/vendor/unpack.py", "unpack_wheel"),
    ("vendor: link the lib from the cache", "bundler/vendor/install.py", "_link_all"),
)


def phases(prof: Path) -> str:
    stats = pstats.Stats(str(prof)).stats  # type: ignore[attr-defined]
    found = []
    for label, suffix, name in PHASES:
        for (filename, _line, func), (_cc, nc, _tt, cumtime, _callers) in stats.items():
            if func == name and filename.endswith(suffix):
                found.append(f"{label} {cumtime:.2f} s ({nc} calls)")
    return "; ".join(found)


def vendor_profile(s: ReqSet, work: Path) -> list[Path]:
    """cProfile of a cold and a warm `kbundle vendor` of a set (llama: with the prebuilt
    wheel of vendor.py's llama-wheel folder, skipped when it is not there)."""
    extra = list(s.kbundle_args)
    if s.key == "llama":
        wheels = BENCH_DIR / "llama-wheel" / "wheels"
        if not list(wheels.glob("llama_cpp_python-*.whl")):
            return []
        extra = ["-f", str(wheels)]
    cache = fresh_dir(work / f"vendor-{s.key}-cache")
    lib = work / f"vendor-{s.key}-lib"
    cmd = ["vendor", *s.kbundle_reqs, "--target", s.target, *extra, "-t", str(lib)]
    profiles = []
    for tag in ("cold", "warm"):
        lock = work / f"vendor-{s.key}-{tag}.toml"
        lock.unlink(missing_ok=True)
        shutil.rmtree(lib, ignore_errors=True)
        out = work / f"vendor-{s.key}-{tag}.prof"
        run(
            [sys.executable, "-m", "cProfile", "-o", out, "-m", "bundler", *cmd, "--lock", lock],
            env=tool_env(KBUNDLE_CACHE_DIR=str(cache)),
            cwd=work,
            log=work / f"vendor-{s.key}-{tag}.cprofile.log",
            timeout=TIMEOUT,
        )
        buf = io.StringIO()
        stats = pstats.Stats(str(out), stream=buf)
        stats.sort_stats("cumulative").print_stats(40)
        stats.sort_stats("tottime").print_stats(20)
        (work / f"vendor-{s.key}-{tag}.cprofile.txt").write_text(buf.getvalue())
        profiles.append(out)
    shutil.rmtree(lib, ignore_errors=True)
    shutil.rmtree(cache, ignore_errors=True)
    return profiles


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", nargs="*", default=["llama", "hf-2024", "ds-cpu"])
    parser.add_argument(
        "--vendor-sets", nargs="*", default=["llama", "hf-2024"], help="none when given empty"
    )
    args = parser.parse_args()
    tools = ensure_tools()
    work = fresh_dir(PROFILE_DIR)
    lib = pyinstrument_path(tools)
    parts = ["## Profile of kbundle\n"]
    parts.append(
        "Start-up (median of 5, seconds):\n\n"
        + markdown_table(["command", "s"], startup(tools, work))
    )
    total, rows = import_times(["-c", "import bundler.cli"], work / "importtime-cli.txt")
    parts.append(
        f"`python -X importtime -c 'import bundler.cli'`: {total:.3f} s in all; "
        "self time by package (ms):\n\n" + markdown_table(["package", "ms"], rows)
    )
    for s in select_sets(args.sets):
        cache = work / f"{s.key}-cache"
        # cold: empty cache; warm: the same cache again (both with a fresh output lock)
        fresh_dir(cache)
        cprofile(s, cache, "cold", work)
        cprofile(s, cache, "warm", work)
        if lib is not None:
            fresh_dir(cache)
            pyinstrument(s, cache, "cold", work, lib)
            pyinstrument(s, cache, "warm", work, lib)
        warm_lock = work / f"{s.key}-importtime.toml"
        total, rows = import_times(
            ["-m", "bundler", *lock_cmd(s, warm_lock)],
            work / f"{s.key}-importtime.txt",
            tool_env(KBUNDLE_CACHE_DIR=str(cache)),
        )
        parts.append(
            f"`python -X importtime -m bundler lock` `{s.key}` (warm, no profiler): {total:.3f} s "
            "importing modules; the costliest packages (self ms): "
            + ", ".join(f"{name} {ms}" for name, ms in rows[:8])
        )
        for tag in ("cold", "warm"):
            title = f"`kbundle lock` `{s.key}` {tag}"
            prof = work / f"{s.key}-{tag}.prof"
            parts.append(breakdown_text(title, prof) + "\n\nPhases: " + phases(prof))
        parts.append(f"reports: {work}/{s.key}-{{cold,warm}}.{{cprofile,pyinstrument}}.txt")
    for s in select_sets(args.vendor_sets, vendoring=True) if args.vendor_sets else []:
        for prof, tag in zip(vendor_profile(s, work), ("cold", "warm"), strict=False):
            title = f"`kbundle vendor` `{s.key}` {tag}"
            parts.append(breakdown_text(title, prof) + "\n\nPhases: " + phases(prof))
        parts.append(f"reports: {work}/vendor-{s.key}-{{cold,warm}}.cprofile.txt")
    text = "\n\n".join(parts)
    (work / "summary.md").write_text(text + "\n")
    print()
    print(text)


if __name__ == "__main__":
    main()
