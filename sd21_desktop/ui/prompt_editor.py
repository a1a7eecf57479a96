"""The prompt editor: prompt and negative prompt with live token counters and history.

SD2's text encoder reads 75 prompt tokens; the counter shows ``n/75`` and the words past the
limit are struck through in red, since the pipeline drops them silently.
"""

from __future__ import annotations

import contextlib

from PySide6.QtCore import QObject, QRunnable, Qt, QThreadPool, Signal, Slot
from PySide6.QtGui import QKeySequence, QPalette, QShortcut, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMenu,
    QPlainTextEdit,
    QSizePolicy,
    QTextEdit,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from sd21_desktop.engine.tokens import (
    PROMPT_TOKENS,
    TokenCount,
    count_tokens,
    load_tokenizer,
    tokenizer_loaded,
)
from sd21_desktop.prompt_history import PromptHistory, PromptPair
from sd21_desktop.ui.icons import set_icon
from sd21_desktop.ui.parameter_widgets import set_severity


class _TokenizerReady(QObject):
    loaded = Signal()


class _LoadTokenizer(QRunnable):
    """Reads the tokenizer file on the thread pool so the window shows without waiting."""

    def __init__(self, ready: _TokenizerReady) -> None:
        super().__init__()
        self.ready = ready

    def run(self) -> None:
        load_tokenizer()
        with contextlib.suppress(RuntimeError):  # the editor was closed before the load ended
            self.ready.loaded.emit()


class PromptTextEdit(QPlainTextEdit):
    """A plain-text prompt box (undo/redo built in) that marks the tokens past the limit and
    grows with its text from ``min_lines`` to ``max_lines`` (then scrolls)."""

    token_count_changed = Signal(object)  # TokenCount

    def __init__(
        self,
        object_name: str,
        accessible_name: str,
        placeholder: str,
        lines: tuple[int, int] = (3, 12),
    ) -> None:
        super().__init__()
        self.setObjectName(object_name)
        self.setAccessibleName(accessible_name)
        self.setPlaceholderText(placeholder)
        self.setTabChangesFocus(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.min_lines, self.max_lines = lines
        self.last_count = TokenCount(0, PROMPT_TOKENS, None)
        self.textChanged.connect(self._recount)
        self.document().documentLayout().documentSizeChanged.connect(self._fit_height)
        self._fit_height()

    def visible_lines(self) -> int:
        """Lines the box shows: its text's (wrapped) lines, within the box's limits."""
        lines = int(self.document().documentLayout().documentSize().height())
        return max(self.min_lines, min(self.max_lines, lines))

    def height_for_lines(self, lines: int) -> int:
        margins = self.contentsMargins()
        document_margin = int(self.document().documentMargin())
        return (
            lines * self.fontMetrics().lineSpacing()
            + 2 * document_margin
            + margins.top()
            + margins.bottom()
        )

    @Slot()
    def _fit_height(self) -> None:
        height = self.height_for_lines(self.visible_lines())
        if height != self.height() or self.minimumHeight() != height:
            self.setFixedHeight(height)

    @Slot()
    def _recount(self) -> None:
        if not tokenizer_loaded():
            return  # counted when the tokenizer has loaded
        count = count_tokens(self.toPlainText())
        self.last_count = count
        self._mark_dropped(count)
        self.token_count_changed.emit(count)

    def _mark_dropped(self, count: TokenCount) -> None:
        selections: list[QTextEdit.ExtraSelection] = []
        if count.dropped_from is not None:
            selection = QTextEdit.ExtraSelection()
            fmt = QTextCharFormat()
            fmt.setForeground(self.palette().color(QPalette.ColorRole.BrightText))
            fmt.setFontStrikeOut(True)
            fmt.setToolTip("Past the 75-token limit: the model never sees these words.")
            selection.format = fmt  # type: ignore[attr-defined]
            cursor = QTextCursor(self.document())
            cursor.setPosition(count.dropped_from)
            cursor.movePosition(QTextCursor.MoveOperation.End, QTextCursor.MoveMode.KeepAnchor)
            selection.cursor = cursor  # type: ignore[attr-defined]
            selections.append(selection)
        self.setExtraSelections(selections)


class PromptEditor(QWidget):
    generate_requested = Signal()

    def __init__(self, history: PromptHistory, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.history = history
        self.prompt_edit = PromptTextEdit("promptEdit", "Prompt", "Describe the image…")
        self.negative_edit = PromptTextEdit(
            "negativePromptEdit", "Negative prompt", "What to avoid (optional)…", lines=(2, 6)
        )
        self.prompt_edit.setToolTip(
            "What the image shows; 75 tokens are read, Ctrl+Enter generates (CLI: --prompt)"
        )
        self.negative_edit.setToolTip(
            "What the image should avoid, e.g. blurry, watermark (CLI: --negative-prompt)"
        )
        self.prompt_counter = QLabel()
        self.prompt_counter.setObjectName("promptTokenCounter")
        self.negative_counter = QLabel()
        self.negative_counter.setObjectName("negativeTokenCounter")
        self.history_button = QToolButton()
        self.history_button.setObjectName("promptHistoryButton")
        set_icon(self.history_button, "history", "Prompt history: reuse or search earlier "
                 "prompts")
        self.history_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.history_menu = QMenu(self.history_button)
        self.history_menu.aboutToShow.connect(self._fill_history_menu)
        self.history_button.setMenu(self.history_menu)

        header = QHBoxLayout()
        header.addWidget(QLabel("<b>Prompt</b>"))
        header.addStretch(1)
        header.addWidget(self.prompt_counter)
        header.addWidget(self.history_button)
        negative_header = QHBoxLayout()
        negative_header.addWidget(QLabel("<b>Negative prompt</b>"))
        negative_header.addStretch(1)
        negative_header.addWidget(self.negative_counter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(header)
        layout.addWidget(self.prompt_edit)
        layout.addLayout(negative_header)
        layout.addWidget(self.negative_edit)

        self.prompt_edit.token_count_changed.connect(
            lambda count: self._show_count(self.prompt_counter, count)
        )
        self.negative_edit.token_count_changed.connect(
            lambda count: self._show_count(self.negative_counter, count)
        )
        self._show_count(self.prompt_counter, self.prompt_edit.last_count)
        self._show_count(self.negative_counter, self.negative_edit.last_count)
        self._tokenizer_ready = _TokenizerReady(self)
        self._tokenizer_ready.loaded.connect(self._on_tokenizer_loaded)
        if tokenizer_loaded():
            self._on_tokenizer_loaded()
        else:
            QThreadPool.globalInstance().start(_LoadTokenizer(self._tokenizer_ready))
        for edit in (self.prompt_edit, self.negative_edit):
            for keys in ("Ctrl+Return", "Ctrl+Enter"):
                shortcut = QShortcut(QKeySequence(keys), edit)
                shortcut.setContext(Qt.ShortcutContext.WidgetShortcut)
                shortcut.activated.connect(self.generate_requested)

    @Slot()
    def _on_tokenizer_loaded(self) -> None:
        self.prompt_edit._recount()
        self.negative_edit._recount()

    @staticmethod
    def _show_count(label: QLabel, count: TokenCount) -> None:
        label.setText(f"{count.count}/{count.limit}")
        over = count.over_limit
        set_severity(label, "error" if over else "muted")
        label.setToolTip(
            f"{count.count - count.limit} tokens past the limit are dropped."
            if over
            else "Tokens used of the 75 the text encoder reads."
        )

    def prompt(self) -> str:
        return self.prompt_edit.toPlainText()

    def negative_prompt(self) -> str:
        return self.negative_edit.toPlainText()

    def set_prompts(self, prompt: str, negative_prompt: str) -> None:
        self.prompt_edit.setPlainText(prompt)
        self.negative_edit.setPlainText(negative_prompt)

    def remember(self) -> None:
        self.history.add(self.prompt(), self.negative_prompt())

    @Slot()
    def _fill_history_menu(self) -> None:
        self.history_menu.clear()
        search = self.history_menu.addAction("Search history…")
        search.triggered.connect(self._search_history)
        self.history_menu.addSeparator()
        if not self.history.entries:
            self.history_menu.addAction("(no prompts yet)").setEnabled(False)
        for pair in self.history.entries[:25]:
            self._add_history_action(pair)

    def _add_history_action(self, pair: PromptPair) -> None:
        text = pair.prompt.replace("\n", " ")
        action = self.history_menu.addAction(text if len(text) < 70 else text[:69] + "…")
        action.setToolTip(pair.prompt)
        action.triggered.connect(lambda: self.set_prompts(pair.prompt, pair.negative_prompt))

    @Slot()
    def _search_history(self) -> None:
        from sd21_desktop.ui.history_dialog import HistoryDialog

        dialog = HistoryDialog(self.history, self)
        if dialog.exec() and dialog.chosen is not None:
            self.set_prompts(dialog.chosen.prompt, dialog.chosen.negative_prompt)
