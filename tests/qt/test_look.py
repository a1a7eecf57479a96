"""The window's look and layout: themes, small screens, filmstrip, remembered layout, help."""

from __future__ import annotations

import argparse
import itertools
import re
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import pytest
from PySide6.QtCore import QEvent, QMimeData, QPointF, QSize, Qt
from PySide6.QtGui import QColor, QDropEvent, QGuiApplication, QImage, QKeySequence
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSlider,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QLineEdit,
    QPlainTextEdit,
    QScrollBar,
    QSizePolicy,
    QSpinBox,
    QTabBar,
    QTextEdit,
    QWidget,
)
from pytestqt.qtbot import QtBot

from sd21_desktop.app import create_app
from sd21_desktop.cli import build_parser
from sd21_desktop.engine.request import GenerationRequest
from sd21_desktop.qt.worker import SavedImage
from sd21_desktop.ui.help import ShortcutSheet
from sd21_desktop.ui.hires_group import HiresGroup
from sd21_desktop.ui.main_window import MainWindow
from sd21_desktop.ui.parameter_widgets import LabeledSlider
from sd21_desktop.ui.settings_dialog import SettingsDialog
from sd21_desktop.ui.theme import (
    DARK,
    LIGHT,
    TEXT_PAIRS,
    ThemeManager,
    build_palette,
    contrast_ratio,
)
from sd21_desktop.ui.tooltips import TOOLTIPS
from sd21_desktop.ui.window_layout import MINIMUM_WINDOW, first_run_size
from tests.qt.conftest import close_window


@pytest.fixture
def theme(qapp: QApplication) -> Iterator[ThemeManager]:
    """The running app's theme manager (the window's), reset to the default afterwards."""
    manager = ThemeManager.for_app(qapp, "system")
    yield manager
    manager.set_choice("system")


# themes --------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["dark", "light"])
def test_every_text_colour_of_both_themes_reads_at_4_5_to_1(name: str) -> None:
    palette = build_palette(name)
    for foreground, background in TEXT_PAIRS:
        ratio = contrast_ratio(palette.color(foreground), palette.color(background))
        assert ratio >= 4.5, f"{name}: {foreground.name} on {background.name} is {ratio:.2f}:1"
    colours = DARK if name == "dark" else LIGHT
    for text, on in ((colours.accent_text, colours.accent), (colours.error, colours.window),
                     (colours.warning, colours.window), (colours.muted, colours.window)):
        assert contrast_ratio(QColor(text), QColor(on)) >= 4.5, (name, text, on)


def test_contrast_ratio_matches_the_wcag_extremes() -> None:
    assert contrast_ratio(QColor("black"), QColor("white")) == pytest.approx(21.0)
    assert contrast_ratio(QColor("#777777"), QColor("#777777")) == pytest.approx(1.0)


def test_theme_follows_the_system_scheme_until_one_is_chosen(theme: ThemeManager) -> None:
    hints = QGuiApplication.styleHints()
    hints.colorSchemeChanged.emit(Qt.ColorScheme.Light)  # the platform switched to light
    assert theme.effective == "light"
    assert QApplication.palette().color(build_palette("light").ColorRole.Window) == QColor(
        LIGHT.window
    )
    hints.colorSchemeChanged.emit(Qt.ColorScheme.Dark)
    assert theme.effective == "dark"
    assert QApplication.palette().color(build_palette("dark").ColorRole.Base) == QColor(DARK.base)
    hints.colorSchemeChanged.emit(Qt.ColorScheme.Unknown)  # no preference: dark
    assert theme.effective == "dark"
    theme.set_choice("light")
    hints.colorSchemeChanged.emit(Qt.ColorScheme.Dark)  # a fixed choice wins
    assert theme.effective == "light"


def test_the_settings_dialog_switches_the_theme(window: MainWindow) -> None:
    dialog = SettingsDialog(window.settings, window)
    dialog.theme_combo.setCurrentIndex(dialog.theme_combo.findData("light"))
    dialog.apply_to(window.settings)
    window.settings_changed()
    QApplication.processEvents()  # widgets hear of the new application palette by event
    controller = window.controller  # type: ignore[attr-defined]
    try:
        assert window.settings.theme == "light"
        assert controller.theme.effective == "light"
        assert window.palette().color(window.backgroundRole()) == QColor(LIGHT.window)
        button = window.parameters.dice_button
        icon = button.icon().pixmap(16, 16).toImage()
        dark_pixels = [icon.pixelColor(x, y) for x in range(16) for y in range(16)]
        assert any(c.alpha() > 200 and c.lightness() < 80 for c in dark_pixels)  # icons redrawn
    finally:
        controller.theme.set_choice("system")
        dialog.deleteLater()


@pytest.mark.parametrize("name", ["dark", "light"])
@pytest.mark.parametrize("kind", ["notice", "error"])
def test_the_message_bar_reads_in_both_themes(
    window: MainWindow, theme: ThemeManager, name: str, kind: str
) -> None:
    theme.set_choice(name)
    bar = window.message_bar
    getattr(bar, f"show_{kind}")("Inpainting with tiny as masked img2img")
    QApplication.processEvents()
    picture = bar.grab().toImage()
    text = bar.label.geometry()
    background = picture.pixelColor(text.left() - 3, text.center().y())
    pixels = [picture.pixelColor(x, y) for x in range(text.left(), text.right(), 2)
              for y in range(text.top(), text.bottom())]
    best = max(contrast_ratio(pixel, background) for pixel in pixels)
    assert best >= 4.5, f"{kind} text on {background.name()}: {best:.2f}:1"


# small screens -------------------------------------------------------------------------------
def _effective_minimum_width(widget: QWidget) -> int:
    if widget.minimumWidth() > 0:
        return widget.minimumWidth()
    if widget.sizePolicy().horizontalPolicy() == QSizePolicy.Policy.Ignored:
        return 0
    return widget.minimumSizeHint().width()


def _clipped(window: MainWindow) -> list[str]:
    clipped = []
    for widget in window.findChildren(QWidget):
        if not widget.isVisible() or widget.isWindow() or widget.height() == 0:
            continue  # hidden, a popup, or inside a folded group
        if widget.width() < _effective_minimum_width(widget):
            clipped.append(f"{type(widget).__name__}#{widget.objectName()} "
                           f"{widget.width()} < {_effective_minimum_width(widget)}")
    return clipped


@pytest.mark.parametrize("name", ["dark", "light"])
def test_nothing_is_clipped_at_1024x600_and_1280x800(
    window: MainWindow, qtbot: QtBot, name: str
) -> None:
    controller = window.controller  # type: ignore[attr-defined]
    controller.theme.set_choice(name)
    try:
        hint = window.minimumSizeHint().expandedTo(window.minimumSize())
        assert hint.width() <= MINIMUM_WINDOW.width()
        assert hint.height() <= MINIMUM_WINDOW.height()
        window.parameters.sections["sampling"].expand()
        picture = QImage(704, 384, QImage.Format.Format_RGB32)
        picture.fill(QColor("teal"))
        window.canvas_tab.set_image(picture)  # its size and the painting help under it
        pages = [(window.result_view, "txt2img"), (window.canvas_tab, "inpaint"),
                 (window.canvas_tab, "depth"), (window.gallery_panel, "txt2img")]
        for (page, mode), size in itertools.product(pages, (QSize(1024, 600), QSize(1280, 800))):
            window.parameters.set_mode(mode)
            window.tabs.setCurrentWidget(page)
            window.resize(size)
            QApplication.processEvents()
            assert window.size() == size, (mode, page)
            assert _clipped(window) == [], (size, mode, page)
            assert window.generate_button.isVisible()
            for button in (window.generate_button, window.cancel_button):
                corner = button.mapTo(window, button.rect().bottomRight())
                assert window.rect().contains(corner), (size, corner)
            assert window.queue_view.isVisible()
            assert window.queue_view.width() >= 80
    finally:
        controller.theme.set_choice("system")


def test_the_first_run_size_fits_the_screen() -> None:
    assert first_run_size(QSize(2560, 1400)) == QSize(1600, 1000)
    assert first_run_size(QSize(1600, 1000)) == QSize(1472, 920)
    assert first_run_size(QSize(1093, 720)) == QSize(1024, 662)  # the minimum width fits
    assert first_run_size(QSize(1093, 574)) == QSize(1024, 574)  # 1366×768 at 125 %, a panel


# the prompt box and the parameter rows --------------------------------------------------------
def test_the_prompt_box_grows_from_3_to_12_lines(window: MainWindow) -> None:
    edit = window.prompt_editor.prompt_edit
    for text, lines in (("one line", 3), ("\n".join("abcdefgh"), 8), ("\n".join("x" * 30), 12)):
        edit.setPlainText(text)
        QApplication.processEvents()
        assert edit.height() == edit.height_for_lines(lines), text


def test_seed_buttons_and_the_aspect_lock(window: MainWindow) -> None:
    params = window.parameters
    params.seed_mode_combo.setCurrentIndex(params.seed_mode_combo.findData("random"))
    assert not params.recycle_button.isEnabled()
    params.dice_button.click()
    assert params.seed_mode() == "fixed"
    assert params.seed_spin.isEnabled()
    params.note_used_seed(4242)
    params.seed_spin.setValue(1)
    params.recycle_button.click()
    assert params.seed_spin.value() == 4242
    params.set_size(768, 512)
    params.aspect_button.setChecked(True)
    params.width_spin.setValue(960)
    assert params.height_spin.value() == 640
    params.height_spin.setValue(320)
    assert params.width_spin.value() == 480
    params.set_size(512, 512)  # presets and loaded parameters set both sides as given
    assert (params.width_spin.value(), params.height_spin.value()) == (512, 512)
    params.aspect_button.setChecked(False)
    params.width_spin.setValue(640)
    assert params.height_spin.value() == 512


def _cli_commands(
    parser: argparse.ArgumentParser | None = None, path: str = ""
) -> dict[str, set[str]]:
    """Every command path ("", "gallery list", …) → its flags."""
    parser = parser or build_parser()
    commands = {path: {flag for action in parser._actions for flag in action.option_strings}}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                commands |= _cli_commands(sub, f"{path} {name}".strip())
    return commands


def _cli_flags() -> set[str]:
    return set().union(*_cli_commands().values())


def test_every_parameter_control_has_a_tooltip_naming_a_real_cli_flag(window: MainWindow) -> None:
    flags = _cli_flags()
    controls = [
        w for w in window.parameters.findChildren(QWidget)
        if isinstance(w, QComboBox | QSpinBox | LabeledSlider | QAbstractButton)
        and not isinstance(w.parent(), LabeledSlider)
        and w.objectName()
    ]
    assert len(controls) >= 15
    for widget in controls:
        assert widget.toolTip(), widget.objectName()
    named = [w for w in controls if "(CLI: " in w.toolTip()]
    assert len(named) >= 12
    for widget in named:
        flag = widget.toolTip().split("(CLI: ", 1)[1].split()[0].rstrip(",)")
        assert flag in flags or flag == "generate", (widget.objectName(), flag)


_INTERACTIVE = (
    QAbstractButton, QComboBox, QAbstractSpinBox, QAbstractSlider, QLineEdit, QTextEdit,
    QPlainTextEdit, QAbstractItemView,
)


def _parts_of_compounds(widget: QWidget, root: QWidget) -> bool:
    """Inside a combo box, spin box, line edit, view or tab bar: Qt's own parts (arrows...)."""
    parent = widget.parentWidget()
    compound = QComboBox | QAbstractSpinBox | QLineEdit | QAbstractItemView | QTabBar
    while parent is not None and parent is not root:
        if isinstance(parent, compound):
            return True
        parent = parent.parentWidget()
    return False


def test_every_control_of_the_window_has_a_tooltip(window: MainWindow) -> None:
    window.canvas_tab  # built on first use  # noqa: B018
    controls = [
        w for w in window.findChildren(QWidget)
        if isinstance(w, _INTERACTIVE) and not isinstance(w, QScrollBar)
        and not w.objectName().startswith("qt_") and not _parts_of_compounds(w, window)
    ]
    assert len(controls) >= 100
    missing = [f"{type(w).__name__} {w.objectName()!r}" for w in controls if not w.toolTip()]
    assert missing == []
    tabs = window.tabs
    assert all(tabs.tabToolTip(index) for index in range(tabs.count()))


def test_the_tooltip_table_names_real_controls_flags_and_commands(window: MainWindow) -> None:
    window.canvas_tab  # noqa: B018
    names = {w.objectName() for w in window.findChildren(QWidget)}
    assert set(TOOLTIPS) <= names
    commands = _cli_commands()
    flags = set().union(*commands.values())
    for name, tip in TOOLTIPS.items():
        for flag in re.findall(r"--[a-z-]+", tip):
            assert flag in flags, (name, flag)
        for command in re.findall(r"sd21-desktop ((?:[a-z]+ ?)+)", tip):
            assert command.strip() in commands, (name, command)
    assert sum("(CLI: " in tip for tip in TOOLTIPS.values()) >= 15


# help ----------------------------------------------------------------------------------------
def test_f1_lists_the_shortcuts_and_the_status_bar_explains_disabled_buttons(
    window: MainWindow,
) -> None:
    action = window.findChild(QWidget, "shortcutsAction") or next(
        a for a in window.findChildren(type(window.settings_action))
        if a.objectName() == "shortcutsAction"
    )
    assert action.shortcut() == QKeySequence(QKeySequence.StandardKey.HelpContents)
    sheet = ShortcutSheet(window)
    rows = dict((what, keys) for keys, what in sheet.rows())
    assert rows["Generate (queues another while a job runs)"] == "Ctrl+Enter"
    assert "Load settings from an image" in rows
    sheet.deleteLater()

    window.parameters.width_spin.setValue(100)  # not a multiple of 8
    assert not window.generate_button.isEnabled()
    assert window.status_label.text().startswith("Generate is off:")
    window.show_status("")
    QApplication.sendEvent(window.generate_button, QEvent(QEvent.Type.Enter))
    assert "multiple of 8" in window.status_label.text()
    QApplication.sendEvent(window.cancel_button, QEvent(QEvent.Type.Enter))
    assert window.status_label.text() == "Cancel is off: no job is running."
    window.parameters.width_spin.setValue(64)
    assert window.generate_button.isEnabled()


# the filmstrip -------------------------------------------------------------------------------
def _saved_image(folder: Path, seed: int) -> SavedImage:
    image = QImage(48, 32, QImage.Format.Format_RGB32)
    image.fill(QColor(200, 40, 40))
    path = folder / f"image-{seed}.png"
    assert image.save(str(path))
    request = GenerationRequest(prompt="a red square", seed=seed, steps=3, width=64, height=64,
                                batch_size=2)
    entry = SimpleNamespace(id=seed, request=request, prompt=request.prompt)
    return SavedImage(image, str(path), seed + 1, 1, entry)


def test_filmstrip_click_drag_and_menu(window: MainWindow, qtbot: QtBot, tmp_path: Path) -> None:
    strip = window.recent_view
    first, second = _saved_image(tmp_path, 7), _saved_image(tmp_path, 9)
    window.add_recent(first, "a red square")
    window.add_recent(second, "a red square")
    assert strip.count() == 2
    window.tabs.setCurrentWidget(window.gallery_panel)
    rect = strip.visualItemRect(strip.item(1))  # newest first: item 1 is the first image
    qtbot.mouseClick(strip.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert window.tabs.currentWidget() is window.result_view
    assert window.result_view.current_path == Path(first.path)

    mime = strip.mimeData([strip.item(0)])
    assert [url.toLocalFile() for url in mime.urls()] == [second.path]
    assert mime.hasImage()
    drop_on_canvas(window, mime)
    assert window.canvas_tab.canvas.image().size() == second.image.size()

    labels = [action.text() for action in strip.build_menu(first).actions()]
    assert labels[:4] == ["Show", "Re-run exactly", "Re-run with a new seed",
                          "Load parameters into the editor"]
    actions = dict(strip.actions_for(first))
    actions["Load parameters into the editor"]()
    assert window.parameters.seed_spin.value() == first.seed  # this image's own seed
    assert window.parameters.seed_mode() == "fixed"
    window.tabs.setCurrentWidget(window.result_view)
    actions["Send to canvas"]()
    assert window.tabs.currentWidget() is window.canvas_tab
    with qtbot.waitSignal(window.gallery_panel.delete_requested) as deleted:
        actions["Delete (to the gallery's trash)"]()
    assert deleted.args == [[7]]
    assert strip.count() == 1


def drop_on_canvas(window: MainWindow, mime: QMimeData) -> None:
    canvas = window.canvas_tab.canvas
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime,
                       Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    canvas.dropEvent(event)


# remembered layout ---------------------------------------------------------------------------
def test_folds_groups_and_splitters_are_restored_after_a_restart(
    qapp: QApplication, data_dir: Path, tiny_model_dir: Path
) -> None:
    _, window = create_app(["--model", str(tiny_model_dir), "--data-dir", str(data_dir)])
    window.resize(1400, 900)
    window.show()
    QApplication.processEvents()
    window.side_panel.set_collapsed(True)
    window.parameters.sections["sampling"].expand()
    window.centre_splitter.setSizes([500, 100])
    centre = window.centre_splitter.sizes()
    main = window.splitter.sizes()
    close_window(window)

    _, again = create_app(["--model", str(tiny_model_dir), "--data-dir", str(data_dir)])
    try:
        again.resize(1400, 900)
        again.show()
        QApplication.processEvents()
        assert again.side_panel.is_collapsed()
        assert not again.queue_view.isVisible()
        assert again.parameters.sections["sampling"].is_expanded()
        assert again.centre_splitter.sizes() == centre
        assert again.splitter.sizes() == main
        again.side_panel.set_collapsed(False)
        assert again.queue_view.isVisible()
        assert again.side_panel.width() > again.side_panel.toggle_button.width() * 2
    finally:
        close_window(again)


def test_the_folded_hires_group_is_only_its_title(qapp: QApplication) -> None:
    group = HiresGroup()
    title = group.fontMetrics().height()
    assert group.sizeHint().height() <= title + 10  # no empty box under the title
    assert group.maximumHeight() == group.sizeHint().height()  # nor one a layout stretches
    group.setChecked(True)
    assert group.sizeHint().height() >= 4 * title  # the four settings
