"""The prompt editor: prompt and negative prompt with live token counters and history.

Prompts use AUTOMATIC1111's syntax (:mod:`sd21_desktop.engine.prompt_syntax`): the counter
shows ``n/75``, ``n/150``, … as the engine splits long prompts into 75-token chunks; weights,
BREAK, LoRA tags and embedding names are coloured; Ctrl+Up/Down change the weight of the
selection or the word under the cursor; LoRA and embedding names complete as they are typed,
and the side list inserts them with a click.
"""

from __future__ import annotations

import contextlib
from typing import Any

from PySide6.QtCore import (
    QEvent,
    QObject,
    QRunnable,
    QStringListModel,
    Qt,
    QThreadPool,
    Signal,
    Slot,
)
from PySide6.QtGui import QKeyEvent, QKeySequence, QShortcut, QTextCursor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCompleter,
    QHBoxLayout,
    QLabel,
    QMenu,
    QPlainTextEdit,
    QSizePolicy,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from sd21_desktop.engine.prompt_editing import (
    WEIGHT_STEP,
    CompletionContext,
    adjust_weight,
    completion_prefix,
)
from sd21_desktop.engine.tokens import (
    PROMPT_TOKENS,
    PromptCount,
    count_prompt,
    load_tokenizer,
    tokenizer_loaded,
)
from sd21_desktop.prompt_history import PromptHistory, PromptPair
from sd21_desktop.ui.icons import set_icon
from sd21_desktop.ui.networks_panel import NetworksPanel
from sd21_desktop.ui.parameter_widgets import set_severity
from sd21_desktop.ui.prompt_highlighter import PromptHighlighter


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
    """A plain-text prompt box (undo/redo built in) with syntax colours, a token count by the
    engine's own chunking, Ctrl+Up/Down weights and completion of LoRA and embedding names; it
    grows with its text from ``min_lines`` to ``max_lines`` (then scrolls)."""

    token_count_changed = Signal(object)  # PromptCount

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
        self.last_count = PromptCount(0, PROMPT_TOKENS, 1)
        self.embedding_vectors: dict[str, int] = {}
        self.lora_names: list[str] = []
        self.highlighter = PromptHighlighter(self.document())
        self.completer = QCompleter(self)
        self.completer.setWidget(self)
        self.completer.setCompletionMode(QCompleter.CompletionMode.UnfilteredPopupCompletion)
        self.completer.setModel(QStringListModel(self.completer))
        self.completer.activated.connect(self.insert_completion)
        self.min_lines, self.max_lines = lines
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

    def set_networks(self, embedding_vectors: dict[str, int], lora_names: list[str]) -> None:
        self.embedding_vectors = embedding_vectors
        self.lora_names = lora_names
        self.highlighter.set_embedding_names(embedding_vectors)
        self._recount()

    @Slot()
    def _recount(self) -> None:
        if not tokenizer_loaded():
            return  # counted when the tokenizer has loaded
        count = count_prompt(self.toPlainText(), self.embedding_vectors)
        self.last_count = count
        self.token_count_changed.emit(count)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt's name
        popup = self._popup()
        if popup.isVisible() and event.key() in _COMPLETER_KEYS:
            event.ignore()  # the completer's popup takes them
            return
        control = event.modifiers() & Qt.KeyboardModifier.ControlModifier
        if control and event.key() in (Qt.Key.Key_Up, Qt.Key.Key_Down):
            self.adjust_weight(WEIGHT_STEP if event.key() == Qt.Key.Key_Up else -WEIGHT_STEP)
            return
        super().keyPressEvent(event)
        if event.text() and not control:
            self._update_completion()
        elif popup.isVisible():
            popup.hide()

    def adjust_weight(self, delta: float) -> None:
        """Ctrl+Up / Ctrl+Down: weight the selection or the word/group under the cursor."""
        cursor = self.textCursor()
        text = self.toPlainText()
        new_text, start, end = adjust_weight(
            text, cursor.selectionStart(), cursor.selectionEnd(), delta
        )
        if new_text != text:
            edit = QTextCursor(self.document())
            edit.beginEditBlock()  # one undo step
            edit.select(QTextCursor.SelectionType.Document)
            edit.insertText(new_text)
            edit.endEditBlock()
        cursor = self.textCursor()
        cursor.setPosition(start)
        cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
        self.setTextCursor(cursor)

    def _popup(self) -> QAbstractItemView:
        popup = self.completer.popup()
        assert popup is not None  # QCompleter always makes one
        return popup

    def _candidates(self, context: CompletionContext) -> list[str]:
        names = self.lora_names if context.kind == "lora" else list(self.embedding_vectors)
        prefix = context.prefix.lower()
        return sorted(n for n in names if n.lower().startswith(prefix) and n != context.prefix)

    def _update_completion(self) -> None:
        context = completion_prefix(self.toPlainText(), self.textCursor().position())
        candidates = self._candidates(context) if context is not None else []
        popup = self._popup()
        if not candidates:
            popup.hide()
            return
        model = self.completer.model()
        assert isinstance(model, QStringListModel)
        model.setStringList(candidates)
        rect = self.cursorRect()
        rect.setWidth(max(160, popup.sizeHintForColumn(0) + 24))
        self.completer.complete(rect)
        popup.setCurrentIndex(model.index(0, 0))

    @Slot(str)
    def insert_completion(self, name: str) -> None:
        cursor = self.textCursor()
        context = completion_prefix(self.toPlainText(), cursor.position())
        if context is None:
            return
        cursor.setPosition(context.start, QTextCursor.MoveMode.KeepAnchor)
        cursor.insertText(name + (":1>" if context.kind == "lora" else ""))
        self.setTextCursor(cursor)


_COMPLETER_KEYS = (
    Qt.Key.Key_Enter,
    Qt.Key.Key_Return,
    Qt.Key.Key_Escape,
    Qt.Key.Key_Tab,
    Qt.Key.Key_Backtab,
)


class PromptEditor(QWidget):
    generate_requested = Signal()
    rescan_requested = Signal()  # look in the LoRA / embeddings folders again

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
        self.networks_panel = NetworksPanel()
        self.networks_panel.setMaximumHeight(120)
        self.networks_panel.insert_requested.connect(self.insert_network)
        self.networks_panel.rescan_requested.connect(self.rescan_requested)
        self.networks_panel.set_entries([])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(header)
        layout.addWidget(self.prompt_edit)
        layout.addLayout(negative_header)
        layout.addWidget(self.negative_edit)
        layout.addWidget(self.networks_panel)
        self._last_edit = self.prompt_edit
        self.negative_edit.installEventFilter(self)

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
    def _show_count(label: QLabel, count: PromptCount) -> None:
        label.setText(f"{count.count}/{count.target}")
        set_severity(label, "muted")
        label.setToolTip(
            f"Tokens used; the text encoder reads them in {count.chunks} chunk"
            f"{'s' if count.chunks != 1 else ''} of 75."
        )

    @Slot(list)
    def set_networks(self, entries: list[Any]) -> None:
        """The LoRAs and embeddings found (``NetworkEntry`` items from the library scan)."""
        vectors = {
            e.name: e.vectors for e in entries if e.kind == "embedding" and e.vectors is not None
        }
        loras = [e.name for e in entries if e.kind == "lora"]
        for edit in (self.prompt_edit, self.negative_edit):
            edit.set_networks(vectors, loras)
        self.networks_panel.set_entries(entries)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.FocusIn and watched is self.negative_edit:
            self._last_edit = self.negative_edit
        return super().eventFilter(watched, event)

    @Slot(str)
    def insert_network(self, text: str) -> None:
        """Insert ``text`` at the cursor of the prompt box last used, spaced from its words."""
        edit = self._last_edit if self._last_edit.hasFocus() else self.prompt_edit
        cursor = edit.textCursor()
        before = edit.toPlainText()[: cursor.position()]
        if before and not before[-1].isspace():
            text = " " + text
        cursor.insertText(text)
        edit.setTextCursor(cursor)
        edit.setFocus()

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
