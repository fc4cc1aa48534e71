"""``kbundle pack --dataset``: a lib as a folder ready for ``kaggle datasets create``.

A notebook competition scores a notebook with the internet off; its packages
come from datasets attached to it, mounted read-only under
``/kaggle/input/<slug>/``. The folder written here holds ``lib/`` (plus the
``--add`` files) and the ``dataset-metadata.json`` the Kaggle CLI reads, and is
uploaded with ``kaggle datasets create -p DIR --dir-mode zip`` (then
``kaggle datasets version``): without ``--dir-mode`` the CLI skips
sub-folders. The activation snippet then finds ``/kaggle/input/<slug>/lib``.

Kaggle's limits, checked before anything is written:

* ``dataset-metadata.json``: the kaggle-api docs (``docs/datasets_metadata.md``,
  "Dataset Metadata") and the checks ``KaggleApi.dataset_create_new`` runs
  before uploading: ``id`` is ``owner/slug`` with a slug of 6 to 50
  characters (the docs say 3, the CLI refuses fewer than 6), ``title`` 6 to 50
  characters, exactly one ``licenses`` entry.
* At most 1000 files per dataset version: the API refuses more with
  "Dataset version creation error: The file count exceeds the maximum of
  1000" (quoted in whirlwide/candlestick_retriever#15). With ``--dir-mode
  zip`` each top-level folder is uploaded as one archive, so the entries at
  the top are what counts.
* 100 GB per dataset, the figure of Kaggle's datasets documentation
  (technical specifications); private datasets also share the account's
  private quota ("over 100 GB", Developing Kaggle Notebooks, ch. 1). The
  uncompressed size is compared: an upper bound of what is uploaded.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bundler import __version__
from bundler.errors import InputError
from bundler.vendor.libswap import recover, staging_dir, swap_into_place

__all__ = [
    "DATASET_BYTES_LIMIT",
    "DATASET_FILES_LIMIT",
    "METADATA_FILE",
    "DatasetResult",
    "dataset_metadata",
    "write_dataset",
]

METADATA_FILE = "dataset-metadata.json"
#: Files (top-level entries, with --dir-mode zip) in one dataset version.
DATASET_FILES_LIMIT = 1000
#: Bytes in one dataset.
DATASET_BYTES_LIMIT = 100 * 1000**3
_SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{4,48})[a-z0-9]$")
_OWNER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


@dataclass(frozen=True)
class DatasetResult:
    folder: Path
    dataset_id: str
    files: int
    bytes: int


def dataset_metadata(dataset_id: str, title: str | None, target: str | None) -> dict[str, object]:
    """The ``dataset-metadata.json`` document, validated as the Kaggle CLI does."""
    owner, _, slug = dataset_id.partition("/")
    if not owner or not _OWNER.match(owner) or not _SLUG.match(slug):
        raise InputError(
            f"{dataset_id!r} is not a Kaggle dataset id",
            source="--dataset-id",
            hint="Give OWNER/SLUG: your Kaggle user (or organisation) name and a slug of 6 to "
            "50 lowercase letters, digits and hyphens, e.g. alice/llm-agent-lib.",
        )
    title = title if title is not None else slug
    if not 6 <= len(title) <= 50:
        raise InputError(
            f"the title {title!r} has {len(title)} characters; Kaggle wants 6 to 50",
            source="--title",
        )
    where = f" for target {target}" if target else ""
    return {
        "title": title,
        "id": dataset_id,
        # The packages keep their own licenses: "other" says so, the
        # description points at them.
        "licenses": [{"name": "other"}],
        "description": (
            f"Python packages vendored by kbundle {__version__}{where}, each under its own "
            "license (see lib/*.dist-info). Attach this dataset to a notebook and put the "
            "activation snippet `kbundle vendor` prints in its first cell: it finds "
            "/kaggle/input/<this dataset>/lib."
        ),
    }


def write_dataset(
    lib: Path,
    dest: Path,
    metadata: dict[str, object],
    extra: Sequence[tuple[Path, str]] = (),
    *,
    limit_bytes: int = DATASET_BYTES_LIMIT,
) -> DatasetResult:
    """Write ``dest`` = ``lib/`` + ``extra`` + the metadata, replacing it atomically.

    ``dest`` must be new, empty, or a dataset folder written by this function
    (anything else is refused, never deleted). ``extra`` are ``(path, name)``
    pairs as :func:`bundler.pack.archive.parse_add` returns.
    """
    if not (lib / "kbundle_boot.py").is_file():
        raise InputError(
            "is not a lib kbundle vendored (it has no kbundle_boot.py)",
            source=str(lib),
            hint="Run `kbundle vendor -t DIR` first, or give that DIR with --lib.",
        )
    _check_dest(dest)
    names = ["lib", *(name.split("/", 1)[0] for _, name in extra)]
    clashes = sorted({n for n in names if names.count(n) > 1} | ({METADATA_FILE} & set(names)))
    if clashes:
        raise InputError(
            "two entries would share a name in the dataset: " + ", ".join(clashes),
            source="--add",
        )
    if len(names) > DATASET_FILES_LIMIT:
        raise InputError(
            f"the dataset would have {len(names)} top-level entries; Kaggle takes at most "
            f"{DATASET_FILES_LIMIT} files per dataset",
            source="--add",
            hint="Put the files in a folder and --add the folder: it is uploaded as one archive.",
        )
    sources = [(lib, "lib"), *extra]
    size = sum(_tree_bytes(path) for path, _ in sources)
    if size > limit_bytes:
        raise InputError(
            f"the dataset would hold {size / 1000**3:.1f} GB, above Kaggle's "
            f"{limit_bytes / 1000**3:.0f} GB per dataset",
            source=str(dest),
            hint="Ship the model as a dataset of its own and attach both to the notebook.",
        )
    recover(dest)
    staging = staging_dir(dest)
    try:
        files = 0
        for path, name in sources:
            files += _copy(path, staging / name)
        text = json.dumps(metadata, indent=2) + "\n"
        (staging / METADATA_FILE).write_text(text, encoding="utf-8")
        swap_into_place(staging, dest)
    except BaseException:
        recover(dest)
        raise
    return DatasetResult(dest, str(metadata["id"]), files, size)


def _check_dest(dest: Path) -> None:
    if not dest.exists():
        return
    if not dest.is_dir():
        raise InputError("exists and is not a folder", source=str(dest))
    ours = (dest / METADATA_FILE).is_file() and (dest / "lib" / "kbundle_boot.py").is_file()
    if not ours and any(dest.iterdir()):
        raise InputError(
            "is not empty and is not a dataset folder kbundle wrote; it is left as it is",
            source=str(dest),
            hint="Give a new or empty folder to --dataset.",
        )


def _walk(root: Path) -> list[Path]:
    if not root.is_dir() or root.is_symlink():
        return [root]
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        found += [Path(folder, f) for f in sorted(files)]
    return found


def _tree_bytes(root: Path) -> int:
    # Every name counts: the upload archive stores hard-linked copies in full.
    return sum(p.lstat().st_size for p in _walk(root) if not p.is_symlink())


def _copy(source: Path, dest: Path) -> int:
    """Copy a file or tree (no __pycache__), keeping its hard links and modes."""
    if not source.is_dir():
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, dest)
        return 1
    seen: dict[tuple[int, int], Path] = {}
    count = 0
    for path in _walk(source):
        target = dest / path.relative_to(source)
        target.parent.mkdir(parents=True, exist_ok=True)
        if path.is_symlink():
            target.symlink_to(path.readlink())
            continue
        st = path.stat()
        first = seen.get((st.st_dev, st.st_ino))
        if first is not None:
            os.link(first, target)  # kbundle vendor hard-links identical files: keep it so
        else:
            shutil.copy2(path, target)
            seen[(st.st_dev, st.st_ino)] = target
        count += 1
    return count
