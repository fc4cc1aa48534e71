"""Shared helpers for the kbundle benchmarks: tool venv, requirement sets, timing, tables.

Everything the benchmarks write goes under ``$KBUNDLE_BENCH_DIR`` (default
``/tmp/kbundle-bench``), never into the repository.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import platform
import shutil
import stat
import statistics
import subprocess
import sys
import sysconfig
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BENCH_DIR = Path(os.environ.get("KBUNDLE_BENCH_DIR", "/tmp/kbundle-bench"))
TOOLS_VENV = BENCH_DIR / "tools"
TOOL_PACKAGES = ("pip", "uv", "pip-tools", "pyinstrument")
WARM_REPEATS = 3
# A warm run slower than this is not repeated (pip on multi-GB sets): one sample is reported.
REPEAT_LIMIT_SECONDS = 60.0


HOST = f"host (py {platform.python_version()}, glibc {platform.libc_ver()[1]})"


def kbundle_exe() -> Path:
    """The kbundle CLI next to the interpreter running the benchmark (the project's .venv)."""
    beside = Path(sys.executable).parent / "kbundle"
    if beside.exists():
        return beside
    found = shutil.which("kbundle")
    if not found:
        sys.exit("kbundle is not installed: run `.venv/bin/pip install -e '.[test]'` first")
    return Path(found)


@functools.cache
def index_url() -> str:
    """The index kbundle uses by default (pip's configured index-url, else PyPI).

    It is passed explicitly to uv, pip and pip-compile, and to kbundle as
    ``PIP_INDEX_URL``, so that all tools ask the same index; pip's own extra
    indexes, find-links and constraints are switched off for the measured runs
    (see :func:`tool_env`).
    """
    sys.path.insert(0, str(REPO))
    from bundler.request.pip_config import default_index_url

    return str(default_index_url())


# --------------------------------------------------------------------------- requirement sets


@dataclass(frozen=True)
class ReqSet:
    key: str
    title: str
    target: str  # kbundle preset
    python_version: str  # the target's full Python version
    glibc: str  # "2.35"
    kbundle_reqs: tuple[str, ...]
    # What uv / pip are asked for; differs only where the image preloads a version
    # kbundle must keep (kaggle-gpu-2024's torch and transformers).
    other_reqs: tuple[str, ...]
    kbundle_args: tuple[str, ...] = ()
    note: str = ""
    # Lock-only sets (several GB to install) are vendored only when named.
    lock_only: bool = False

    @property
    def python_xy(self) -> str:
        return ".".join(self.python_version.split(".")[:2])

    @property
    def uv_platform(self) -> str:
        return f"x86_64-manylinux_{self.glibc.replace('.', '_')}"


DATA_SCIENCE = [
    "pandas",
    "scikit-learn",
    "scipy",
    "matplotlib",
    "seaborn",
    "polars",
    "pyarrow",
    "lightgbm",
    "xgboost",
    "catboost",
    "statsmodels",
    "optuna",
    "plotly",
    "numba",
    "sympy",
    "networkx",
    "numpy",
    "pillow",
    "shap",
    "umap-learn",
    "tqdm",
    "requests",
    "pyyaml",
    "joblib",
    "h5py",
    "openpyxl",
    "beautifulsoup4",
    "lxml",
    "sqlalchemy",
    "duckdb",
    "altair",
    "bokeh",
    "imbalanced-learn",
    "category-encoders",
    "scikit-image",
    "fastparquet",
    "pyod",
    "sktime",
    "pmdarima",
]

SETS: tuple[ReqSet, ...] = (
    ReqSet(
        key="llama",
        title="llama.cpp stack",
        target="kaggle-t4",
        python_version="3.12.13",
        glibc="2.35",
        kbundle_reqs=("llama-cpp-python",),
        other_reqs=("llama-cpp-python",),
        kbundle_args=("--build", "llama-cpp-python"),
        note="sdist only: kbundle reads its static pyproject.toml (--build llama-cpp-python)",
    ),
    ReqSet(
        key="hf-t4",
        title="torch transformers bitsandbytes accelerate peft",
        target="kaggle-t4",
        python_version="3.12.13",
        glibc="2.35",
        kbundle_reqs=("torch", "transformers", "bitsandbytes", "accelerate", "peft"),
        other_reqs=("torch", "transformers", "bitsandbytes", "accelerate", "peft"),
    ),
    ReqSet(
        key="hf-2024",
        title="transformers bitsandbytes accelerate peft (torch 2.1.2 preloaded)",
        target="kaggle-gpu-2024",
        python_version="3.10.13",
        glibc="2.31",
        kbundle_reqs=("transformers", "bitsandbytes", "accelerate", "peft"),
        other_reqs=(
            "torch==2.1.2",
            "transformers==4.41.2",
            "bitsandbytes",
            "accelerate",
            "peft",
        ),
        note="uv/pip get torch==2.1.2 transformers==4.41.2: the versions the image preloads",
    ),
    ReqSet(
        key="ds-cpu",
        title=f"data-science stack ({len(DATA_SCIENCE)} packages)",
        target="kaggle-cpu-2026",
        python_version="3.12.13",
        glibc="2.35",
        kbundle_reqs=tuple(DATA_SCIENCE),
        other_reqs=tuple(DATA_SCIENCE),
    ),
    # The LLM stacks on the rich Kaggle T4 image (726 packages).
    ReqSet(
        key="vllm",
        lock_only=True,
        title="vllm",
        target="kaggle-t4",
        python_version="3.12.13",
        glibc="2.35",
        kbundle_reqs=("vllm",),
        other_reqs=("vllm",),
    ),
    ReqSet(
        key="unsloth",
        lock_only=True,
        title="unsloth",
        target="kaggle-t4",
        python_version="3.12.13",
        glibc="2.35",
        kbundle_reqs=("unsloth",),
        other_reqs=("unsloth",),
    ),
    ReqSet(
        key="hf-trl",
        lock_only=True,
        title="transformers bitsandbytes accelerate peft trl",
        target="kaggle-t4",
        python_version="3.12.13",
        glibc="2.35",
        kbundle_reqs=("transformers", "bitsandbytes", "accelerate", "peft", "trl"),
        other_reqs=("transformers", "bitsandbytes", "accelerate", "peft", "trl"),
    ),
)


def select_sets(keys: Sequence[str] | None, *, vendoring: bool = False) -> list[ReqSet]:
    if not keys:
        return [s for s in SETS if not (vendoring and s.lock_only)]
    by_key = {s.key: s for s in SETS}
    unknown = [k for k in keys if k not in by_key]
    if unknown:
        sys.exit(f"unknown set(s) {unknown}; choose from {sorted(by_key)}")
    return [by_key[k] for k in keys]


# --------------------------------------------------------------------------- tools


@dataclass
class Tools:
    kbundle: Path
    python: Path  # the tools venv's interpreter (also handed to uv as --python)
    uv: Path
    pip: Path
    pip_compile: Path
    versions: dict[str, str] = field(default_factory=dict)


def _version(cmd: Sequence[str]) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"unknown ({exc})"
    return (out.stdout or out.stderr).strip().splitlines()[0] if (out.stdout or out.stderr) else ""


def ensure_tools() -> Tools:
    """Create ``$KBUNDLE_BENCH_DIR/tools`` with uv, pip-tools and pyinstrument from the index
    (once; reused while the marker file is there)."""
    marker = TOOLS_VENV / ".bench-ready"
    if not marker.exists():
        print(f"creating tool venv {TOOLS_VENV} ({' '.join(TOOL_PACKAGES)})", flush=True)
        shutil.rmtree(TOOLS_VENV, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(TOOLS_VENV)], check=True, timeout=300)
        pip = [str(TOOLS_VENV / "bin" / "python"), "-m", "pip", "install", "-q", "-U"]
        subprocess.run([*pip, *TOOL_PACKAGES], check=True, timeout=900)
        marker.write_text("ok\n")
    # A normal install writes byte code for every module. With PYTHONDONTWRITEBYTECODE
    # set (as on this machine) pip writes none, and each run of kbundle, pip-compile
    # or pip would compile its imports from source again (0.1-0.2 s a run, more than a
    # warm kbundle vendor's own work). Compile the editable kbundle, its venv's
    # packages and the tool venv's, once, so every Python tool is timed as installed.
    site = sysconfig.get_paths()["purelib"]
    tools_site = next((TOOLS_VENV / "lib").glob("python3*/site-packages"))
    for tree in (REPO / "bundler", Path(site), tools_site):
        subprocess.run(
            [sys.executable, "-m", "compileall", "-q", "-j", "0", str(tree)],
            check=False,  # a test fixture that does not compile must not stop the bench
            stdout=subprocess.DEVNULL,
        )
    bin_dir = TOOLS_VENV / "bin"
    tools = Tools(
        kbundle=kbundle_exe(),
        python=bin_dir / "python",
        uv=bin_dir / "uv",
        pip=bin_dir / "pip",
        pip_compile=bin_dir / "pip-compile",
    )
    tools.versions = {
        "kbundle": _version([str(tools.kbundle), "--version"]),
        "uv": _version([str(tools.uv), "--version"]),
        "pip": _version([str(tools.pip), "--version"]).split(" from ")[0],
        "pip-tools": _version([str(tools.pip_compile), "--version"]),
        "python (host)": platform.python_version(),
    }
    return tools


def tool_env(**extra: str) -> dict[str, str]:
    """Environment for measured runs.

    pip's configuration files are switched off (``PIP_CONFIG_FILE=/dev/null``,
    ``PIP_FIND_LINKS`` removed) so pip and pip-compile use only the index that is
    passed on the command line, as kbundle and uv do; CA settings in the
    environment (``PIP_CERT``, ``SSL_CERT_FILE``) stay; ``PIP_INDEX_URL`` is the index
    found before switching them off, for kbundle. uv never downloads a Python.
    """
    env = dict(os.environ)
    for name in ("PIP_FIND_LINKS", "PIP_EXTRA_INDEX_URL", "PIP_CONSTRAINT", "VIRTUAL_ENV"):
        env.pop(name, None)
    for name in [n for n in env if n.startswith("UV_")]:
        env.pop(name)
    env.update(
        PIP_CONFIG_FILE=os.devnull,
        PIP_INDEX_URL=index_url(),
        PIP_DISABLE_PIP_VERSION_CHECK="1",
        PIP_NO_INPUT="1",
        UV_PYTHON_DOWNLOADS="never",
        UV_NO_CONFIG="1",
        UV_NO_PROGRESS="1",
        NO_COLOR="1",
        TERM="dumb",
    )
    env.update(extra)
    return env


# --------------------------------------------------------------------------- running, timing


@dataclass
class Run:
    seconds: float
    returncode: int
    timed_out: bool
    log: Path

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out


def run(
    cmd: Sequence[str | os.PathLike[str]],
    *,
    env: Mapping[str, str],
    cwd: Path,
    log: Path,
    timeout: float,
) -> Run:
    """Run ``cmd`` and time it with ``time.perf_counter``.

    stdout goes to ``log``, stderr to ``log`` + ``.err`` (its first line is the command).
    """
    log.parent.mkdir(parents=True, exist_ok=True)
    cwd.mkdir(parents=True, exist_ok=True)
    argv = [os.fspath(c) for c in cmd]
    # Flush what earlier runs wrote or deleted (GBs for the torch sets) so that no
    # run pays for the write-back of another one.
    os.sync()
    with log.open("w") as stdout, Path(f"{log}.err").open("w") as out:
        out.write("$ " + " ".join(argv) + "\n\n")
        out.flush()
        start = time.perf_counter()
        proc = subprocess.Popen(
            argv, cwd=cwd, env=dict(env), stdout=stdout, stderr=out, start_new_session=True
        )
        # Popen.wait(timeout=...) polls, sleeping up to 50 ms between looks, which
        # rounded every sub-second run up to the next 50 ms step (0.2135, 0.2635,
        # ...). A blocking wait returns the moment the process ends; a timer kills
        # the process group (the whole command) when it runs out of time.
        expired = threading.Event()

        def kill() -> None:
            expired.set()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, 9)

        timer = threading.Timer(timeout, kill)
        timer.start()
        try:
            code = proc.wait()
        finally:
            timer.cancel()
        seconds = time.perf_counter() - start
        timed_out = expired.is_set()
        out.write(f"\n[exit {code}{' (timeout)' if timed_out else ''} after {seconds:.2f}s]\n")
    status = "TIMEOUT" if timed_out else ("ok" if code == 0 else f"exit {code}")
    print(f"    {seconds:8.2f}s  {status:8}  {log.name}", flush=True)
    return Run(seconds, code, timed_out, log)


@dataclass
class Measurement:
    """Cold run and warm runs of one tool on one set."""

    cold: Run | None = None
    warm: list[Run] = field(default_factory=list)
    info: dict[str, object] = field(default_factory=dict)

    @property
    def warm_median(self) -> float | None:
        good = [r.seconds for r in self.warm if r.ok]
        return statistics.median(good) if good else None

    @property
    def warm_failed(self) -> Run | None:
        return next((r for r in self.warm if not r.ok), None)

    def as_json(self) -> dict[str, object]:
        return {
            "cold": None if self.cold is None else _run_json(self.cold),
            "warm": [_run_json(r) for r in self.warm],
            "warm_median": self.warm_median,
            **self.info,
        }


def _run_json(r: Run) -> dict[str, object]:
    return {"seconds": round(r.seconds, 3), "rc": r.returncode, "timeout": r.timed_out}


def measure(
    cold: Callable[[], Run] | None,
    warm: Callable[[int], Run],
    repeats: int = WARM_REPEATS,
) -> Measurement:
    """One cold run (if given), then up to ``repeats`` warm runs; a warm run slower than
    ``REPEAT_LIMIT_SECONDS`` or a failed one is not repeated."""
    m = Measurement()
    if cold is not None:
        m.cold = cold()
        if not m.cold.ok:
            return m
    for i in range(repeats):
        r = warm(i)
        m.warm.append(r)
        if not r.ok or r.seconds > REPEAT_LIMIT_SECONDS:
            break
    return m


def fresh_dir(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def tree_bytes(path: Path) -> tuple[int, int]:
    """(bytes, apparent bytes) of the regular files under ``path``, symlinks not followed.

    ``bytes`` counts each inode once, as ``du -sb`` does (hard links to one file
    cost its size once, on disk and in a tar archive); ``apparent`` counts every
    name, as a copy that does not keep hard links would.
    """
    seen: set[tuple[int, int]] = set()
    unique = apparent = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            st = Path(root, name).lstat()
            if not stat.S_ISREG(st.st_mode):
                continue
            apparent += st.st_size
            if (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                unique += st.st_size
    return unique, apparent


# --------------------------------------------------------------------------- formatting


def fmt_s(value: float | None, run: Run | None = None) -> str:
    if run is not None and run.timed_out:
        return f">{run.seconds:.0f} (timeout)"
    if run is not None and not run.ok:
        return f"failed ({run.returncode})"
    return "-" if value is None else f"{value:.2f}"


def fmt_cold(m: Measurement | None) -> str:
    if m is None or m.cold is None:
        return "-"
    return fmt_s(m.cold.seconds, m.cold)


def fmt_warm(m: Measurement | None) -> str:
    if m is None:
        return "-"
    if m.cold is not None and not m.cold.ok:
        return "-"
    bad = m.warm_failed
    if bad is not None and m.warm_median is None:
        return fmt_s(None, bad)
    med = m.warm_median
    if med is None:
        return "-"
    n = sum(1 for r in m.warm if r.ok)
    return f"{med:.2f}" if n == WARM_REPEATS else f"{med:.2f} (n={n})"


def fmt_bytes(n: int | None) -> str:
    if n is None:
        return "-"
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


def ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0:
        return "-"
    return f"{a / b:.2f}x"


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [[str(c) for c in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in cells
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def machine_info(tools: Tools) -> str:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = "unknown"
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    lines = [
        f"- date: {time.strftime('%Y-%m-%d %H:%M %Z')}",
        f"- machine: {os.cpu_count()} CPUs ({cpu}), {mem} RAM, {platform.platform()}",
    ]
    lines += [f"- {name}: {version}" for name, version in tools.versions.items()]
    lines.append(f"- kbundle source: {source_state()}")
    return "\n".join(lines)


def source_state() -> str:
    """The commit the benchmark ran on, and whether bundler/ had uncommitted changes."""
    try:
        head = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(REPO), "status", "--porcelain", "--", "bundler"],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown (no git)"
    return f"commit {head}" + (" with uncommitted changes in bundler/" if dirty else "")


def save_results(name: str, markdown: str, data: object) -> None:
    """Print the Markdown report and keep it, with the raw JSON, in the bench folder."""
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    (BENCH_DIR / f"{name}.md").write_text(markdown + "\n")
    (BENCH_DIR / f"{name}.json").write_text(json.dumps(data, indent=2, default=str) + "\n")
    print()
    print(markdown)
    print(f"\n(saved to {BENCH_DIR / (name + '.md')} and {name}.json; logs in {BENCH_DIR}/logs)")


def count_pins(requirements_txt: Path) -> int | None:
    """Number of ``name==version`` lines in a compiled requirements file."""
    try:
        text = requirements_txt.read_text()
    except OSError:
        return None
    return sum(1 for line in text.splitlines() if "==" in line and not line.startswith("#"))
