"""The gallery store: image files (the truth) plus a SQLite index (a cache that can be rebuilt).

Saving is crash-safe by order: the PNG, with the full request inside, is written to a temporary
name, fsynced and renamed (:func:`write_atomic`); only then is its index row written. A crash
before the rename leaves nothing (a hidden temp file the index ignores); a crash after it leaves
a file without a row, which the next open adds. Deleting renames the file into ``trash/`` first
and marks the row after, which the next open also reconciles.

Opening the store checks the index: a missing or damaged one is rebuilt from the files, and
:attr:`GalleryStore.notices` says so. What the files cannot tell (the favourite flag, the time an
entry went to the trash) is lost in a rebuild; everything else comes back.

Threads: the store owns one SQLite connection (opened with ``check_same_thread=False``) and one
re-entrant lock, held for every call. One connection keeps the code simple and the GUI's calls
are short (a page of 100 rows, one insert), so the lock is never held for long; the slow part of
a save, PNG encoding, runs before the lock is taken. Several processes (the GUI and the CLI) may
use the same data folder at once: SQLite's WAL mode and ``BEGIN IMMEDIATE`` serialise them.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from PIL import Image

from sd21_desktop.engine.request import GenerationRequest
from sd21_desktop.errors import UserFacingError
from sd21_desktop.gallery.entries import (
    ENTRY_COLUMNS,
    GalleryEntry,
    GalleryQuery,
    ImportProblem,
    ImportReport,
    entry_from_row,
    iso_time,
    parse_iso_time,
)
from sd21_desktop.gallery.files import write_atomic
from sd21_desktop.gallery.inputs import InputStore
from sd21_desktop.gallery.layout import (
    TRASH_FOLDER,
    GalleryLayout,
    image_suffixes,
    is_candidate,
    safe_stem,
)
from sd21_desktop.gallery.metadata import ImageRecord, encode_png
from sd21_desktop.gallery.reading import ImageFacts, NotAnImageError, facts_from_record, read_facts
from sd21_desktop.gallery.relayout import FolderChooser, note_folder
from sd21_desktop.gallery.rows import insert_written, row_for
from sd21_desktop.gallery.schema import (
    OpenedIndex,
    integrity_problem,
    move_aside,
    open_index,
    step,
    transaction,
)
from sd21_desktop.gallery.search import select_count, select_page
from sd21_desktop.gallery.sync import Progress, Reconcile, SyncReport, SyncStep, plural, synchronise
from sd21_desktop.paths import AppPaths, resolve_paths

CHEAP_COUNT = 1000
"""Counting up to this many rows costs about what a page does; more is counted separately."""
STOP_POLL_OPS = 1000
IMPORT_BATCH = 32
"""Imported files whose rows share one commit. A commit writes some twenty index pages however
few rows it holds (a full-text segment and its merges, a leaf of each b-tree): one commit per file
made an import write a third more than before the day folders and the time-keyed search. Each
file keeps its own savepoint, so a row refused costs that file only."""
"""SQLite virtual-machine steps between two looks at a count's ``stop`` (microseconds)."""
_PREFERRED_SUFFIX = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "TIFF": ".tif"}


class UnknownEntryError(UserFacingError):
    """No entry has the id asked for."""


class GenerationOutput(Protocol):
    """What :meth:`GalleryStore.save_result` needs of an engine result (``GenerationResult``)."""

    request: GenerationRequest
    images: list[Any]
    seeds: list[int]
    runtime: Any


class _ImportFailed(Exception):
    pass


def _unexpected(error: Exception) -> str:
    """The reason line of an error no check foresaw (kept short: one line per file)."""
    detail = " ".join(str(error).split())[:300] or "no details"
    return f"Unexpected error ({type(error).__name__}: {detail})."


def _files_of(path: Path) -> list[Path]:
    """The file itself, or every image file in a folder and its sub-folders (hidden ones left
    out); raises FileNotFoundError for a path that is not there."""
    if not path.is_dir():
        if not path.exists():
            raise FileNotFoundError(path)
        return [path]  # a named file is always tried, whatever its suffix
    return sorted(
        found
        for found in path.rglob("*")
        if is_candidate(found.name)
        and not any(part.startswith(".") for part in found.relative_to(path).parts)
        and found.is_file()
    )


class _AlreadyThere(Exception):
    pass


class GalleryStore:
    """Images and their index under one data folder. Thread-safe (one lock; see module doc)."""

    def __init__(
        self, paths: AppPaths, on_progress: Progress | None = None, reconcile: bool = True
    ) -> None:
        """Open (creating, migrating, repairing or rebuilding as needed) the store of ``paths``.

        With ``reconcile`` false the index is served as it is and the caller runs
        :meth:`reconcile_steps` afterwards (the GUI, in the background); otherwise the folder is
        reconciled before this returns. ``on_progress(done, total)`` reports a long rebuild.
        Raises :class:`UserFacingError` when the folders cannot be created or the index belongs
        to a newer app version.
        """
        paths.ensure()
        self.paths = paths
        self.layout = GalleryLayout(paths.gallery_dir, paths.data_dir / TRASH_FOLDER)
        self.layout.ensure()
        self.inputs = InputStore(paths.inputs_dir)
        self._lock = threading.RLock()
        self._folders = FolderChooser()
        # The page-by-page check costs seconds at 100,000 entries: deferred with the reconcile.
        self._opened = open_index(paths.database_path, full_check=reconcile)
        self._connection = self._opened.connection
        self._checked = reconcile
        self.reconcile_report: SyncReport | None = None
        """The report of the reconcile :meth:`reconcile_steps` runs (filled in as it goes)."""
        self.rebuilt = False
        """True when the index was missing or damaged and was made again from the files."""
        self.notices: list[str] = []
        """Lines for a person (the GUI shows them, the CLI prints them to stderr)."""
        if self._opened.problem is not None:
            self._damaged_notice()
        if reconcile:
            try:
                self.finish_reconcile(synchronise(self._connection, self.layout, on_progress))
            except BaseException:
                self._connection.close()
                raise

    def reconcile_steps(self) -> Iterator[SyncStep]:
        """The reconcile in short steps, each under the lock (other calls go between them).
        When it ends, :meth:`finish_reconcile` with its report gives the notices."""
        if not self._checked:
            with self._lock:
                replaced = self._check_index()
            yield SyncStep(reset=replaced)
        reconcile = Reconcile(self._connection, self.layout)
        steps = reconcile.steps()
        self.reconcile_report = reconcile.report
        while True:
            with self._lock:
                step = next(steps, None)
            if step is None:
                return
            yield step

    def _damaged_notice(self) -> None:
        self.notices.append(
            f"The gallery index was damaged ({self._opened.problem}) and is rebuilt from "
            f"the images in {self.paths.gallery_dir}. The damaged file was kept as "
            f"{self._opened.kept_as}."
        )

    def _check_index(self) -> bool:
        """The deferred page-by-page check; a damaged index is replaced by an empty one (the
        reconcile that follows refills it). Returns whether it was replaced."""
        self._checked = True
        try:
            problem = integrity_problem(self._connection)
        except sqlite3.DatabaseError as error:
            problem = str(error)
        if problem is None:
            return False
        self._connection.close()
        kept_as = move_aside(self.paths.database_path)
        opened = open_index(self.paths.database_path)
        self._opened = OpenedIndex(opened.connection, True, problem, kept_as)
        self._connection = opened.connection
        self._damaged_notice()
        return True

    def finish_reconcile(self, report: SyncReport) -> list[str]:
        """Notices for what a finished reconcile did (also added to :attr:`notices`)."""
        rebuilt = self._opened.problem is not None or (self._opened.created and report.added > 0)
        lines: list[str] = []
        if rebuilt and self._opened.problem is None:
            lines.append(
                f"The gallery index was missing; rebuilt it from "
                f"{plural(report.added, 'image')} in {self.paths.gallery_dir}."
            )
        elif rebuilt:
            lines.append(f"Rebuilt the index from {plural(report.added, 'image')}.")
        lines += report.notices(rebuilt=rebuilt)
        self.rebuilt = rebuilt
        self.notices += lines
        return lines

    @classmethod
    def open(
        cls, data_dir: str | os.PathLike[str] | None = None, on_progress: Progress | None = None
    ) -> GalleryStore:
        """The store of ``--data-dir`` (else ``$SD21_DESKTOP_DATA_DIR``, else the default)."""
        return cls(resolve_paths(data_dir), on_progress)

    @property
    def notice(self) -> str | None:
        return "\n".join(self.notices) or None

    def close(self) -> None:
        with self._lock:
            self._connection.close()

    def __enter__(self) -> GalleryStore:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    # -- saving ------------------------------------------------------------------------------

    def add_image(self, image: Image.Image, record: ImageRecord) -> GalleryEntry:
        """Save one generated image with its record; returns the new entry."""
        created_iso = iso_time(time.time())
        # Read back through the same parser a rebuild uses, so both give the same float.
        created = parse_iso_time(created_iso)
        assert created is not None
        stamped = ImageRecord(
            record.request,
            record.seed,
            record.batch_index,
            {**record.runtime, "created": created_iso},
        )
        data = encode_png(image, stamped)  # the slow part: outside the lock
        facts = facts_from_record(stamped, image.width, image.height)
        stem = f"{time.strftime('%Y%m%d-%H%M%S', time.localtime(created))}-{record.seed}"
        return self._write(stem, ".png", data, facts, created, "generated")

    def save_result(self, result: GenerationOutput) -> list[GalleryEntry]:
        """Save every image of an engine result (image *i* has seed ``seeds[i]``)."""
        runtime = result.runtime.to_dict() if hasattr(result.runtime, "to_dict") else {}
        return [
            self.add_image(image, ImageRecord(result.request, seed, index, dict(runtime)))
            for index, (image, seed) in enumerate(zip(result.images, result.seeds, strict=True))
        ]

    def _write(
        self,
        stem: str,
        suffix: str,
        data: bytes,
        facts: ImageFacts,
        created: float | None,
        origin: str,
        imported: bool = False,
    ) -> GalleryEntry:
        digest = hashlib.sha256(data).hexdigest()
        with self._lock:
            if not self.layout.gallery_dir.is_dir():
                # Never silently make a new, empty gallery where the user's one was.
                raise FileNotFoundError(
                    errno.ENOENT, "The gallery folder is gone", str(self.layout.gallery_dir)
                )
            folder = self._folders.choose(
                self._connection, created if created is not None else time.time(), imported
            )
            name = self.layout.unique_name(folder, stem, suffix)
            path = self.layout.live_path(name)
            write_atomic(path, data)
            try:
                # The rule a rebuild follows: our record's time, else the file's.
                when = created if created is not None else path.stat().st_mtime
                with step(self._connection):  # a savepoint inside an import's batch
                    note_folder(self._connection, folder)
                    entry_id = insert_written(
                        self._connection, row_for(name, facts, when, origin, sha256=digest)
                    )
            except BaseException as error:
                # No file without its row when the index refused (disk full…): the caller keeps a
                # generated image in memory to save again, and an imported copy without a row
                # would fail again at every open (the original is untouched). A crash here instead
                # leaves a generated file, which the next open indexes.
                if imported or isinstance(error, (sqlite3.Error, OSError)):
                    path.unlink(missing_ok=True)
                raise
            self._folders.added(folder)
            return self.get(entry_id)

    # -- inputs of img2img / inpaint ---------------------------------------------------------

    def store_input(self, image_bytes: bytes) -> str:
        """Keep an input image or mask (encoded bytes) once; returns its sha256 hex id."""
        return self.inputs.store(image_bytes)

    def input_path(self, digest: str) -> Path:
        """The file of a stored input (raises :class:`UserFacingError` for a malformed id)."""
        return self.inputs.path(digest)

    # -- importing ---------------------------------------------------------------------------

    def import_files(
        self,
        paths: Iterable[str | os.PathLike[str]],
        on_progress: Progress | None = None,
        should_cancel: Callable[[], bool] | None = None,
    ) -> ImportReport:
        """Copy images (files, or every image in a folder and its sub-folders) into the gallery.

        Never raises for a file: each file that cannot be imported gets an entry in ``errors``
        with a reason — an unexpected exception too (a bug must cost one file, not the folder) —
        and the others go on. Images without readable settings are imported with
        ``has_metadata`` false. Files already in the gallery are ``skipped``.
        """
        report = ImportReport()
        files = self._expand(paths, report)
        # Resolved once for the whole import, not twice per file.
        roots = (self.layout.gallery_dir.resolve(), self.layout.trash_dir.resolve())
        done = 0

        def next_file() -> bool:
            """Report the file just tried; whether to go on."""
            nonlocal done
            done += 1
            if on_progress is not None:
                on_progress(done, len(files))
            return should_cancel is None or not should_cancel()

        going = should_cancel is None or not should_cancel()
        while going and done < len(files):
            batch = files[done : done + IMPORT_BATCH]
            with self._lock:  # the connection's transaction is this batch's alone
                going = self._import_batch(batch, roots, report, next_file)
        return report

    def _import_batch(
        self,
        files: list[Path],
        roots: tuple[Path, Path],
        report: ImportReport,
        next_file: Callable[[], bool],
    ) -> bool:
        """Import ``files`` with one commit for their rows (see :data:`IMPORT_BATCH`); returns
        whether to go on. A commit that fails takes the batch's copies away again (the
        originals stay) and reports each of them."""
        imported: list[tuple[Path, GalleryEntry]] = []
        going = True
        try:
            with transaction(self._connection):
                for file in files:
                    entry = self._import_reported(file, roots, report)
                    if entry is not None:
                        imported.append((file, entry))
                    going = next_file()
                    if not self._connection.in_transaction:  # SQLite rolled it back (disk full)
                        raise sqlite3.OperationalError("the index gave up the import's batch")
                    if not going:
                        break
        except BaseException as error:
            # The rows are gone with the transaction: their copies go too (an import's copy
            # without its row would come back at the next open without its content hash). A
            # kill here leaves them, and that open adds them.
            for _, entry in imported:
                entry.path.unlink(missing_ok=True)
            if not isinstance(error, sqlite3.Error):
                raise
            report.errors += [ImportProblem(file, _unexpected(error)) for file, _ in imported]
            return going
        report.imported += [entry for _, entry in imported]
        return going

    def _import_reported(
        self, file: Path, roots: tuple[Path, Path], report: ImportReport
    ) -> GalleryEntry | None:
        """The entry of ``file`` imported, or None with the reason added to ``report``."""
        try:
            return self._import_one(file, roots)
        except _AlreadyThere as skipped:
            report.skipped.append(ImportProblem(file, str(skipped)))
        except _ImportFailed as failed:
            report.errors.append(ImportProblem(file, str(failed)))
        except Exception as error:  # reported as this file's error line; the rest go on
            report.errors.append(ImportProblem(file, _unexpected(error)))
        return None

    def _expand(
        self, paths: Iterable[str | os.PathLike[str]], report: ImportReport
    ) -> list[Path]:
        files: list[Path] = []
        for given in paths:
            path = Path(given).expanduser()
            try:
                files += _files_of(path)
            except FileNotFoundError:
                report.errors.append(ImportProblem(path, "No such file or folder."))
            except OSError as error:  # an unreadable folder costs that folder only
                report.errors.append(
                    ImportProblem(path, f"Cannot list the folder: {error.strerror or error}.")
                )
        return files

    def _import_one(self, file: Path, roots: tuple[Path, ...]) -> GalleryEntry:
        """Import one file; ``roots``: the gallery and trash folders, resolved."""
        resolved = file.resolve()
        if any(resolved.is_relative_to(root) for root in roots):
            raise _AlreadyThere("It is already in the gallery folder.")
        try:
            data = file.read_bytes()
        except OSError as error:
            raise _ImportFailed(f"Cannot read the file: {error.strerror or error}.") from None
        if not data:
            raise _ImportFailed("The file is empty.")
        try:
            facts = read_facts(file, data, decode=True)
        except NotAnImageError as error:
            raise _ImportFailed(str(error)) from None
        digest = hashlib.sha256(data).hexdigest()
        with self._lock:
            found = self._connection.execute(
                "SELECT id FROM entries WHERE sha256 = ? AND deleted_at IS NULL LIMIT 1",
                (digest,),
            ).fetchone()
        if found is not None:
            raise _AlreadyThere(f"The same image is already in the gallery (#{found[0]}).")
        suffix = file.suffix.lower()
        if suffix not in image_suffixes():
            suffix = _PREFERRED_SUFFIX.get(facts.image_format or "", ".img")
        return self._write(
            safe_stem(file.stem), suffix, data, facts, facts.created, "imported", imported=True
        )

    # -- reading -----------------------------------------------------------------------------

    def find(self, entry_id: int) -> GalleryEntry | None:
        with self._lock:
            row = self._connection.execute(
                f"SELECT {ENTRY_COLUMNS} FROM entries WHERE id = ?", (entry_id,)
            ).fetchone()
        return None if row is None else self._entry(row)

    def find_many(self, ids: list[int]) -> list[GalleryEntry]:
        """The entries with these ids that exist, in no particular order."""
        found: list[GalleryEntry] = []
        for start in range(0, len(ids), 500):  # SQLite's bound-parameter limit
            chunk = ids[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            with self._lock:
                rows = self._connection.execute(
                    f"SELECT {ENTRY_COLUMNS} FROM entries WHERE id IN ({marks})", chunk
                ).fetchall()
            found += [self._entry(row) for row in rows]
        return found

    def get(self, entry_id: int) -> GalleryEntry:
        """The entry with this id; raises :class:`UnknownEntryError` when there is none."""
        entry = self.find(entry_id)
        if entry is None:
            raise UnknownEntryError(
                f"There is no gallery entry #{entry_id}.",
                "See `sd21-desktop gallery list` for the ids.",
            )
        return entry

    def search(
        self, query: GalleryQuery | None = None, offset: int = 0, limit: int = 100
    ) -> list[GalleryEntry]:
        """One page of the entries ``query`` selects, newest first."""
        sql, params = select_page(query or GalleryQuery(), offset, limit)
        with self._lock:
            rows = self._connection.execute(sql, params).fetchall()
        return [self._entry(row) for row in rows]

    def count(
        self,
        query: GalleryQuery | None = None,
        cheap_only: bool = False,
        stop: Callable[[], bool] | None = None,
    ) -> int:
        """How many entries ``query`` selects.

        ``cheap_only``: -1 instead when there are more than :data:`CHEAP_COUNT` (counting them
        would cost more than a page; ask again later). ``stop``: polled while counting; when it
        says so the count ends with ``sqlite3.OperationalError`` ("interrupted").
        """
        sql, params = select_count(
            query or GalleryQuery(), CHEAP_COUNT + 1 if cheap_only else None
        )
        with self._lock:
            if stop is not None:
                self._connection.set_progress_handler(lambda: int(stop()), STOP_POLL_OPS)
            try:
                total = int(self._connection.execute(sql, params).fetchone()[0])
            finally:
                if stop is not None:
                    self._connection.set_progress_handler(None, 0)
        return -1 if cheap_only and total > CHEAP_COUNT else total

    def models(self) -> list[str]:
        """The models of live entries, for a filter menu."""
        with self._lock:
            rows = self._connection.execute(
                "SELECT DISTINCT model FROM entries WHERE model IS NOT NULL "
                "AND deleted_at IS NULL ORDER BY model"
            ).fetchall()
        return [row[0] for row in rows]

    def sizes(self) -> list[tuple[int, int]]:
        """The image sizes of live entries, for a filter menu."""
        with self._lock:
            rows = self._connection.execute(
                "SELECT DISTINCT width, height FROM entries WHERE deleted_at IS NULL "
                "ORDER BY width, height"
            ).fetchall()
        return [(row[0], row[1]) for row in rows]

    def saved_by_job(self, job_id: str) -> dict[int, int]:
        """Batch index → entry id of the live images a queued job made (its id is in their
        runtime record), so a job run again after a crash skips what it already saved."""
        with self._lock:
            rows = self._connection.execute(
                "SELECT batch_index, id FROM entries WHERE deleted_at IS NULL "
                "AND json_extract(runtime_json, '$.job_id') = ?",
                (job_id,),
            ).fetchall()
        return {int(index): int(entry_id) for index, entry_id in rows}

    def _entry(self, row: Any) -> GalleryEntry:
        return entry_from_row(row, self.layout.gallery_dir, self.layout.trash_dir)

    # -- acting ------------------------------------------------------------------------------

    def set_favourite(self, entry_id: int, favourite: bool) -> GalleryEntry:
        with self._lock:
            with transaction(self._connection):
                self._connection.execute(
                    "UPDATE entries SET favourite = ? WHERE id = ?", (int(favourite), entry_id)
                )
            return self.get(entry_id)  # raises UnknownEntryError for an unknown id

    def set_rerun_model(self, entry_id: int, model: str) -> GalleryEntry:
        """Let an imported entry re-run with ``model`` (the person overrides the guessed one).

        Stored in the index only, like the favourite flag: a rebuild from the files chooses
        again from the image's metadata.
        """
        with self._lock:
            entry = self.get(entry_id)
            if entry.request is None or entry.origin != "imported":
                raise UserFacingError(
                    f"Entry #{entry_id} has no imported settings whose model could be changed."
                )
            request = entry.request.replace(model=model)  # validates the model name
            details = dict(entry.details)
            # Keep what the import chose, and why, next to the person's choice.
            first = details.setdefault("model_imported_as", entry.request.model)
            if "model_import_note" not in details and details.get("model_note"):
                details["model_import_note"] = details["model_note"]
            details["model_note"] = f"chosen by you (the import chose {first})"
            with transaction(self._connection):
                self._connection.execute(
                    "UPDATE entries SET request_json = ?, details_json = ? WHERE id = ?",
                    (request.to_json(), json.dumps(details, ensure_ascii=False), entry_id),
                )
            return self.get(entry_id)

    def toggle_favourite(self, entry_id: int) -> GalleryEntry:
        with self._lock:
            return self.set_favourite(entry_id, not self.get(entry_id).favourite)

    def delete(self, entry_id: int) -> GalleryEntry:
        """Move the entry's file to the trash; :meth:`restore` undoes it."""
        with self._lock:
            entry = self.get(entry_id)
            if entry.deleted:
                return entry
            target = self.layout.trash_path(entry.file_name)
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.replace(entry.path, target)
            except FileNotFoundError:
                self._forget(entry_id)
                raise UnknownEntryError(
                    f"The image of entry #{entry_id} is no longer in the gallery folder."
                ) from None
            with transaction(self._connection):
                self._connection.execute(
                    "UPDATE entries SET deleted_at = ? WHERE id = ?", (time.time(), entry_id)
                )
            return self.get(entry_id)

    def restore(self, entry_id: int) -> GalleryEntry:
        """Undo :meth:`delete`: the file goes back from the trash into the gallery."""
        with self._lock:
            entry = self.get(entry_id)
            if not entry.deleted:
                return entry
            target = self.layout.live_path(entry.file_name)
            if target.exists():
                raise UserFacingError(
                    f"Cannot restore entry #{entry_id}: {target} exists.",
                    "Move that file away first.",
                )
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.replace(entry.path, target)
            except FileNotFoundError:
                self._forget(entry_id)
                raise UnknownEntryError(
                    f"The image of entry #{entry_id} is no longer in the trash."
                ) from None
            with transaction(self._connection):
                self._connection.execute(
                    "UPDATE entries SET deleted_at = NULL WHERE id = ?", (entry_id,)
                )
            return self.get(entry_id)

    def empty_trash(self) -> int:
        """Delete for good every entry in the trash; returns how many."""
        with self._lock:
            rows = self._connection.execute(
                "SELECT id, file_name FROM entries WHERE deleted_at IS NOT NULL"
            ).fetchall()
            # Files first: a crash midway leaves rows without files, which the next open drops.
            for _, name in rows:
                self.layout.trash_path(name).unlink(missing_ok=True)
            with transaction(self._connection):
                self._connection.executemany(
                    "DELETE FROM entries WHERE id = ?", [(entry_id,) for entry_id, _ in rows]
                )
            return len(rows)

    def sync(self, on_progress: Progress | None = None) -> list[str]:
        """Look at the folder again (files added or removed outside the app); returns notices."""
        with self._lock:
            return synchronise(self._connection, self.layout, on_progress).notices(rebuilt=False)

    def _forget(self, entry_id: int) -> None:
        with transaction(self._connection):
            self._connection.execute("DELETE FROM entries WHERE id = ?", (entry_id,))
