"""Colours for the prompt syntax: weights, brackets, BREAK, LoRA tags and embedding names."""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtGui import QColor, QFont, QSyntaxHighlighter, QTextCharFormat, QTextDocument

from sd21_desktop.engine.prompt_editing import syntax_spans


def _format(colour: str, bold: bool = False) -> QTextCharFormat:
    fmt = QTextCharFormat()
    fmt.setForeground(QColor(colour))
    if bold:
        fmt.setFontWeight(QFont.Weight.Bold)
    return fmt


FORMATS = {
    "bracket": _format("#8e24aa", bold=True),
    "weight": _format("#d81b60", bold=True),
    "break": _format("#f57c00", bold=True),
    "lora": _format("#00897b", bold=True),
    "tag": _format("#757575"),
    "embedding": _format("#1e88e5", bold=True),
}


class PromptHighlighter(QSyntaxHighlighter):
    """Highlights each block (line) of a prompt; tags and groups rarely span lines."""

    def __init__(self, document: QTextDocument) -> None:
        super().__init__(document)
        self.embedding_names: list[str] = []

    def set_embedding_names(self, names: Iterable[str]) -> None:
        names = sorted(names)
        if names != self.embedding_names:
            self.embedding_names = names
            self.rehighlight()

    def highlightBlock(self, text: str) -> None:  # noqa: N802 - Qt's name
        for span in syntax_spans(text, self.embedding_names):
            self.setFormat(span.start, span.end - span.start, FORMATS[span.kind])
