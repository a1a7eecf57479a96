"""The job queue: requests wait here, run one at a time on the worker, in order.

``JobQueue`` is also the list model of the queue view: its rows are the running job followed by
the pending ones. Finished, failed and cancelled jobs leave the model.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
    Slot,
)

from sd21_desktop.engine.request import GenerationRequest

_ids = itertools.count(1)


class JobState(Enum):
    PENDING = "pending"
    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass
class Job:
    request: GenerationRequest
    id: str = field(default_factory=lambda: f"job-{next(_ids)}")
    state: JobState = JobState.PENDING
    cancel_event: threading.Event = field(default_factory=threading.Event)
    step: int = 0
    total: int = 0
    keep_index: int = -1
    """For a re-run of one image of a batch: keep only that image."""
    new_inputs: dict[str, Any] = field(default_factory=dict)
    """Input ids of the request → images the worker stores before running (canvas jobs)."""

    def describe(self) -> str:
        prompt = self.request.prompt.replace("\n", " ")
        prompt = prompt if len(prompt) <= 48 else prompt[:47] + "…"
        where = (
            f" {self.step}/{self.total}" if self.state is JobState.RUNNING and self.total else ""
        )
        size = f"{self.request.width}×{self.request.height}"
        shown = prompt or "(empty prompt)"
        return f"[{self.state.value}{where}] {shown} · {size} · seed {self.request.seed}"


AnyIndex = QModelIndex | QPersistentModelIndex


class JobQueue(QAbstractListModel):
    # id, request, cancel event, batch index to keep, new input images → worker.run_job
    run_requested = Signal(str, object, object, int, object)
    job_state_changed = Signal(str, str)  # job id, state value
    busy_changed = Signal(bool)

    JobIdRole = Qt.ItemDataRole.UserRole + 1

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._jobs: list[Job] = []  # running first, then pending in order
        self._history: dict[str, Job] = {}

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
            return job.request.prompt
        if role == self.JobIdRole:
            return job.id
        return None

    # queue -----------------------------------------------------------------------------------
    def job(self, job_id: str) -> Job | None:
        return self._history.get(job_id)

    @property
    def running(self) -> Job | None:
        return self._jobs[0] if self._jobs and self._jobs[0].state is JobState.RUNNING else None

    def pending(self) -> list[Job]:
        return [job for job in self._jobs if job.state is JobState.PENDING]

    def is_busy(self) -> bool:
        return bool(self._jobs)

    def enqueue(
        self,
        request: GenerationRequest,
        keep_index: int = -1,
        new_inputs: dict[str, Any] | None = None,
    ) -> Job:
        job = Job(request, keep_index=keep_index, new_inputs=dict(new_inputs or {}))
        self._history[job.id] = job
        row = len(self._jobs)
        self.beginInsertRows(QModelIndex(), row, row)
        self._jobs.append(job)
        self.endInsertRows()
        if len(self._jobs) == 1:
            self.busy_changed.emit(True)
        self.job_state_changed.emit(job.id, job.state.value)
        self._dispatch()
        return job

    def cancel(self, job_id: str) -> None:
        """Cancel a running job (within one step) or drop a pending one."""
        job = self._history.get(job_id)
        if job is None:
            return
        if job.state is JobState.RUNNING:
            job.cancel_event.set()
        elif job.state is JobState.PENDING:
            job.cancel_event.set()
            self._finish(job, JobState.CANCELLED)

    remove = cancel

    def cancel_all(self) -> None:
        for job in list(reversed(self._jobs)):
            self.cancel(job.id)

    def _dispatch(self) -> None:
        if not self._jobs or self._jobs[0].state is not JobState.PENDING:
            return
        job = self._jobs[0]
        job.state = JobState.RUNNING
        self._changed(job)
        self.run_requested.emit(
            job.id, job.request, job.cancel_event, job.keep_index, job.new_inputs
        )

    def _changed(self, job: Job) -> None:
        if job in self._jobs:
            index = self.index(self._jobs.index(job))
            self.dataChanged.emit(index, index)
        self.job_state_changed.emit(job.id, job.state.value)

    def _finish(self, job: Job, state: JobState) -> None:
        job.state = state
        if job in self._jobs:
            row = self._jobs.index(job)
            self.beginRemoveRows(QModelIndex(), row, row)
            self._jobs.pop(row)
            self.endRemoveRows()
        self.job_state_changed.emit(job.id, state.value)
        if not self._jobs:
            self.busy_changed.emit(False)
        self._dispatch()

    # worker signals ----------------------------------------------------------------------------
    @Slot(str, int, int, float, float)
    def on_progress(self, job_id: str, step: int, total: int, rate: float, eta: float) -> None:
        job = self._history.get(job_id)
        if job is not None:
            job.step, job.total = step, total
            self._changed(job)

    @Slot(str, list)
    def on_finished(self, job_id: str, images: list[Any]) -> None:
        self._finish_by_id(job_id, JobState.FINISHED)

    @Slot(str, str)
    def on_failed(self, job_id: str, message: str) -> None:
        self._finish_by_id(job_id, JobState.FAILED)

    @Slot(str)
    def on_cancelled(self, job_id: str) -> None:
        self._finish_by_id(job_id, JobState.CANCELLED)

    def _finish_by_id(self, job_id: str, state: JobState) -> None:
        job = self._history.get(job_id)
        if job is not None and job.state in (JobState.RUNNING, JobState.PENDING):
            self._finish(job, state)
