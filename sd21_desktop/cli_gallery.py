"""Gallery commands of the CLI: ``gallery list``, ``gallery import``, ``rerun`` (their arguments
are declared with the others in :mod:`sd21_desktop.cli_common`).

Also :func:`save_images`, the one way the CLI saves finished images (``generate`` uses it too):
into the gallery store unless ``--no-gallery``, plus a copy in ``--out DIR`` when given.

Like :mod:`sd21_desktop.cli`, importing this module loads neither torch nor Pillow.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from sd21_desktop.cli_common import EXIT_OK, EXIT_USER, StderrProgress
from sd21_desktop.errors import UserFacingError

if TYPE_CHECKING:
    from sd21_desktop.gallery.entries import GalleryEntry
    from sd21_desktop.gallery.metadata import ImageRecord
    from sd21_desktop.gallery.store import GalleryStore


def run(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    if args.command == "gallery" and args.gallery_command == "list":
        return run_list(args, stdout, stderr)
    if args.command == "gallery" and args.gallery_command == "import":
        return run_import(args, stdout, stderr)
    if args.command == "rerun":
        return run_rerun(args, stdout, stderr)
    raise UserFacingError(f"Unknown command {args.command!r}.", "See `sd21-desktop --help`.")


def _open_store(data_dir: str | None, stderr: TextIO) -> GalleryStore:
    from sd21_desktop.gallery.store import GalleryStore

    store = GalleryStore.open(data_dir)
    for line in store.notices:
        print(f"note: {line}", file=stderr)
    return store


def _summary(entry: GalleryEntry) -> str:
    when = datetime.fromtimestamp(entry.created).strftime("%Y-%m-%d %H:%M")
    star = "*" if entry.favourite else " "
    seed = f"seed {entry.seed}" if entry.seed is not None else "no seed"
    prompt = " ".join(entry.prompt.split()) or "(no prompt)"
    if len(prompt) > 60:
        prompt = prompt[:59] + "…"
    return f"#{entry.id:<6} {star} {when}  {entry.width}x{entry.height}  {seed:<16} {prompt}"


def run_list(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    from sd21_desktop.gallery.entries import GalleryQuery

    if args.limit < 0 or args.offset < 0:
        raise UserFacingError("--limit and --offset must be 0 or more.")
    query = GalleryQuery(
        text=args.search,
        favourites_only=args.favourites,
        in_trash=args.trash,
        seed=args.seed,
        order=args.sort,
    )
    with _open_store(getattr(args, "data_dir", None), stderr) as store:
        entries = store.search(query, offset=args.offset, limit=args.limit)
        total = store.count(query)
    for entry in entries:
        if args.json:
            print(json.dumps(entry.to_json_dict(), ensure_ascii=False), file=stdout)
        else:
            print(_summary(entry), file=stdout)
    if not args.json:
        shown = f"{args.offset + 1}-{args.offset + len(entries)} of " if entries else "0 of "
        print(f"{shown}{total} entries", file=stderr)
    return EXIT_OK


def run_import(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    with _open_store(getattr(args, "data_dir", None), stderr) as store:
        report = store.import_files(args.paths)
    for entry in report.imported:
        if args.json:
            print(json.dumps(entry.to_json_dict(), ensure_ascii=False), file=stdout)
        kind = f"settings from {entry.source}" if entry.has_metadata else "no settings found"
        print(f"imported {entry.path} as #{entry.id} ({kind})", file=stderr)
    for problem in report.skipped:
        print(f"skipped {problem.path}: {problem.message}", file=stderr)
    for problem in report.errors:
        print(f"failed: {problem.path}: {problem.message}", file=stderr)
    print(
        f"imported {len(report.imported)}, skipped {len(report.skipped)}, "
        f"failed {len(report.errors)}",
        file=stderr,
    )
    return EXIT_USER if report.errors else EXIT_OK


def save_images(
    items: Sequence[tuple[Any, ImageRecord]],
    *,
    data_dir: str | None,
    to_gallery: bool,
    out_dir: Path | None,
    stdout: TextIO,
    stderr: TextIO,
    as_json: bool,
    extra: dict[str, Any] | None = None,
) -> None:
    """Save ``(PIL image, record)`` pairs: into the gallery (``to_gallery``), into ``out_dir``.

    The gallery entry is always a file inside the gallery folder (the store indexes only files
    it owns, so a rebuild finds them all); ``out_dir`` receives a copy with the same bytes. With
    neither, the images go to the current folder.
    """
    from sd21_desktop.gallery.files import unique_path, write_atomic
    from sd21_desktop.gallery.metadata import encode_png

    if not to_gallery and out_dir is None:
        out_dir = Path.cwd()
    if out_dir is not None:
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise UserFacingError(
                f"Cannot create the output folder {out_dir}: {error.strerror}.",
                "Choose another --out folder.",
            ) from error
    store = _open_store(data_dir, stderr) if to_gallery else None
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    try:
        for image, record in items:
            entry = store.add_image(image, record) if store is not None else None
            copy: Path | None = None
            if out_dir is not None:
                data = entry.path.read_bytes() if entry is not None else encode_png(image, record)
                copy = unique_path(out_dir, f"{stamp}-{record.seed}")
                write_atomic(copy, data)
            path = copy if copy is not None else entry.path if entry is not None else None
            if as_json:
                line = {
                    "id": entry.id if entry is not None else None,
                    "path": str(path),
                    "gallery_path": str(entry.path) if entry is not None else None,
                    "seed": record.seed,
                    "batch_index": record.batch_index,
                    "request": record.request.to_dict(),
                    "runtime": entry.runtime if entry is not None else record.runtime,
                    **(extra or {}),
                }
                print(json.dumps(line, ensure_ascii=False), file=stdout, flush=True)
            else:
                where = f", gallery #{entry.id}" if entry is not None else ""
                print(f"saved {path} (seed {record.seed}{where})", file=stderr)
    finally:
        if store is not None:
            store.close()


def run_rerun(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    from sd21_desktop.engine.device import RuntimeOptions
    from sd21_desktop.engine.inputs import InputImages
    from sd21_desktop.engine.models import identify
    from sd21_desktop.engine.runner import Engine
    from sd21_desktop.gallery.metadata import ImageRecord
    from sd21_desktop.paths import resolve_paths

    with _open_store(getattr(args, "data_dir", None), stderr) as store:
        entry = store.get(args.id)
    request = entry.request
    if request is None:
        raise UserFacingError(
            f"Entry #{entry.id} has no generation settings to re-run "
            "(it was imported without readable metadata).",
        )
    index = entry.batch_index
    if args.seed is not None:
        # A new seed asks for that seed's image: one image, not the old batch.
        request = request.replace(seed=args.seed, batch_size=1)
        index = 0
    elif not 0 <= index < request.batch_size:
        raise UserFacingError(
            f"Entry #{entry.id} says it is image {index} of a batch of {request.batch_size}."
        )
    if getattr(args, "model", None):
        source = identify(args.model)
        request = request.replace(model=source.location)
    else:
        source = identify(request.model)
    if source.notice:
        print(f"note: {source.notice}", file=stderr)
    options = RuntimeOptions(
        device=getattr(args, "device", None) or "auto", dtype=getattr(args, "dtype", None) or "auto"
    )
    from sd21_desktop.cli_common import network_folders

    engine = Engine(options, allow_download=not args.offline, networks=network_folders(args))
    progress = StderrProgress(stderr)
    try:
        # The whole batch runs again: image i of a batch is only bit-identical when made in it.
        result = engine.generate(
            request,
            on_step=progress,
            on_status=lambda text: print(text, file=stderr),
            inputs=InputImages(resolve_paths(getattr(args, "data_dir", None)).inputs_dir),
        )
    finally:
        progress.close()
    record = ImageRecord(result.request, result.seeds[index], index, result.runtime.to_dict())
    save_images(
        [(result.images[index], record)],
        data_dir=getattr(args, "data_dir", None),
        to_gallery=not args.no_gallery,
        out_dir=Path(args.out).expanduser() if args.out else None,
        stdout=stdout,
        stderr=stderr,
        as_json=args.json,
        extra={"rerun_of": entry.id, "timings": result.timings},
    )
    return EXIT_OK
