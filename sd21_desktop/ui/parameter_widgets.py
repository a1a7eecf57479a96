"""Building blocks of the compact parameter rows: labelled sliders, rows, collapsible sections,
and the aspect-ratio lock of the size row."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, Signal, Slot
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLayout,
    QSizePolicy,
    QSlider,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from sd21_desktop.ui.icons import set_icon, themed_icon
from sd21_desktop.ui.theme import set_text_role


class LabeledSlider(QWidget):
    """A slider with a number box beside it (drag, or type an exact value).

    ``decimals`` > 0 makes it a float slider; ``value()`` is an int otherwise. (superqt has one,
    but importing superqt — through qtpy's star imports — added ~0.25 s of CPU to start-up.)
    """

    valueChanged = Signal(object)  # noqa: N815 - the spin boxes' name, so callers treat both alike

    def __init__(
        self, minimum: float, maximum: float, value: float, step: float = 1, decimals: int = 0
    ) -> None:
        super().__init__()
        self._scale = 10**decimals
        self.slider = QSlider(Qt.Orientation.Horizontal)
        self.slider.setRange(round(minimum * self._scale), round(maximum * self._scale))
        self.slider.setSingleStep(max(1, round(step * self._scale)))
        self.slider.setPageStep(max(1, round(step * self._scale)) * 4)
        box: QSpinBox | QDoubleSpinBox
        if decimals:
            box = QDoubleSpinBox(decimals=decimals, singleStep=step)
        else:
            box = QSpinBox(singleStep=int(step))
        box.setRange(minimum, maximum)  # type: ignore[arg-type]
        box.setButtonSymbols(QAbstractSpinBox.ButtonSymbols.NoButtons)
        box.setAlignment(Qt.AlignmentFlag.AlignRight)
        # Without arrows the box's own hint can leave its text field short of its minimum.
        digits = len(str(int(maximum))) + (decimals + 1 if decimals else 0)
        box.setMinimumWidth(box.fontMetrics().horizontalAdvance("8" * digits) + 16)
        self.box = box
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        layout.addWidget(self.slider, 1)
        layout.addWidget(box)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.slider.valueChanged.connect(self._from_slider)
        box.valueChanged.connect(self._from_box)
        self.setValue(value)

    def value(self) -> Any:
        return self.box.value()

    def setValue(self, value: float) -> None:  # noqa: N802 - the spin boxes' name
        self.box.setValue(value)  # type: ignore[arg-type]

    @Slot(int)
    def _from_slider(self, position: int) -> None:
        value = position / self._scale
        self.box.setValue(value if self._scale > 1 else int(value))  # type: ignore[arg-type]

    @Slot(object)
    def _from_box(self, value: float) -> None:
        self.slider.blockSignals(True)
        self.slider.setValue(round(value * self._scale))
        self.slider.blockSignals(False)
        self.valueChanged.emit(self.value())

    def setToolTip(self, text: str) -> None:  # noqa: N802 - Qt's name
        super().setToolTip(text)
        self.box.setToolTip(text)
        self.slider.setToolTip(text)

    def setAccessibleName(self, name: str) -> None:  # noqa: N802 - Qt's name
        super().setAccessibleName(name)
        self.box.setAccessibleName(name)
        self.slider.setAccessibleName(f"{name} slider")


def labeled_slider(minimum: int, maximum: int, value: int) -> LabeledSlider:
    return LabeledSlider(minimum, maximum, value)


def labeled_double_slider(
    minimum: float, maximum: float, value: float, step: float, decimals: int
) -> LabeledSlider:
    return LabeledSlider(minimum, maximum, value, step, decimals)


def compact_form(form: QFormLayout) -> None:
    form.setContentsMargins(0, 0, 0, 0)
    form.setHorizontalSpacing(8)
    form.setVerticalSpacing(4)
    form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
    form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)


def muted(text: str) -> QLabel:
    label = QLabel(text)
    set_text_role(label, "muted")
    return label


def row(*widgets: QWidget, stretch: int | None = None) -> QWidget:
    """Widgets side by side in one form row; ``stretch``: the index that takes the spare room."""
    holder = QWidget()
    layout = QHBoxLayout(holder)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(4)
    for index, widget in enumerate(widgets):
        layout.addWidget(widget, 1 if index == stretch else 0)
    if stretch is None:
        layout.addStretch(1)
    return holder


class Section(QWidget):
    """A group of options under a header button that folds it away (and says so)."""

    toggled = Signal(bool)

    def __init__(self, title: str) -> None:
        super().__init__()
        self.header = QToolButton()
        self.header.setText(title)
        self.header.setCheckable(True)
        self.header.setAutoRaise(True)
        self.header.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.header.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.header.toggled.connect(self._show_content)
        self.content = QWidget()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.header)
        layout.addWidget(self.content)
        self._show_content(False)

    def is_expanded(self) -> bool:
        return self.header.isChecked()

    def expand(self) -> None:
        self.header.setChecked(True)

    def collapse(self) -> None:
        self.header.setChecked(False)

    @Slot(bool)
    def _show_content(self, expanded: bool) -> None:
        self.content.setVisible(expanded)
        self._set_chevron()
        self.toggled.emit(expanded)

    def _set_chevron(self) -> None:
        self.header.setIcon(themed_icon("chevron-down" if self.is_expanded() else "chevron-right"))

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.PaletteChange:
            self._set_chevron()
        super().changeEvent(event)


def section(title: str, name: str, content: QLayout) -> Section:
    """A collapsible group of options (folded until opened; the state is remembered)."""
    collapsible = Section(title)
    collapsible.setObjectName(name)
    content.setContentsMargins(0, 0, 0, 0)
    collapsible.content.setLayout(content)
    collapsible.header.setToolTip(f"Show or hide: {title.lower()}")
    return collapsible


def set_severity(label: QLabel, severity: str) -> None:
    """Colour an inline message by the theme: "error", "warning", or "" for plain text."""
    set_text_role(label, severity)


class AspectLock(QObject):
    """A lock button that keeps width:height while one of them changes (rounded to 8 px)."""

    def __init__(self, width: QSpinBox, height: QSpinBox) -> None:
        super().__init__(width)
        self.width, self.height = width, height
        self.button = QToolButton()
        self.button.setObjectName("aspectLockButton")
        self.button.setCheckable(True)
        set_icon(self.button, "link-variant", "Lock the aspect ratio: changing one side "
                 "changes the other")
        self._ratio = width.value() / height.value()
        self._busy = False
        self.button.toggled.connect(self._remember_ratio)
        width.valueChanged.connect(self._width_changed)
        height.valueChanged.connect(self._height_changed)

    @contextmanager
    def suspended(self) -> Iterator[None]:
        """Set both sides without the lock reacting (presets, loaded parameters). Re-entrant:
        a slot of the first side's change may set the size again before the second side."""
        was_busy, self._busy = self._busy, True
        try:
            yield
        finally:
            self._busy = was_busy
            self._remember_ratio()

    @Slot()
    def _remember_ratio(self) -> None:
        self._ratio = self.width.value() / max(self.height.value(), 1)

    def _follow(self, target: QSpinBox, value: float) -> None:
        was_busy, self._busy = self._busy, True
        try:
            target.setValue(max(8, int(round(value / 8)) * 8))
        finally:
            self._busy = was_busy

    @Slot(int)
    def _width_changed(self, value: int) -> None:
        if self._busy:
            return
        if self.button.isChecked():
            self._follow(self.height, value / self._ratio)
        else:
            self._remember_ratio()

    @Slot(int)
    def _height_changed(self, value: int) -> None:
        if self._busy:
            return
        if self.button.isChecked():
            self._follow(self.width, value * self._ratio)
        else:
            self._remember_ratio()
