"""``kbundle pack``: write submission.tar.gz from a submission folder, or a dataset folder."""

from __future__ import annotations

from pathlib import Path

import click

from bundler.cli.report import human_size, plural, show_path
from bundler.cli.settings import settings, verbosity_options
from bundler.errors import InputError
from bundler.pack.archive import pack, parse_add
from bundler.target.presets import load_target


def default_source(cwd: Path) -> Path:
    """The folder to pack when none is given: the current one if it holds main.py."""
    return cwd if (cwd / "main.py").is_file() else cwd / "submission"


@click.command("pack")
@verbosity_options
@click.argument(
    "source", type=click.Path(path_type=Path, file_okay=False), required=False, metavar="[DIR]"
)
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path, dir_okay=False),
    help="The archive to write (default: submission.tar.gz).",
)
@click.option(
    "--add",
    "additions",
    multiple=True,
    metavar="PATH[:ARCNAME]",
    help="Also add a file or folder (e.g. the model), under ARCNAME if given.",
)
@click.option(
    "--dataset",
    "dataset",
    type=click.Path(path_type=Path, file_okay=False),
    metavar="FOLDER",
    help="Instead of an archive, write the lib (and --add files) into FOLDER with its "
    "dataset-metadata.json, for `kaggle datasets create -p FOLDER --dir-mode zip`.",
)
@click.option(
    "--dataset-id",
    metavar="OWNER/SLUG",
    help="With --dataset: the Kaggle dataset id (your user name / a slug of 6-50 "
    "lowercase letters, digits, hyphens).",
)
@click.option("--title", help="With --dataset: the dataset's title (default: the slug).")
@click.option(
    "--lib",
    "lib",
    type=click.Path(path_type=Path, file_okay=False),
    help="With --dataset: the lib to ship (default: DIR/lib when DIR is given, else "
    "[tool.kbundle] lib, else submission/lib).",
)
@click.option(
    "--target",
    "target",
    metavar="NAME|FILE",
    help="Also enforce this target's unpacked-size limit (e.g. aws-lambda-py312-x86_64: "
    "250 MB); default: [tool.kbundle] target.",
)
def pack_command(
    source: Path | None,
    output: Path | None,
    additions: tuple[str, ...],
    dataset: Path | None,
    dataset_id: str | None,
    title: str | None,
    lib: Path | None,
    target: str | None,
) -> None:
    """Pack DIR (main.py at its root, lib/ beside it) into a Kaggle submission.

    DIR defaults to the current folder when it holds main.py, else ./submission.
    Entries are sorted and their owner and times normalised, so the same
    folder gives the same archive; above Kaggle's 20 GB limit it is an error,
    and so is exceeding the target's unpacked-size limit, if it has one.

    With --dataset FOLDER, the lib is written as a Kaggle dataset for a
    notebook competition instead (see the README).
    """
    extra = [parse_add(a) for a in additions]
    s = settings()
    if dataset is not None:
        _pack_dataset(source, dataset, dataset_id, title, lib, output, extra, s.quiet)
        return
    for name, value in (("--dataset-id", dataset_id), ("--title", title), ("--lib", lib)):
        if value is not None:
            raise InputError(f"{name} is only used with --dataset", source=name)
    folder = source if source is not None else default_source(Path.cwd())
    if source is None and not folder.is_dir():
        raise InputError(
            "nothing to pack: the current folder has no main.py and there is no ./submission",
            source="kbundle pack",
            hint="Run it in the folder that holds main.py, or give that folder: kbundle pack DIR.",
        )
    spec = target or s.config.target
    t = load_target(spec) if spec else None
    limit = (t.name, t.unpacked_size_limit) if t and t.unpacked_size_limit else None
    result = pack(folder, output or Path("submission.tar.gz"), extra, unpacked_limit=limit)
    if not s.quiet:
        click.echo(
            f"packed {plural(result.files, 'file')} ({human_size(result.input_bytes)}) from "
            f"{show_path(folder)} into {show_path(result.output)}: "
            f"{human_size(result.output_bytes)} with {result.compressor}",
            err=True,
        )


def _pack_dataset(
    source: Path | None,
    dest: Path,
    dataset_id: str | None,
    title: str | None,
    lib: Path | None,
    output: Path | None,
    extra: list[tuple[Path, str]],
    quiet: bool,
) -> None:
    # Imported here: the plain archive path does not need the dataset module.
    from bundler.pack.dataset import dataset_metadata, write_dataset

    if output is not None:
        raise InputError(
            "-o writes an archive and --dataset a folder: give one of them", source="-o"
        )
    if dataset_id is None:
        raise InputError(
            "--dataset needs --dataset-id OWNER/SLUG, the id Kaggle will give the dataset",
            source="--dataset",
            hint="E.g. --dataset-id alice/llm-agent-lib (your Kaggle user name, then a slug).",
        )
    s = settings()
    if lib is None:
        lib = source / "lib" if source is not None else s.config.lib_path()
    target = _lib_target(lib)
    result = write_dataset(lib, dest, dataset_metadata(dataset_id, title, target), extra)
    if quiet:
        return
    folder = show_path(result.folder)
    slug = result.dataset_id.split("/", 1)[1]
    click.echo(
        f"wrote dataset {result.dataset_id} to {folder}: {plural(result.files, 'file')}, "
        f"{human_size(result.bytes)} (lib from {show_path(lib)})\n"
        f"Upload it (the first time / later versions):\n"
        f"    kaggle datasets create -p {folder} --dir-mode zip\n"
        f'    kaggle datasets version -p {folder} --dir-mode zip -m "new lib"\n'
        f"then add the dataset to the notebook: its first cell, the snippet `kbundle vendor` "
        f"prints, finds /kaggle/input/{slug}/lib.",
        err=True,
    )


def _lib_target(lib: Path) -> str | None:
    """The target name kbundle.json records for ``lib``, if it can be read."""
    import json

    try:
        record = json.loads((lib / "kbundle.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    name = record.get("target") if isinstance(record, dict) else None
    return name if isinstance(name, str) else None
