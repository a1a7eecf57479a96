"""The persistent job queue: every job the window or ``batch`` queues, in SQLite beside the gallery.

One row per job: its full request, the stored inputs it names (by content id), its state, its
place in the queue, when it was queued / started / ended, the error if it failed, and which
images of its batch already reached the gallery (``saved``), so a job that is run again never
makes an image twice. Rows belong to a named queue: ``"gui"`` for the window, ``"batch:<file>"``
for a ``batch`` run.

Writes commit at once (WAL, ``synchronous=NORMAL``: a commit is a page append, well under a
millisecond). A write that fails (disk full, folder gone or read-only) never raises: the job runs
on in memory, and :attr:`JobStore.problem` plus the ``on_problem`` callback say, once, that the
queue is not being kept. A damaged file is moved aside on open and a fresh queue started, with a
notice; the gallery is untouched.

Unclean exits are found by a session mark: :meth:`recover` sets it, :meth:`end_session` clears
it, so a mark found on start means the last run of the app stopped without closing.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sd21_desktop.engine.request import GenerationRequest
from sd21_desktop.errors import UserFacingError
from sd21_desktop.gallery.schema import connect, move_aside, transaction

QUEUE_SCHEMA_VERSION = 1
STATES = ("pending", "running", "finished", "failed", "cancelled", "not_saved")
GUI_QUEUE = "gui"

_SCHEMA: tuple[str, ...] = (
    f"""
    CREATE TABLE jobs (
        id TEXT PRIMARY KEY,
        queue TEXT NOT NULL,
        position INTEGER NOT NULL,
        state TEXT NOT NULL CHECK (state IN {STATES!r}),
        request_json TEXT NOT NULL,
        inputs_json TEXT NOT NULL DEFAULT '[]',
        keep_index INTEGER NOT NULL DEFAULT -1,
        saved_json TEXT NOT NULL DEFAULT '{{}}',
        error TEXT,
        created REAL NOT NULL,
        started REAL,
        ended REAL,
        attempts INTEGER NOT NULL DEFAULT 0
    )
    """,
    "CREATE INDEX jobs_by_queue ON jobs (queue, position)",
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
)
_COLUMNS = (
    "id, queue, position, state, request_json, keep_index, saved_json, error, created, "
    "started, ended, attempts"
)


def new_job_id() -> str:
    return f"job-{uuid.uuid4().hex[:16]}"


@dataclass
class StoredJob:
    """One row of the queue."""

    id: str
    queue: str
    position: int
    state: str
    request: GenerationRequest
    keep_index: int = -1
    saved: dict[int, int | None] = field(default_factory=dict)
    """Batch index → gallery entry id (None when saved while the gallery index was closed)."""
    error: str | None = None
    created: float = 0.0
    started: float | None = None
    ended: float | None = None
    attempts: int = 0

    def wanted(self) -> set[int]:
        """The batch images this job must deliver."""
        if self.keep_index >= 0:
            return {self.keep_index}
        return set(range(self.request.batch_size))


@dataclass(frozen=True)
class Recovery:
    """What the last run of the app left in its queue."""

    unclean: bool
    """The last run stopped without closing (killed, crashed, power lost)."""
    waiting: int
    running: int
    job_ids: tuple[str, ...]

    @property
    def total(self) -> int:
        return self.waiting + self.running


def _row(values: Any) -> StoredJob:
    (
        job_id,
        queue,
        position,
        state,
        request_json,
        keep,
        saved_json,
        error,
        created,
        started,
        ended,
        attempts,
    ) = values
    saved = {int(index): entry for index, entry in json.loads(saved_json).items()}
    return StoredJob(
        job_id,
        queue,
        position,
        state,
        GenerationRequest.from_json(request_json),
        keep,
        saved,
        error,
        created,
        started,
        ended,
        attempts,
    )


class JobStore:
    """The queue file of one data folder. Thread-safe: one connection, one lock (short calls)."""

    def __init__(self, path: Path | None, on_problem: Callable[[str], None] | None = None) -> None:
        """Open (creating, or replacing a damaged file) the queue at ``path``; None: in memory."""
        self.path = path
        self.on_problem = on_problem
        self.problem: str | None = None
        self.notices: list[str] = []
        self._lock = threading.RLock()
        self._connection = self._open(path)

    # -- opening -----------------------------------------------------------------------------

    def _open(self, path: Path | None) -> sqlite3.Connection:
        if path is None:
            memory = sqlite3.connect(":memory:", isolation_level=None, check_same_thread=False)
            self._create(memory)
            return memory
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            connection = connect(path)
        except (OSError, sqlite3.OperationalError) as error:  # cannot open: not damage
            raise UserFacingError(
                f"The job queue {path} cannot be opened: {error}.",
                "Choose a writable folder with --data-dir.",
            ) from error
        except sqlite3.DatabaseError as error:  # "file is not a database"
            problem: str | None = str(error)
        else:
            problem = self._check(connection)
            if problem is None:
                return connection
            connection.close()
        kept = move_aside(path)
        self.notices.append(
            f"The job queue was damaged ({problem}); it was moved aside as {kept.name} and a new, "
            "empty queue started. Your gallery is not affected."
        )
        fresh = connect(path)
        self._create(fresh)
        return fresh

    def _check(self, connection: sqlite3.Connection) -> str | None:
        """Why the file cannot serve as the queue (None: it can; created if new)."""
        try:
            rows = connection.execute("PRAGMA quick_check").fetchall()
            if [tuple(row) for row in rows] != [("ok",)]:
                return f"integrity check failed: {rows[0][0]}"
            version = int(connection.execute("PRAGMA user_version").fetchone()[0])
            if version == 0:
                self._create(connection)
            elif version > QUEUE_SCHEMA_VERSION:
                return f"written by a newer version (schema {version})"
            connection.execute(f"SELECT {_COLUMNS} FROM jobs LIMIT 1").fetchall()
            for (request_json,) in connection.execute("SELECT request_json FROM jobs"):
                GenerationRequest.from_json(request_json)
        except (sqlite3.Error, UserFacingError, ValueError) as error:
            return str(error)
        return None

    @staticmethod
    def _create(connection: sqlite3.Connection) -> None:
        with transaction(connection):
            for statement in _SCHEMA:
                connection.execute(statement)
            connection.execute(f"PRAGMA user_version = {QUEUE_SCHEMA_VERSION:d}")

    def close(self) -> None:
        with self._lock:
            self._connection.close()

    # -- writing (never raises for the disk: see the module doc) -----------------------------

    def _write(self, work: Callable[[sqlite3.Connection], object]) -> bool:
        """Run ``work`` in one write transaction; False (reported once) when the disk refused."""
        with self._lock:
            try:
                with transaction(self._connection):
                    work(self._connection)
            except (sqlite3.Error, OSError) as error:
                self._report(error)
                return False
        return True

    def _report(self, error: BaseException) -> None:
        if self.problem is not None:
            return
        where = self.path.parent if self.path is not None else "memory"
        self.problem = (
            f"The job queue could not be saved in {where} ({error}); queued jobs still run, "
            "but will not survive a restart."
        )
        if self.on_problem is not None:
            self.on_problem(self.problem)

    def add(
        self,
        queue: str,
        request: GenerationRequest,
        *,
        keep_index: int = -1,
        job_id: str | None = None,
    ) -> StoredJob:
        """Append a pending job to ``queue``."""
        job = StoredJob(
            job_id or new_job_id(), queue, 0, "pending", request, keep_index, created=time.time()
        )

        def insert(connection: sqlite3.Connection) -> None:
            last = connection.execute(
                "SELECT COALESCE(MAX(position), 0) FROM jobs WHERE queue = ?", (queue,)
            ).fetchone()[0]
            job.position = int(last) + 1
            connection.execute(
                "INSERT INTO jobs (id, queue, position, state, request_json, inputs_json, "
                "keep_index, created) VALUES (?, ?, ?, 'pending', ?, ?, ?, ?)",
                (
                    job.id,
                    queue,
                    job.position,
                    request.to_json(),
                    json.dumps(list(request.input_hashes())),
                    keep_index,
                    job.created,
                ),
            )

        self._write(insert)
        return job

    def set_state(self, job_id: str, state: str, error: str | None = None) -> bool:
        """Record a state change (``running`` stamps the start and counts an attempt)."""
        if state == "running":
            sql = (
                "UPDATE jobs SET state = ?, error = NULL, started = ?, ended = NULL, "
                "attempts = attempts + 1 WHERE id = ?"
            )
            values: tuple[Any, ...] = (state, time.time(), job_id)
        elif state == "pending":
            sql = "UPDATE jobs SET state = ?, error = NULL, ended = NULL WHERE id = ?"
            values = (state, job_id)
        else:
            sql = "UPDATE jobs SET state = ?, error = ?, ended = ? WHERE id = ?"
            values = (state, error, time.time(), job_id)
        return self._write(lambda connection: connection.execute(sql, values))

    def record_saved(self, job_id: str, batch_index: int, entry_id: int | None) -> bool:
        """Image ``batch_index`` of the job is in the gallery (called right after the save)."""

        def update(connection: sqlite3.Connection) -> None:
            row = connection.execute(
                "SELECT saved_json FROM jobs WHERE id = ?", (job_id,)
            ).fetchone()
            if row is not None:
                saved = json.loads(row[0])
                saved[str(batch_index)] = entry_id
                connection.execute(
                    "UPDATE jobs SET saved_json = ? WHERE id = ?", (json.dumps(saved), job_id)
                )

        return self._write(update)

    def set_order(self, queue: str, job_ids: Iterable[str]) -> bool:
        """Number the given jobs of ``queue`` 1, 2, 3… in this order."""
        rows = [(position, job_id, queue) for position, job_id in enumerate(job_ids, start=1)]
        return self._write(
            lambda connection: connection.executemany(
                "UPDATE jobs SET position = ? WHERE id = ? AND queue = ?", rows
            )
        )

    def delete(self, job_ids: Iterable[str]) -> bool:
        rows = [(job_id,) for job_id in job_ids]
        return self._write(
            lambda connection: connection.executemany("DELETE FROM jobs WHERE id = ?", rows)
        )

    def set_paused(self, queue: str, paused: bool) -> bool:
        return self._set_meta(f"paused:{queue}", "1" if paused else None)

    def _set_meta(self, key: str, value: str | None) -> bool:
        if value is None:
            return self._write(
                lambda connection: connection.execute("DELETE FROM meta WHERE key = ?", (key,))
            )
        return self._write(
            lambda connection: connection.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value)
            )
        )

    # -- reading -----------------------------------------------------------------------------

    def _meta(self, key: str) -> str | None:
        with self._lock:
            try:
                row = self._connection.execute(
                    "SELECT value FROM meta WHERE key = ?", (key,)
                ).fetchone()
            except sqlite3.Error as error:
                self._report(error)
                return None
        return None if row is None else str(row[0])

    def paused(self, queue: str) -> bool:
        return self._meta(f"paused:{queue}") == "1"

    def jobs(self, queue: str) -> list[StoredJob]:
        """The jobs of ``queue`` in queue order."""
        with self._lock:
            try:
                rows = self._connection.execute(
                    f"SELECT {_COLUMNS} FROM jobs WHERE queue = ? ORDER BY position, created",
                    (queue,),
                ).fetchall()
            except sqlite3.Error as error:
                self._report(error)
                return []
        return [_row(row) for row in rows]

    def get(self, job_id: str) -> StoredJob | None:
        with self._lock:
            try:
                row = self._connection.execute(
                    f"SELECT {_COLUMNS} FROM jobs WHERE id = ?", (job_id,)
                ).fetchone()
            except sqlite3.Error as error:
                self._report(error)
                return None
        return None if row is None else _row(row)

    # -- sessions ----------------------------------------------------------------------------

    def recover(self, queue: str) -> Recovery:
        """Start a session on ``queue``: count what the last one left, and make it runnable.

        Jobs that were running (or whose images could not be saved: those images were only in
        memory) go back to pending, to run again from the start; finished and cancelled ones are
        dropped (their images are in the gallery). Failed jobs stay, to be retried or removed.
        """
        key = f"session:{queue}"
        unclean = self._meta(key) is not None
        jobs = self.jobs(queue)
        running = [job.id for job in jobs if job.state == "running"]
        waiting = [job.id for job in jobs if job.state in ("pending", "not_saved")]

        def reset(connection: sqlite3.Connection) -> None:
            connection.execute(
                "UPDATE jobs SET state = 'pending', error = NULL WHERE queue = ? "
                "AND state IN ('running', 'not_saved')",
                (queue,),
            )
            connection.execute(
                "DELETE FROM jobs WHERE queue = ? AND state IN ('finished', 'cancelled')", (queue,)
            )

        self._write(reset)
        self._set_meta(key, json.dumps({"pid": os.getpid(), "since": time.time()}))
        return Recovery(unclean, len(waiting), len(running), tuple(running + waiting))

    def end_session(self, queue: str) -> None:
        """The app closes normally: its next start is not a recovery."""
        self._set_meta(f"session:{queue}", None)
