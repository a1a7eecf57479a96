"""The prompt editor with A1111 syntax: Ctrl+Up/Down, colours, completion, the LoRA/embedding
list, folders watched while the app runs, and the folders in Settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import QListWidget
from pytestqt.qtbot import QtBot

from sd21_desktop.engine.networks import NetworkFolders
from sd21_desktop.engine.synthetic_networks import random_vectors, save_embedding
from sd21_desktop.qt.network_library import NetworkEntry, NetworkLibrary
from sd21_desktop.ui.main_window import MainWindow
from sd21_desktop.ui.prompt_editor import PromptEditor

ENTRIES = [
    NetworkEntry("lora", "inkwash", 1000),
    NetworkEntry("lora", "pixel", 1000),
    NetworkEntry("embedding", "mystyle", 100, vectors=8),
]


# The offscreen platform cannot raise a popup or grab the keyboard: its warnings, not ours.
OFFSCREEN_POPUP = pytest.mark.qt_log_ignore("This plugin does not support")


def _editor(qtbot: QtBot, tmp_path: Path) -> PromptEditor:
    from sd21_desktop.engine.tokens import load_tokenizer
    from sd21_desktop.prompt_history import PromptHistory

    load_tokenizer()
    editor = PromptEditor(PromptHistory(tmp_path / "history.json"))
    qtbot.addWidget(editor)
    editor.show()
    editor.set_networks(ENTRIES)
    return editor


def _place_cursor(editor: PromptEditor, position: int, end: int | None = None) -> None:
    edit = editor.prompt_edit
    cursor = edit.textCursor()
    cursor.setPosition(position)
    if end is not None:
        cursor.setPosition(end, QTextCursor.MoveMode.KeepAnchor)
    edit.setTextCursor(cursor)
    edit.setFocus()


def test_ctrl_up_and_down_weight_the_word_under_the_cursor(qtbot: QtBot, tmp_path: Path) -> None:
    editor = _editor(qtbot, tmp_path)
    edit = editor.prompt_edit
    edit.setPlainText("a red cat")
    _place_cursor(editor, 3)
    qtbot.keyClick(edit, Qt.Key.Key_Up, Qt.KeyboardModifier.ControlModifier)
    assert edit.toPlainText() == "a (red:1.1) cat"
    assert edit.textCursor().selectedText() == "red"
    qtbot.keyClick(edit, Qt.Key.Key_Up, Qt.KeyboardModifier.ControlModifier)
    assert edit.toPlainText() == "a (red:1.2) cat"
    for _ in range(2):
        qtbot.keyClick(edit, Qt.Key.Key_Down, Qt.KeyboardModifier.ControlModifier)
    assert edit.toPlainText() == "a red cat"
    edit.undo()
    assert edit.toPlainText() == "a (red:1.1) cat"  # each press is one undo step


def test_syntax_is_coloured(qtbot: QtBot, tmp_path: Path) -> None:
    from sd21_desktop.ui.prompt_highlighter import FORMATS

    editor = _editor(qtbot, tmp_path)
    text = "a (red:1.3) mystyle BREAK <lora:inkwash:0.5>"
    editor.prompt_edit.setPlainText(text)
    layout = editor.prompt_edit.document().firstBlock().layout()
    coloured = {
        text[r.start : r.start + r.length]: r.format.foreground().color().name()
        for r in layout.formats()
    }
    assert coloured["1.3"] == FORMATS["weight"].foreground().color().name()
    assert coloured["mystyle"] == FORMATS["embedding"].foreground().color().name()
    assert coloured["BREAK"] == FORMATS["break"].foreground().color().name()
    assert coloured["<lora:inkwash:0.5>"] == FORMATS["lora"].foreground().color().name()


def test_counter_counts_embedding_vectors(qtbot: QtBot, tmp_path: Path) -> None:
    editor = _editor(qtbot, tmp_path)
    editor.prompt_edit.setPlainText("a mystyle cat <lora:inkwash:1>")
    assert editor.prompt_counter.text() == "10/75"


@OFFSCREEN_POPUP
def test_lora_names_complete_after_lora_tag(qtbot: QtBot, tmp_path: Path) -> None:
    editor = _editor(qtbot, tmp_path)
    edit = editor.prompt_edit
    edit.setFocus()
    qtbot.keyClicks(edit, "a cat <lora:in")
    popup = edit.completer.popup()
    assert popup is not None
    qtbot.waitUntil(popup.isVisible)
    assert edit.completer.model().index(0, 0).data() == "inkwash"
    edit.insert_completion("inkwash")
    assert edit.toPlainText() == "a cat <lora:inkwash:1>"


@OFFSCREEN_POPUP
def test_embedding_names_complete_while_typing(qtbot: QtBot, tmp_path: Path) -> None:
    editor = _editor(qtbot, tmp_path)
    edit = editor.prompt_edit
    edit.setFocus()
    qtbot.keyClicks(edit, "photo in mys")
    assert edit.completer.model().index(0, 0).data() == "mystyle"
    edit.insert_completion("mystyle")
    assert edit.toPlainText() == "photo in mystyle"


def test_side_list_inserts_on_click(qtbot: QtBot, tmp_path: Path) -> None:
    editor = _editor(qtbot, tmp_path)
    editor.prompt_edit.setPlainText("a cat")
    _place_cursor(editor, 5)
    listing = editor.findChild(QListWidget, "networksList")
    assert listing is not None
    assert [listing.item(i).text() for i in range(listing.count())] == [
        "LoRA  inkwash", "LoRA  pixel", "TI  mystyle (8 tok)",
    ]
    listing.itemClicked.emit(listing.item(0))
    assert editor.prompt() == "a cat <lora:inkwash:1>"
    listing.itemClicked.emit(listing.item(2))
    assert editor.prompt() == "a cat <lora:inkwash:1> mystyle"


def test_library_finds_files_added_while_running(qtbot: QtBot, tmp_path: Path) -> None:
    folders = NetworkFolders(tmp_path / "emb", tmp_path / "lora")
    folders.embeddings.mkdir()
    folders.loras.mkdir()
    library = NetworkLibrary(folders)
    with qtbot.waitSignal(library.changed, timeout=10_000) as first:
        library.rescan()
    assert first.args == [[]]
    with qtbot.waitSignal(library.changed, timeout=10_000) as added:
        save_embedding(folders.embeddings / "newstyle.pt", random_vectors(3, 32), "a1111_pt")
    assert added.args[0][0].name == "newstyle"
    assert added.args[0][0].vectors == 3
    del library


def test_settings_choose_the_folders(window: MainWindow, qtbot: QtBot, tmp_path: Path) -> None:
    from sd21_desktop.ui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(window.settings)
    qtbot.addWidget(dialog)
    dialog.embeddings_edit.setText(str(tmp_path / "e"))
    dialog.lora_edit.setText(str(tmp_path / "l"))
    dialog.apply_to(window.settings)
    controller = window.controller  # type: ignore[attr-defined]
    controller.apply_settings()
    assert controller.library.folders == NetworkFolders(tmp_path / "e", tmp_path / "l")
    qtbot.waitUntil(lambda: controller.worker._networks == controller.library.folders)
