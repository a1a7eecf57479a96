"""The job queue: requests wait here and run one at a time on the worker, in queue order.

``JobQueue`` is the list model of the queue view, and that view shows the queue's table
(:class:`~sd21_desktop.gallery.queue_store.JobStore`): every change (queued, running, finished,
failed, cancelled, not saved, moved, paused, retried, cleared) is written there as it happens, so
what the window shows is what a restart finds. Rows stay in queue order; finished and cancelled
rows stay until "Clear finished". The job that runs next is the first pending row.

The worker records each saved image itself (right after the save), so a job run again after a
crash skips what reached the gallery.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    QThreadPool,
    Signal,
    Slot,
)

from sd21_desktop.engine.request import GenerationRequest
from sd21_desktop.gallery.queue_store import GUI_QUEUE, JobStore, Recovery, StoredJob


class JobState(Enum):
    PENDING = "pending"
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    CANCELLED = "cancelled"
    NOT_SAVED = "not_saved"


DONE_STATES = (JobState.FINISHED, JobState.CANCELLED)
STATE_LABELS = {
    JobState.PENDING: "waiting",
    JobState.RUNNING: "running",
    JobState.FINISHED: "done",
    JobState.FAILED: "failed",
    JobState.CANCELLED: "cancelled",
    JobState.NOT_SAVED: "not saved",
}


@dataclass(eq=False)
class Job:
    request: GenerationRequest
    id: str
    state: JobState = JobState.PENDING
    cancel_event: threading.Event = field(default_factory=threading.Event)
    step: int = 0
    total: int = 0
    keep_index: int = -1
    """For a re-run of one image of a batch: keep only that image."""
    new_inputs: dict[str, Any] = field(default_factory=dict)
    """Input ids of the request → images the worker stores before running (canvas jobs)."""
    saved: dict[int, Any] = field(default_factory=dict)
    """Batch index → gallery entry id of the images already saved."""
    run_again: bool = False
    """Ran before (recovered after a restart, or retried): look in the gallery first."""
    error: str = ""
    unsaved: list[Any] = field(default_factory=list)
    """Images the disk refused (``UnsavedImage``), kept in memory for Save again / Save as."""

    def describe(self) -> str:
        prompt = self.request.prompt.replace("\n", " ")
        prompt = prompt if len(prompt) <= 48 else prompt[:47] + "…"
        where = (
            f" {self.step}/{self.total}" if self.state is JobState.RUNNING and self.total else ""
        )
        size = f"{self.request.width}×{self.request.height}"
        shown = prompt or "(empty prompt)"
        return f"[{STATE_LABELS[self.state]}{where}] {shown} · {size} · seed {self.request.seed}"

    @classmethod
    def from_stored(cls, stored: StoredJob) -> Job:
        state = JobState(stored.state)
        return cls(
            stored.request,
            stored.id,
            state,
            keep_index=stored.keep_index,
            saved=dict(stored.saved),
            run_again=bool(stored.attempts) or bool(stored.saved),
            error=stored.error or "",
        )


AnyIndex = QModelIndex | QPersistentModelIndex


class JobQueue(QAbstractListModel):
    # id, request, cancel event, batch index to keep, new input images, saved (None: first run)
    run_requested = Signal(str, object, object, int, object, object)
    job_state_changed = Signal(str, str)  # job id, state value
    busy_changed = Signal(bool)
    paused_changed = Signal(bool)
    problem = Signal(str)  # the queue's table cannot be written

    JobIdRole = Qt.ItemDataRole.UserRole + 1
    JobRole = Qt.ItemDataRole.UserRole + 2

    def __init__(
        self,
        store: JobStore | None = None,
        inputs_folder: Path | None = None,
        parent: QObject | None = None,
        name: str = GUI_QUEUE,
    ) -> None:
        super().__init__(parent)
        self.store = store if store is not None else JobStore(None)
        self.store.on_problem = self.problem.emit
        self.name = name
        self._inputs_folder = inputs_folder
        self._jobs: list[Job] = []  # queue order
        self._history: dict[str, Job] = {}
        self._paused = self.store.paused(name)
        self._held: set[str] = set()  # recovered jobs waiting for the answer to the question
        self._closing = False
        self.recovery: Recovery | None = None

    # model -----------------------------------------------------------------------------------
    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008, N802
        return 0 if parent.isValid() else len(self._jobs)

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._jobs):
            return None
        job = self._jobs[index.row()]
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
            return job.describe()
        if role == Qt.ItemDataRole.ToolTipRole:
            return job.request.prompt + (f"\n\n{job.error}" if job.error else "")
        if role == self.JobIdRole:
            return job.id
        if role == self.JobRole:
            return job
        return None

    def flags(self, index: AnyIndex) -> Qt.ItemFlag:
        if not index.isValid():  # dropping between rows reorders
            return Qt.ItemFlag.ItemIsDropEnabled
        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if self._jobs[index.row()].state is JobState.PENDING:
            flags |= Qt.ItemFlag.ItemIsDragEnabled
        return flags

    def supportedDropActions(self) -> Qt.DropAction:  # noqa: N802
        return Qt.DropAction.MoveAction

    def moveRows(  # noqa: N802
        self,
        source_parent: AnyIndex,
        source_row: int,
        count: int,
        destination_parent: AnyIndex,
        destination: int,
    ) -> bool:
        """Drag and drop (and :meth:`move`): pending jobs change place; the order is saved."""
        if source_parent.isValid() or destination_parent.isValid() or count != 1:
            return False
        if not 0 <= source_row < len(self._jobs) or not 0 <= destination <= len(self._jobs):
            return False
        if self._jobs[source_row].state is not JobState.PENDING:
            return False
        if destination in (source_row, source_row + 1):
            return True  # onto itself: nothing moves
        self.beginMoveRows(QModelIndex(), source_row, source_row, QModelIndex(), destination)
        job = self._jobs.pop(source_row)
        self._jobs.insert(destination - 1 if destination > source_row else destination, job)
        self.endMoveRows()
        self.store.set_order(self.name, [queued.id for queued in self._jobs])
        return True

    # queue -----------------------------------------------------------------------------------
    def job(self, job_id: str) -> Job | None:
        return self._history.get(job_id)

    def jobs(self) -> list[Job]:
        """The rows, in queue order."""
        return list(self._jobs)

    @property
    def running(self) -> Job | None:
        return next((job for job in self._jobs if job.state is JobState.RUNNING), None)

    def pending(self) -> list[Job]:
        return [job for job in self._jobs if job.state is JobState.PENDING]

    def is_busy(self) -> bool:
        return any(job.state in (JobState.PENDING, JobState.RUNNING) for job in self._jobs)

    @property
    def paused(self) -> bool:
        return self._paused

    def enqueue(
        self,
        request: GenerationRequest,
        keep_index: int = -1,
        new_inputs: dict[str, Any] | None = None,
    ) -> Job:
        stored = self.store.add(self.name, request, keep_index=keep_index)
        job = Job(request, stored.id, keep_index=keep_index, new_inputs=dict(new_inputs or {}))
        if job.new_inputs:
            self._store_inputs_soon(job.new_inputs)
        was_busy = self.is_busy()
        self._insert(job)
        if not was_busy:
            self.busy_changed.emit(True)
        self.job_state_changed.emit(job.id, job.state.value)
        self._dispatch()
        return job

    def _insert(self, job: Job) -> None:
        self._history[job.id] = job
        row = len(self._jobs)
        self.beginInsertRows(QModelIndex(), row, row)
        self._jobs.append(job)
        self.endInsertRows()

    def _store_inputs_soon(self, images: dict[str, Any]) -> None:
        """Write a canvas job's inputs now, off the GUI thread, so that it can still run after
        a crash even if it never started (the worker stores them again if this failed)."""
        folder = self._inputs_folder
        if folder is None:
            return

        def store() -> None:
            from sd21_desktop.engine.inputs import InputImages
            from sd21_desktop.errors import UserFacingError

            try:
                for image in list(images.values()):
                    InputImages(folder).put(image)
            except UserFacingError:
                pass  # the worker tries again when the job starts, and reports it

        QThreadPool.globalInstance().start(store)

    def move(self, job_id: str, row: int) -> bool:
        """Put a pending job at ``row`` (0 = first)."""
        job = self._history.get(job_id)
        if job is None or job not in self._jobs:
            return False
        source = self._jobs.index(job)
        row = max(0, min(row, len(self._jobs) - 1))
        return self.moveRows(QModelIndex(), source, 1, QModelIndex(), row + (row > source))

    def cancel(self, job_id: str) -> None:
        """Cancel a running job (within one step) or drop a pending one."""
        job = self._history.get(job_id)
        if job is None:
            return
        if job.state is JobState.RUNNING:
            job.cancel_event.set()
        elif job.state is JobState.PENDING:
            job.cancel_event.set()
            job.state = JobState.CANCELLED
            self._drop([job])

    def remove(self, job_id: str) -> None:
        """Cancel a running or pending job; take a finished, failed or unsaved one off the list
        (an unsaved job's images are let go)."""
        job = self._history.get(job_id)
        if job is None:
            return
        if job.state in (JobState.RUNNING, JobState.PENDING):
            self.cancel(job_id)
        else:
            job.unsaved = []
            self._drop([job])

    def _drop(self, jobs: Sequence[Job]) -> None:
        """Take jobs off the list and out of the table."""
        self.store.delete([job.id for job in jobs])
        for job in jobs:
            if job in self._jobs:
                row = self._jobs.index(job)
                self.beginRemoveRows(QModelIndex(), row, row)
                self._jobs.pop(row)
                self.endRemoveRows()
            self.job_state_changed.emit(job.id, job.state.value)
        self._after_change()

    def clear_finished(self) -> None:
        """Take the finished and cancelled jobs off the list (their images stay in the gallery)."""
        self._drop([job for job in self._jobs if job.state in DONE_STATES])

    def retry(self, job_id: str) -> bool:
        """Run a failed or cancelled job again, in its place (saved images are not made again)."""
        job = self._history.get(job_id)
        if job is None or job.state not in (JobState.FAILED, JobState.CANCELLED):
            return False
        job.cancel_event = threading.Event()
        job.run_again = True
        job.error = ""
        job.step = job.total = 0
        was_busy = self.is_busy()
        self._set_state(job, JobState.PENDING)
        if not was_busy:
            self.busy_changed.emit(True)
        self._dispatch()
        return True

    def set_paused(self, paused: bool) -> None:
        """A paused queue finishes the running job and starts no other."""
        if paused == self._paused:
            return
        self._paused = paused
        self.store.set_paused(self.name, paused)
        self.paused_changed.emit(paused)
        self._dispatch()

    # sessions ----------------------------------------------------------------------------------
    def restore(self) -> Recovery:
        """Load what the last session left; hold it until :meth:`resume_recovered`,
        :meth:`review_recovered` or :meth:`discard_recovered` says what to do."""
        recovery = self.store.recover(self.name)
        self.recovery = recovery
        self._held = set(recovery.job_ids)
        for stored in self.store.jobs(self.name):
            self._insert(Job.from_stored(stored))
        if self.is_busy():
            self.busy_changed.emit(True)
        return recovery

    def resume_recovered(self) -> None:
        self._held = set()
        self.set_paused(False)
        self._dispatch()

    def review_recovered(self) -> None:
        """Keep the recovered jobs, paused, for the user to reorder, remove and resume."""
        self._held = set()
        self.set_paused(True)

    def discard_recovered(self) -> None:
        ids, self._held = self._held, set()
        self._drop([job for job in self._jobs if job.id in ids])
        self._dispatch()

    def prepare_exit(self) -> None:
        """Quitting: the running job is cancelled now and waits to run again next time; the
        pending ones stay queued."""
        self._closing = True
        running = self.running
        if running is not None:
            running.cancel_event.set()
            self.store.set_state(running.id, JobState.PENDING.value)
        self.store.end_session(self.name)

    # running -----------------------------------------------------------------------------------
    def _dispatch(self) -> None:
        if self._paused or self._closing or self.running is not None:
            return
        # New jobs run while the recovered ones wait for the user's answer.
        job = next(
            (j for j in self._jobs if j.state is JobState.PENDING and j.id not in self._held), None
        )
        if job is None:
            return
        self._set_state(job, JobState.RUNNING)
        self.run_requested.emit(
            job.id,
            job.request,
            job.cancel_event,
            job.keep_index,
            job.new_inputs,
            dict(job.saved) if job.run_again else None,
        )

    def _set_state(self, job: Job, state: JobState, error: str = "") -> None:
        job.state = state
        job.error = error
        self.store.set_state(job.id, state.value, error or None)
        self._changed(job)

    def _changed(self, job: Job) -> None:
        if job in self._jobs:
            index = self.index(self._jobs.index(job))
            self.dataChanged.emit(index, index)
        self.job_state_changed.emit(job.id, job.state.value)

    def _after_change(self) -> None:
        if not self.is_busy():
            self.busy_changed.emit(False)
        self._dispatch()

    def _end(self, job_id: str, state: JobState, error: str = "") -> Job | None:
        job = self._history.get(job_id)
        if self._closing or job is None or job.state is not JobState.RUNNING:
            return None
        self._set_state(job, state, error)
        job.new_inputs = {}  # stored by now; let the images go
        return job

    # worker signals ----------------------------------------------------------------------------
    @Slot(str, int, int, float, float)
    def on_progress(self, job_id: str, step: int, total: int, rate: float, eta: float) -> None:
        job = self._history.get(job_id)
        if job is not None:
            job.step, job.total = step, total
            if job in self._jobs:
                index = self.index(self._jobs.index(job))
                self.dataChanged.emit(index, index)

    @Slot(str, list)
    def on_finished(self, job_id: str, images: list[Any]) -> None:
        job = self._history.get(job_id)
        if job is not None and job.state is JobState.NOT_SAVED:  # saved again
            job.state = JobState.RUNNING
        job = self._end(job_id, JobState.FINISHED)
        if job is not None:
            job.saved.update({image.batch_index: image.entry for image in images})
            job.unsaved = []
        self._after_change()

    @Slot(str, str)
    def on_failed(self, job_id: str, message: str) -> None:
        self._end(job_id, JobState.FAILED, message)
        self._after_change()

    @Slot(str)
    def on_cancelled(self, job_id: str) -> None:
        self._end(job_id, JobState.CANCELLED)
        self._after_change()

    @Slot(str, str, list, list)
    def on_not_saved(self, job_id: str, reason: str, saved: list[Any], unsaved: list[Any]) -> None:
        """The disk refused an image: keep it in memory, and stop the queue (the next jobs
        could not be saved either)."""
        job = self._history.get(job_id)
        if job is None or self._closing:
            return
        if job.state is JobState.NOT_SAVED:  # saving again failed again
            job.state = JobState.RUNNING
        job.saved.update({image.batch_index: image.entry for image in saved})
        job.unsaved = list(unsaved)
        if self._end(job_id, JobState.NOT_SAVED, reason) is not None:
            self.set_paused(True)
        self._after_change()

    @Slot(str, list)
    def on_saved_elsewhere(self, job_id: str, paths: list[str]) -> None:
        job = self._history.get(job_id)
        if job is not None and job.state is JobState.NOT_SAVED:
            job.state = JobState.RUNNING
            self._end(job_id, JobState.FINISHED, f"Saved outside the gallery: {', '.join(paths)}")
            job.unsaved = []
