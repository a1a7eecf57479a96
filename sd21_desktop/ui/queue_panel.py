"""The queue panel: one readable row per job (prompt, state, progress, a cancel button), the
queue's actions (pause, retry, clear finished, remove, reorder by dragging), and the two strips
that ask what to do: after an unclean exit (Resume / Review / Discard) and when an image could
not be saved (Save again / Save as…).
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import (
    QAbstractItemModel,
    QEvent,
    QModelIndex,
    QPersistentModelIndex,
    QRect,
    QSize,
    Qt,
    Signal,
    Slot,
)
from PySide6.QtGui import QColor, QFont, QKeySequence, QMouseEvent, QPainter, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListView,
    QPushButton,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionProgressBar,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from sd21_desktop import APP_NAME
from sd21_desktop.gallery.queue_store import Recovery
from sd21_desktop.qt.jobs import STATE_LABELS, Job, JobQueue, JobState
from sd21_desktop.ui.icons import set_icon

_PADDING = 6
_BUTTON = 20
_STATE_COLOURS = {
    JobState.RUNNING: "#1f6feb",
    JobState.FAILED: "#c62828",
    JobState.NOT_SAVED: "#c62828",
    JobState.FINISHED: "#2e7d32",
    JobState.CANCELLED: "#777777",
    JobState.PENDING: "#8a6d00",
}
_STRIP_STYLE = (
    "#%s { background: #fff8e1; color: #5f4300; border: 1px solid #ffe08a; border-radius: 4px; }"
)


def _plural(count: int, one: str, many: str) -> str:
    return one.format(count) if count == 1 else many.format(count)


def recovery_text(recovery: Recovery) -> str:
    """The recovery question, e.g. "3 jobs were waiting and 1 was running when … stopped"."""
    if not recovery.unclean:
        return _plural(
            recovery.waiting,
            "1 job is still queued from last time.",
            "{} jobs are still queued from last time.",
        )
    waiting = _plural(recovery.waiting, "1 job was waiting", "{} jobs were waiting")
    if not recovery.running:
        what = waiting
    elif recovery.waiting:
        what = f"{waiting} and {_plural(recovery.running, '1 was', '{} were')} running"
    else:
        what = _plural(recovery.running, "1 job was running", "{} jobs were running")
    return f"{what} when {APP_NAME} stopped."


def _job(index: QModelIndex | QPersistentModelIndex) -> Job | None:
    job = index.data(JobQueue.JobRole)
    return job if isinstance(job, Job) else None


class JobDelegate(QStyledItemDelegate):
    """Paints a job: state and the prompt's start, size and seed (or the error), a progress bar
    while it runs, and a ✕ that cancels it (running, waiting) or takes it off the list."""

    button_clicked = Signal(str)  # job id

    def sizeHint(self, option: QStyleOptionViewItem, index: Any) -> QSize:  # noqa: N802
        line = option.fontMetrics.height()
        job = _job(index)
        lines = 3 if job is not None and job.state is JobState.RUNNING else 2
        return QSize(200, lines * (line + 3) + 2 * _PADDING)

    @staticmethod
    def button_rect(rect: QRect) -> QRect:
        return QRect(rect.right() - _BUTTON - _PADDING + 1, rect.top() + _PADDING, _BUTTON, _BUTTON)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Any) -> None:
        job = _job(index)
        if job is None:
            super().paint(painter, option, index)
            return
        painter.save()
        style = option.widget.style() if option.widget is not None else QApplication.style()
        style.drawPrimitive(
            QStyle.PrimitiveElement.PE_PanelItemViewItem, option, painter, option.widget
        )
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        text_colour = option.palette.highlightedText() if selected else option.palette.text()
        line = option.fontMetrics.height() + 3
        rect = option.rect.adjusted(_PADDING, _PADDING, -_PADDING, -_PADDING)
        text_width = rect.width() - _BUTTON - _PADDING
        bold = QFont(option.font)
        bold.setBold(True)
        label = STATE_LABELS[job.state]
        if job.state is JobState.RUNNING and job.total:
            label += f" {job.step}/{job.total}"
        painter.setFont(bold)
        painter.setPen(text_colour.color() if selected else QColor(_STATE_COLOURS[job.state]))
        label_width = painter.fontMetrics().horizontalAdvance(label) + 8
        painter.drawText(
            QRect(rect.left(), rect.top(), label_width, line), Qt.AlignmentFlag.AlignVCenter, label
        )
        painter.setFont(option.font)
        painter.setPen(text_colour.color())
        prompt = " ".join(job.request.prompt.split()) or "(empty prompt)"
        painter.drawText(
            QRect(rect.left() + label_width, rect.top(), text_width - label_width, line),
            Qt.AlignmentFlag.AlignVCenter,
            option.fontMetrics.elidedText(
                prompt, Qt.TextElideMode.ElideRight, text_width - label_width
            ),
        )
        request = job.request
        detail = job.error or (
            f"{request.mode} · {request.width}×{request.height} · seed {request.seed} · "
            f"{request.steps} steps"
            + (f" · ×{request.batch_size}" if request.batch_size > 1 else "")
        )
        if job.error:
            painter.setPen(QColor(_STATE_COLOURS[JobState.FAILED]))
        painter.drawText(
            QRect(rect.left(), rect.top() + line, rect.width(), line),
            Qt.AlignmentFlag.AlignVCenter,
            option.fontMetrics.elidedText(detail, Qt.TextElideMode.ElideRight, rect.width()),
        )
        if job.state is JobState.RUNNING:
            self._paint_progress(
                painter,
                option,
                job,
                QRect(rect.left(), rect.top() + 2 * line, rect.width(), line - 3),
            )
        self._paint_button(painter, option, job)
        painter.restore()

    @staticmethod
    def _paint_progress(
        painter: QPainter, option: QStyleOptionViewItem, job: Job, rect: QRect
    ) -> None:
        bar = QStyleOptionProgressBar()
        bar.rect = rect
        bar.minimum = 0
        bar.maximum = max(job.total or job.request.steps, 1)
        bar.progress = job.step
        bar.textVisible = False
        bar.state = QStyle.StateFlag.State_Enabled | QStyle.StateFlag.State_Horizontal
        style = option.widget.style() if option.widget is not None else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ProgressBar, bar, painter, option.widget)

    def _paint_button(self, painter: QPainter, option: QStyleOptionViewItem, job: Job) -> None:
        rect = self.button_rect(option.rect)
        hovered = bool(option.state & QStyle.StateFlag.State_MouseOver)
        painter.setPen(option.palette.mid().color())
        if hovered:
            painter.setBrush(option.palette.button())
            painter.drawRoundedRect(rect.adjusted(0, 0, -1, -1), 4, 4)
        painter.setPen(option.palette.text().color())
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, "✕")

    def editorEvent(  # noqa: N802
        self, event: QEvent, model: QAbstractItemModel, option: QStyleOptionViewItem, index: Any
    ) -> bool:
        if (
            event.type() == QEvent.Type.MouseButtonRelease
            and isinstance(event, QMouseEvent)
            and event.button() == Qt.MouseButton.LeftButton
            and self.button_rect(option.rect).contains(event.position().toPoint())
        ):
            job = _job(index)
            if job is not None:
                self.button_clicked.emit(job.id)
                return True
        return super().editorEvent(event, model, option, index)


class Strip(QFrame):
    """A message with buttons, shown at the top of the window until answered."""

    def __init__(self, name: str, buttons: list[tuple[str, str]]) -> None:
        super().__init__()
        self.setObjectName(name)
        self.setAccessibleName("Queue message")
        self.setStyleSheet(_STRIP_STYLE % name)
        self.label = QLabel()
        self.label.setObjectName(f"{name}Label")
        self.label.setWordWrap(True)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 4, 4)
        layout.addWidget(self.label, 1)
        self.buttons: dict[str, QPushButton] = {}
        for object_name, text in buttons:
            button = QPushButton(text)
            button.setObjectName(object_name)
            button.setAccessibleName(text.rstrip("…"))
            layout.addWidget(button)
            self.buttons[object_name] = button
        self.hide()

    def text(self) -> str:
        return self.label.text() if self.isVisible() else ""


class QueuePanel(QWidget):
    """The queue's list and its actions; owns the recovery and "not saved" strips, which the
    window places where they are seen."""

    save_again_requested = Signal(str, list)  # job id, the images kept in memory
    save_elsewhere_requested = Signal(str, list, str)  # job id, images, folder

    def __init__(self, queue: JobQueue, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("queuePanel")
        self.queue = queue
        self.unsaved_job: str | None = None
        self.view = QListView()
        self.view.setObjectName("queueView")
        self.view.setAccessibleName("Job queue")
        self.view.setModel(queue)
        self.delegate = JobDelegate(self.view)
        self.view.setItemDelegate(self.delegate)
        self.view.setMouseTracking(True)  # the ✕ lights up under the mouse
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setDragDropMode(QAbstractItemView.DragDropMode.InternalMove)
        self.view.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.view.setDropIndicatorShown(True)
        self.view.setToolTip("Drag waiting jobs to reorder them (or Ctrl+Up / Ctrl+Down)")
        self.title = QLabel()
        self.title.setObjectName("queueTitle")
        self.pause_button = self._button("pauseQueueButton", "Pause", "Start no new job")
        self.pause_button.setCheckable(True)
        # Icons with their words in tooltips: three words side by side would make the queue column
        # too wide for a 1024-pixel window.
        self.retry_button = self._icon_button(
            "retryJobButton", "Retry", "replay", "Run the failed job again"
        )
        self.clear_button = self._icon_button(
            "clearFinishedButton",
            "Clear finished",
            "broom",
            "Take finished and cancelled jobs off the list",
        )
        self.remove_button = self._icon_button(
            "removeJobButton",
            "Remove",
            "close-circle-outline",
            "Cancel the selected jobs, or take them off the list",
        )
        self.recovery_strip = Strip(
            "recoveryStrip",
            [
                ("recoveryResumeButton", "Resume"),
                ("recoveryReviewButton", "Review"),
                ("recoveryDiscardButton", "Discard"),
            ],
        )
        self.save_strip = Strip(
            "saveStrip", [("saveAgainButton", "Save again"), ("saveAsButton", "Save as…")]
        )
        self._layout()
        self._connect()
        self._update_title()

    def _button(self, name: str, text: str, tip: str) -> QPushButton:
        button = QPushButton(text)
        button.setObjectName(name)
        button.setAccessibleName(text)
        button.setToolTip(tip)
        return button

    def _icon_button(self, name: str, text: str, icon: str, tip: str) -> QPushButton:
        button = self._button(name, "", f"{text}: {tip}")
        button.setAccessibleName(text)
        set_icon(button, icon)
        return button

    def _layout(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        header = QHBoxLayout()
        header.addWidget(self.title, 1)
        header.addWidget(self.pause_button)
        layout.addLayout(header)
        layout.addWidget(self.view, 1)
        actions = QHBoxLayout()
        actions.addStretch(1)
        for button in (self.retry_button, self.clear_button, self.remove_button):
            actions.addWidget(button)
        layout.addLayout(actions)

    def _connect(self) -> None:
        queue = self.queue
        self.delegate.button_clicked.connect(queue.remove)
        self.pause_button.toggled.connect(queue.set_paused)
        queue.paused_changed.connect(self._on_paused_changed)
        self.retry_button.clicked.connect(self.retry_selected)
        self.clear_button.clicked.connect(queue.clear_finished)
        self.remove_button.clicked.connect(self.remove_selected)
        for signal in (queue.rowsInserted, queue.rowsRemoved, queue.dataChanged):
            signal.connect(self._update_title)
        queue.job_state_changed.connect(self._on_state_changed)
        strip = self.recovery_strip.buttons
        strip["recoveryResumeButton"].clicked.connect(lambda: self._answer(queue.resume_recovered))
        strip["recoveryReviewButton"].clicked.connect(lambda: self._answer(queue.review_recovered))
        strip["recoveryDiscardButton"].clicked.connect(
            lambda: self._answer(queue.discard_recovered)
        )
        self.save_strip.buttons["saveAgainButton"].clicked.connect(self.save_again)
        self.save_strip.buttons["saveAsButton"].clicked.connect(self.save_as)
        for keys, step in (("Ctrl+Up", -1), ("Ctrl+Down", 1)):
            shortcut = QShortcut(QKeySequence(keys), self.view)
            shortcut.activated.connect(lambda step=step: self.move_selected(step))
        self._on_paused_changed(queue.paused)

    def selected_ids(self) -> list[str]:
        return [index.data(JobQueue.JobIdRole) for index in self.view.selectedIndexes()]

    @Slot()
    def remove_selected(self) -> None:
        for job_id in self.selected_ids():
            self.queue.remove(job_id)

    @Slot()
    def retry_selected(self) -> None:
        for job_id in self.selected_ids():
            self.queue.retry(job_id)

    def move_selected(self, step: int) -> None:
        ids = self.selected_ids()
        if len(ids) == 1 and (job := self.queue.job(ids[0])) is not None:
            row = self.queue.jobs().index(job)
            if self.queue.move(job.id, row + step):
                self.view.setCurrentIndex(self.queue.index(self.queue.jobs().index(job)))

    @Slot(bool)
    def _on_paused_changed(self, paused: bool) -> None:
        self.pause_button.blockSignals(True)
        self.pause_button.setChecked(paused)
        self.pause_button.blockSignals(False)
        self.pause_button.setText("Resume" if paused else "Pause")
        self.pause_button.setAccessibleName("Resume the queue" if paused else "Pause the queue")
        self._update_title()

    def _update_title(self, *args: Any) -> None:
        jobs = self.queue.jobs()
        waiting = sum(job.state is JobState.PENDING for job in jobs)
        running = any(job.state is JobState.RUNNING for job in jobs)
        parts = [f"{waiting} waiting"] if waiting else []
        if running:
            parts.insert(0, "1 running")
        if self.queue.paused:
            parts.append("paused")
        self.title.setText("<b>Queue</b>" + (f" · {', '.join(parts)}" if parts else ""))

    # recovery ------------------------------------------------------------------------------
    def show_recovery(self, recovery: Recovery) -> None:
        self.recovery_strip.label.setText(
            f"{recovery_text(recovery)} Resume runs them (a job that was running starts again; "
            "images already saved are not made twice), Review keeps them paused, Discard "
            "drops them."
        )
        self.recovery_strip.show()

    def _answer(self, action: Any) -> None:
        self.recovery_strip.hide()
        action()

    # images the disk refused ---------------------------------------------------------------
    @Slot(str, str)
    def _on_state_changed(self, job_id: str, state: str) -> None:
        if state == JobState.NOT_SAVED.value:
            job = self.queue.job(job_id)
            self.unsaved_job = job_id
            count = len(job.unsaved) if job is not None else 0
            self.save_strip.label.setText(
                f"{_plural(count, '1 image was', '{} images were')} not saved: "
                f"{job.error if job else ''}. "
                f"{'It is' if count == 1 else 'They are'} kept in memory and the queue is paused. "
                "Free some space or fix the folder, then Save again, or Save as… elsewhere."
            )
            self.save_strip.show()
        elif job_id == self.unsaved_job:
            self.unsaved_job = None
            self.save_strip.hide()

    def _unsaved(self) -> tuple[str, list[Any]] | None:
        job = self.queue.job(self.unsaved_job) if self.unsaved_job else None
        if job is None or not job.unsaved:
            return None
        return job.id, list(job.unsaved)

    @Slot()
    def save_again(self) -> None:
        unsaved = self._unsaved()
        if unsaved is not None:
            self.save_strip.label.setText("Saving again…")
            self.save_again_requested.emit(*unsaved)

    @Slot()
    def save_as(self) -> None:
        unsaved = self._unsaved()
        if unsaved is None:
            return
        folder = QFileDialog.getExistingDirectory(self, "Save the unsaved images in…")
        if folder:
            self.save_strip.label.setText(f"Saving in {folder}…")
            self.save_elsewhere_requested.emit(*unsaved, folder)
