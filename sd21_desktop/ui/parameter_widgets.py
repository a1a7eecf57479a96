"""Building blocks of the compact parameter rows: labelled sliders, rows, collapsible sections,
and the aspect-ratio lock of the size row."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from PySide6.QtCore import QEvent, QObject, Qt, Slot
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLayout,
    QSizePolicy,
    QSpinBox,
    QToolButton,
    QWidget,
)
from superqt import QCollapsible, QLabeledDoubleSlider, QLabeledSlider

from sd21_desktop.ui.icons import set_icon, themed_icon


def labeled_slider(minimum: int, maximum: int, value: int) -> QLabeledSlider:
    """A slider with a number box beside it (type a value or drag)."""
    slider = QLabeledSlider(Qt.Orientation.Horizontal)
    slider.setRange(minimum, maximum)
    slider.setValue(value)
    slider.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
    return slider


def labeled_double_slider(
    minimum: float, maximum: float, value: float, step: float, decimals: int
) -> QLabeledDoubleSlider:
    slider = QLabeledDoubleSlider(Qt.Orientation.Horizontal)
    slider.setDecimals(decimals)
    slider.setRange(minimum, maximum)
    slider.setSingleStep(step)  # type: ignore[arg-type]  # superqt's stub says int; float works
    slider.setValue(value)
    slider.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
    return slider


def compact_form(form: QFormLayout) -> None:
    form.setContentsMargins(0, 0, 0, 0)
    form.setHorizontalSpacing(8)
    form.setVerticalSpacing(4)
    form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
    form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)


def muted(text: str) -> QLabel:
    label = QLabel(text)
    label.setProperty("role", "muted")
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


class Section(QCollapsible):
    """A collapsible group of options whose chevrons follow the theme."""

    def __init__(self, title: str) -> None:
        super().__init__(title)
        self._set_chevrons()

    def _set_chevrons(self) -> None:
        self.setExpandedIcon(themed_icon("chevron-down"))
        self.setCollapsedIcon(themed_icon("chevron-right"))
        self.toggleButton().setIcon(
            self.expandedIcon() if self.isExpanded() else self.collapsedIcon()
        )

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.PaletteChange:
            self._set_chevrons()
        super().changeEvent(event)


def section(title: str, name: str, content: QLayout) -> Section:
    """A collapsible group of options (collapsed until opened; the state is remembered)."""
    collapsible = Section(title)
    collapsible.setObjectName(name)
    collapsible.setDuration(120)
    frame = collapsible.layout()
    if frame is not None:
        frame.setContentsMargins(0, 0, 0, 0)
    holder = QWidget()
    holder.setLayout(content)
    collapsible.addWidget(holder)
    collapsible.toggleButton().setToolTip(f"Show or hide: {title.lower()}")
    return collapsible


def set_severity(label: QLabel, severity: str) -> None:
    """Colour an inline message through the theme's style sheet (error or warning)."""
    label.setProperty("severity", severity)
    label.style().unpolish(label)
    label.style().polish(label)


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
        """Set both sides without the lock reacting (presets, loaded parameters)."""
        self._busy = True
        try:
            yield
        finally:
            self._busy = False
            self._remember_ratio()

    @Slot()
    def _remember_ratio(self) -> None:
        self._ratio = self.width.value() / max(self.height.value(), 1)

    def _follow(self, target: QSpinBox, value: float) -> None:
        self._busy = True
        try:
            target.setValue(max(8, int(round(value / 8)) * 8))
        finally:
            self._busy = False

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
