"""Icons from the Material Design Icons font (superqt font icons + fonticon-materialdesignicons7).

The font is registered directly from the package's file, so no entry-point scan runs at start-up
and a frozen build only needs the .ttf beside the module (the PyInstaller spec bundles it).
Icons take the palette's text colour: ``refresh_icons`` repaints them when the theme changes.
The text of an icon-only button lives in its tooltip and accessible name.
"""

from __future__ import annotations

from PySide6.QtGui import QIcon, QPalette
from PySide6.QtWidgets import QAbstractButton, QApplication, QWidget

ICON_PROPERTY = "iconGlyph"
_PREFIX = "mdi7"
_registered = False


def _register_font() -> None:
    global _registered
    if _registered:
        return
    from fonticon_mdi7 import MDI7
    from superqt.fonticon import addFont

    addFont(MDI7.__font_file__, _PREFIX)
    _registered = True


def glyph(name: str) -> str:
    """The font key of an MDI icon name such as ``dice-5`` (raises AttributeError if unknown)."""
    from fonticon_mdi7 import MDI7

    key: str = getattr(MDI7, name.replace("-", "_"))
    return key


def themed_icon(name: str) -> QIcon:
    """The icon ``name`` (an MDI name, e.g. ``dice-5``) in the current palette's colours."""
    from superqt.fonticon import icon

    _register_font()
    palette = QApplication.palette()
    text = palette.color(QPalette.ColorRole.ButtonText).name()
    disabled = palette.color(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText).name()
    result: QIcon = icon(glyph(name), color=text, states={"disabled": {"color": disabled}})
    return result


def set_icon(button: QAbstractButton, name: str, tooltip: str | None = None) -> None:
    """Give a button an icon that follows the theme (and, optionally, its tooltip)."""
    button.setProperty(ICON_PROPERTY, name)
    button.setIcon(themed_icon(name))
    if tooltip is not None:
        button.setToolTip(tooltip)
        if not button.accessibleName():
            button.setAccessibleName(tooltip.split("(", 1)[0].split(".", 1)[0].strip())


def refresh_icons(root: QWidget | None = None) -> None:
    """Repaint every themed icon (after a palette change)."""
    widgets = root.findChildren(QAbstractButton) if root is not None else QApplication.allWidgets()
    for widget in widgets:
        name = widget.property(ICON_PROPERTY)
        if name and isinstance(widget, QAbstractButton):
            widget.setIcon(themed_icon(str(name)))
