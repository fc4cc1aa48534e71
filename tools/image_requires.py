"""Generate the image requirements a preset ships as package data.

A preset lists what its image has installed (a ``pip freeze``) but not what
each of those packages requires. kbundle needs that to know which image
packages a vendored version would break. Asking the index at lock time means
hundreds of metadata fetches on a rich image, so this script asks once and
writes, beside each preset TOML, ``<preset>.image-requires.json``::

    {"generated": "2026-12-03", "script": "tools/image_requires.py",
     "packages": {"torch": {"version": "2.10.0+cu128",
                            "requires": ["filelock", ...], "wheel_size": 915000000},
                  "some-sdist-only": {"version": "1.0", "requires": null}}}

``requires`` is the Requires-Dist of the index's wheel of the same public
version (``null`` when the index has no such wheel: kbundle then treats the
package's requirements as unknown); ``wheel_size`` that wheel's size in bytes
(the installed size is larger). The loader applies an entry only while its
version matches the preset's, so a stale file is harmless.

Run from the repository root (network; about a minute per rich preset)::

    .venv/bin/python tools/image_requires.py            # every preset
    .venv/bin/python tools/image_requires.py kaggle-gpu-2026 kaggle-cpu-2026

It uses kbundle's own index configuration (pip's configured index, else the
default one) and cache.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from packaging.utils import NormalizedName, canonicalize_name
from packaging.version import InvalidVersion, Version

from bundler.errors import KbundleError
from bundler.index.finder import Finder
from bundler.index.metadata import parse_core_metadata
from bundler.net.client import HttpClient
from bundler.request.index_config import IndexConfig
from bundler.request.pip_config import default_index_url
from bundler.resolve.candidates import build_offer, tag_ranks
from bundler.target.model import Target
from bundler.target.presets import IMAGE_REQUIRES_SUFFIX, load_preset, preset_folder, preset_names


def _entry(finder: Finder, target: Target, name: NormalizedName) -> dict[str, Any]:
    dist = target.installed[name]
    entry: dict[str, Any] = {"version": dist.version, "requires": None}
    if dist.version is None:
        return entry
    try:
        public = Version(dist.version).public
    except InvalidVersion:
        return entry
    try:
        links = [link for link in finder.files(name) if link.is_wheel]
    except KbundleError as exc:
        print(f"  {name}: {exc.message}", file=sys.stderr)
        return entry
    # The wheel the target would use, else any wheel of that release.
    offer = build_offer(name, links, target, tag_ranks(target.tags), may_build=False)
    same = [c.link for c in offer.candidates if c.version.public == public and c.link]
    same += [link for link in links if link.version.public == public]
    if not same:
        return entry
    link = same[0]
    try:
        meta = parse_core_metadata(finder.metadata(link) or b"", link.filename)
    except KbundleError as exc:
        print(f"  {name}: {exc.message}", file=sys.stderr)
        return entry
    entry["requires"] = [str(r) for r in meta.requires_dist]
    entry["wheel_size"] = link.size
    return entry


def render(doc: dict[str, Any]) -> str:
    """The file's text: one package per line, so a regeneration diffs per package."""
    packages = doc["packages"]
    lines = [
        f"  {json.dumps(name)}: {json.dumps(packages[name], sort_keys=True)}"
        for name in sorted(packages)
    ]
    head = {k: v for k, v in doc.items() if k != "packages"}
    top = [f"  {json.dumps(k)}: {json.dumps(v)}," for k, v in sorted(head.items())]
    return (
        "{\n"
        + "\n".join(top)
        + '\n  "packages": {\n'
        + ",\n".join("  " + line for line in lines)
        + "\n  }\n}\n"
    )


def generate(preset: str, finder: Finder) -> Path:
    """Write the image requirements of ``preset``; returns the file written."""
    target = load_preset(preset)
    names = sorted(NormalizedName(canonicalize_name(n)) for n in target.installed)
    with ThreadPoolExecutor(max_workers=16) as pool:
        entries = dict(
            zip(names, pool.map(lambda n: _entry(finder, target, n), names), strict=True)
        )
    doc = {
        "generated": datetime.datetime.now(datetime.timezone.utc).date().isoformat(),
        "script": "tools/image_requires.py",
        "packages": entries,
    }
    path = preset_folder() / f"{preset}{IMAGE_REQUIRES_SUFFIX}"
    path.write_text(render(doc))
    known = sum(e["requires"] is not None for e in entries.values())
    print(f"{path}: {known} of {len(entries)} packages with requirements", file=sys.stderr)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("presets", nargs="*", help="preset names (default: every preset)")
    args = parser.parse_args(argv)
    finder = Finder(IndexConfig(index_urls=(default_index_url(),)), HttpClient())
    for preset in args.presets or preset_names():
        generate(preset, finder)
    return 0


if __name__ == "__main__":
    sys.exit(main())
