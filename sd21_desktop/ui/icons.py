"""Icons drawn from the Material Design Icons font (the fonticon-materialdesignicons7 package
holds the font file and the glyph names).

A small ``QIconEngine`` paints the glyph at any size and device pixel ratio in the palette's
button-text colour (the disabled colour for disabled buttons); ``refresh_icons`` repaints them
when the theme changes. The font is registered by path, so a frozen build only needs the .ttf
beside the module (the PyInstaller spec bundles it). An icon-only button keeps its words in its
tooltip and accessible name. (superqt's font icons do the same, but importing superqt — through
qtpy's star imports — added ~0.25 s of CPU to start-up.)
"""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRect, QSize, Qt
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontDatabase,
    QIcon,
    QIconEngine,
    QPainter,
    QPalette,
    QPixmap,
)
from PySide6.QtWidgets import QAbstractButton, QApplication, QWidget

ICON_PROPERTY = "iconGlyph"
GLYPH_SCALE = 0.875  # of the icon's height, as icon fonts are drawn elsewhere
_family: str | None = None


def font_family() -> str:
    """The icon font's family, registering the font file on first use."""
    global _family
    if _family is None:
        from fonticon_mdi7 import MDI7

        font_id = QFontDatabase.addApplicationFont(MDI7.__font_file__)
        families = QFontDatabase.applicationFontFamilies(font_id) if font_id >= 0 else []
        if not families:
            raise RuntimeError(f"the icon font {MDI7.__font_file__} could not be loaded")
        _family = families[0]
    return _family


def glyph(name: str) -> str:
    """The character of an MDI icon name such as ``dice-5`` (AttributeError if unknown)."""
    from fonticon_mdi7 import MDI7

    key: str = getattr(MDI7, name.replace("-", "_"))  # "mdi7.<character>"
    return key.split(".", 1)[1]


class GlyphIconEngine(QIconEngine):
    """Paints one glyph of the icon font: in fixed colours, or (``colours`` None) in the
    application palette's button text at paint time, so it follows a theme change by itself."""

    def __init__(self, character: str, colours: tuple[QColor, QColor] | None = None) -> None:
        super().__init__()
        self.character, self.colours = character, colours

    def colour(self, mode: QIcon.Mode) -> QColor:
        if self.colours is not None:
            normal, disabled = self.colours
            return disabled if mode == QIcon.Mode.Disabled else normal
        group = QPalette.ColorGroup.Disabled if mode == QIcon.Mode.Disabled else (
            QPalette.ColorGroup.Active
        )
        return QApplication.palette().color(group, QPalette.ColorRole.ButtonText)

    def paint(self, painter: QPainter, rect: QRect, mode: QIcon.Mode, state: QIcon.State) -> None:
        font = QFont(font_family())
        font.setPixelSize(max(1, round(rect.height() * GLYPH_SCALE)))
        painter.save()
        painter.setFont(font)
        painter.setPen(self.colour(mode))
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, self.character)
        painter.restore()

    def pixmap(self, size: QSize, mode: QIcon.Mode, state: QIcon.State) -> QPixmap:
        return self.scaledPixmap(size, mode, state, 1.0)

    def scaledPixmap(  # noqa: N802 - Qt override
        self, size: QSize, mode: QIcon.Mode, state: QIcon.State, scale: float
    ) -> QPixmap:
        pixmap = QPixmap(size * scale)
        pixmap.setDevicePixelRatio(scale)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        self.paint(painter, QRect(QPoint(0, 0), size), mode, state)
        painter.end()
        return pixmap

    def clone(self) -> QIconEngine:
        return GlyphIconEngine(self.character, self.colours)


def themed_icon(name: str, palette: QPalette | None = None) -> QIcon:
    """The icon ``name`` (an MDI name, e.g. ``dice-5``): in a palette's button-text colours,
    or, without one, in the application's current ones whenever it is drawn."""
    colours = None
    if palette is not None:
        colours = (
            palette.color(QPalette.ColorRole.ButtonText),
            palette.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText),
        )
    return QIcon(GlyphIconEngine(glyph(name), colours))


def set_icon(button: QAbstractButton, name: str, tooltip: str | None = None) -> None:
    """Give a button an icon that follows the theme (and, optionally, its tooltip)."""
    button.setProperty(ICON_PROPERTY, name)
    button.setIcon(themed_icon(name))
    if tooltip is not None:
        button.setToolTip(tooltip)
        if not button.accessibleName():
            button.setAccessibleName(tooltip.split("(", 1)[0].split(".", 1)[0].strip())


def refresh_icons(root: QWidget | None = None) -> None:
    """Repaint every themed button (after a palette change; the icons pick the new colours)."""
    widgets = root.findChildren(QAbstractButton) if root is not None else QApplication.allWidgets()
    for widget in widgets:
        name = widget.property(ICON_PROPERTY)
        if name and isinstance(widget, QAbstractButton):
            widget.update()
