"""Generated wheels, images and requirement sets for bench/scaling.py, and a static index.

Everything is deterministic (seeded) and written under the bench folder. The
index is a folder of static files served by ``python -m http.server`` on
loopback in its own process (so serving costs the measured tools nothing but
the requests themselves):

* ``simple/<project>/index.html``: a PEP 503 page, each link with its
  ``#sha256=`` and ``data-core-metadata`` (PEP 658, as PyPI serves);
* ``files/<wheel>`` and ``files/<wheel>.metadata``.
"""

from __future__ import annotations

import base64
import hashlib
import html
import random
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from packaging.utils import canonicalize_name


@dataclass(frozen=True)
class Dist:
    name: str
    version: str
    requires: tuple[str, ...] = ()


def _record_hash(data: bytes) -> str:
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def write_wheel(directory: Path, dist: Dist, members: Iterable[tuple[str, bytes]]) -> Path:
    """A real wheel (deflated, RECORD with sha256 lines) of ``dist`` with ``members``."""
    stem = str(canonicalize_name(dist.name)).replace("-", "_")
    info = f"{stem}-{dist.version}.dist-info"
    metadata = (
        "\n".join(
            [
                "Metadata-Version: 2.1",
                f"Name: {dist.name}",
                f"Version: {dist.version}",
                *[f"Requires-Dist: {r}" for r in dist.requires],
            ]
        ).encode()
        + b"\n\nGenerated for kbundle's scaling benchmark.\n"
    )
    wheel_text = (
        b"Wheel-Version: 1.0\nGenerator: kbundle-bench\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    path = directory / f"{stem}-{dist.version}-py3-none-any.whl"
    records = []
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        for name, data in [*members, (f"{info}/METADATA", metadata), (f"{info}/WHEEL", wheel_text)]:
            archive.writestr(name, data)
            records.append(f"{name},{_record_hash(data)},{len(data)}")
        records.append(f"{info}/RECORD,,")
        archive.writestr(f"{info}/RECORD", "\n".join(records) + "\n")
    (directory / f"{path.name}.metadata").write_bytes(metadata)
    return path


def write_pages(root: Path) -> None:
    """``simple/<project>/index.html`` for every wheel in ``root/files``."""
    by_project: dict[str, list[Path]] = {}
    for wheel in sorted((root / "files").glob("*.whl")):
        by_project.setdefault(str(canonicalize_name(wheel.name.split("-")[0])), []).append(wheel)
    for project, wheels in by_project.items():
        anchors = []
        for wheel in wheels:
            sha = hashlib.sha256(wheel.read_bytes()).hexdigest()
            meta = hashlib.sha256(Path(f"{wheel}.metadata").read_bytes()).hexdigest()
            anchors.append(
                f'<a href="../../files/{wheel.name}#sha256={sha}" '
                f'data-core-metadata="sha256={meta}">{html.escape(wheel.name)}</a><br/>'
            )
        page = root / "simple" / project / "index.html"
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(
            '<!DOCTYPE html><html><head><meta name="pypi:repository-version" content="1.1">'
            "</head><body>\n" + "\n".join(anchors) + "\n</body></html>\n"
        )


def _module(rng: random.Random, size: int) -> bytes:
    """Python-looking text (compresses about 4:1, like real source)."""
    words = ["def", "return", "self", "value", "import", "class", "for", "in", "if", "None"]
    out = bytearray()
    while len(out) < size:
        out += (" ".join(rng.choice(words) for _ in range(12)) + f"  # {rng.random()}\n").encode()
    return bytes(out[:size])


def vendor_set(root: Path, megabytes: int) -> tuple[Path, list[str]]:
    """Wheels of about ``megabytes`` MB installed size: 30% 16 kB modules, 70% 1 MB blobs.

    One wheel per 25 MB (at least one), so both file count and wheel count
    grow with the size, as in real stacks. Returns the index root and the
    requirement names.
    """
    files = root / "files"
    marker = root / ".complete"
    names = [f"bulk{megabytes}-w{i}" for i in range(max(1, round(megabytes / 25)))]
    if marker.exists():
        return root, names
    files.mkdir(parents=True, exist_ok=True)
    rng = random.Random(megabytes)
    per_wheel = megabytes * 1_000_000 // len(names)
    for name in names:
        stem = name.replace("-", "_")
        members: list[tuple[str, bytes]] = []
        text = int(per_wheel * 0.3)
        for j in range(max(1, text // 16_000)):
            members.append((f"{stem}/pkg{j // 100}/mod{j}.py", _module(rng, 16_000)))
        for j in range(max(1, (per_wheel - text) // 1_000_000)):
            members.append((f"{stem}/_native/lib{j}.so", rng.randbytes(1_000_000)))
        write_wheel(files, Dist(name, "1.0"), members)
    write_pages(root)
    marker.write_text("ok\n")
    return root, names


def universe(root: Path, *, images: int, libs: int, apps: int, seed: int = 1) -> None:
    """A small-wheel index for the lock curves, written once.

    ``img-*`` play the image (each needs up to 3 lower-numbered ``img-*``),
    ``lib-*`` are not in any image (each needs up to 2 lower-numbered ``lib-*``),
    and every ``app-*`` needs 3 ``img-*`` among the first 50 and 3 ``lib-*``.
    Two versions of everything.
    """
    marker = root / ".complete"
    if marker.exists():
        return
    files = root / "files"
    files.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    dists: list[Dist] = []
    for i in range(images):
        deps = {f"img-{rng.randrange(i)}" for _ in range(rng.randint(0, 3))} if i else set()
        dists.append(Dist(f"img-{i}", "1.0", tuple(sorted(deps))))
    for i in range(libs):
        deps = {f"lib-{rng.randrange(i)}>=1.0" for _ in range(rng.randint(0, 2))} if i else set()
        dists.append(Dist(f"lib-{i}", "1.0", tuple(sorted(deps))))
    for i in range(apps):
        deps = {f"img-{rng.randrange(50)}" for _ in range(3)}
        deps |= {f"lib-{rng.randrange(libs)}>=1.0" for _ in range(3)}
        dists.append(Dist(f"app-{i}", "1.0", tuple(sorted(deps))))
    for dist in dists:
        stem = dist.name.replace("-", "_")
        for version in ("1.0", "1.1"):
            member = (f"{stem}/__init__.py", f"VERSION = {version!r}\n".encode())
            write_wheel(files, Dist(dist.name, version, dist.requires), [member])
    write_pages(root)
    marker.write_text("ok\n")


def image_manifest(path: Path, size: int) -> Path:
    """A pip-freeze manifest of the first ``size`` ``img-*`` packages."""
    path.write_text("".join(f"img-{i}==1.0\n" for i in range(size)))
    return path


def requirements(path: Path, names: Sequence[str]) -> Path:
    path.write_text("".join(f"{n}\n" for n in names))
    return path


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(root: Path) -> Iterator[str]:
    """Serve ``root`` on loopback in another process; yields the index URL."""
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "-d", str(root)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise SystemExit(f"the static index on port {port} did not start") from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}/simple/"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def wheel_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in (root / "files").glob("*.whl"))


def env_without_proxies(env: dict[str, str]) -> dict[str, str]:
    """Loopback must not go through a proxy."""
    out = dict(env)
    out["NO_PROXY"] = out["no_proxy"] = "127.0.0.1,localhost"
    return out
