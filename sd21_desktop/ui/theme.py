"""One look for the whole app: the Fusion style with a dark or light palette and one accent.

``system`` (the default) follows the platform's light/dark preference (``QStyleHints``
``colorScheme``, Qt ≥ 6.5) and takes dark where the platform states none, as artists' tools do.
The canvas and the previews sit on a neutral dark grey in both themes, so colours are judged
against the same surround; the accent marks Generate and the progress bar only.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QObject, Qt, Signal, Slot
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QAbstractButton, QApplication, QWidget

from sd21_desktop.settings import THEMES
from sd21_desktop.ui.icons import ICON_PROPERTY, refresh_icons, themed_icon

THEME_CHOICES = THEMES
CANVAS_BACKGROUND = QColor(48, 48, 52)
"""The neutral grey behind the result, the previews and the canvas (both themes)."""

Role = QPalette.ColorRole
Group = QPalette.ColorGroup


@dataclass(frozen=True)
class Colours:
    window: str
    base: str
    alternate: str
    text: str
    muted: str  # placeholder and secondary text, still ≥ 4.5:1 on base
    button: str
    disabled_text: str
    accent: str  # Generate, the progress bar and selections
    accent_text: str
    tooltip: str
    link: str
    error: str
    warning: str
    mid: str


DARK = Colours(
    window="#25262a",
    base="#1c1d20",
    alternate="#24262a",
    text="#e8e8ea",
    muted="#a3a6ad",
    button="#34363c",
    disabled_text="#76787e",
    accent="#3367d6",
    accent_text="#ffffff",
    tooltip="#3a3c42",
    link="#8ab4f8",
    error="#ff8a80",
    warning="#ffcc80",
    mid="#44474e",
)
LIGHT = Colours(
    window="#eff0f2",
    base="#ffffff",
    alternate="#f5f6f7",
    text="#1d1e21",
    muted="#5f6368",
    button="#e3e5e8",
    disabled_text="#9a9da3",
    accent="#2458c6",
    accent_text="#ffffff",
    tooltip="#ffffe8",
    link="#1a55b8",
    error="#b3261e",
    warning="#8a5200",
    mid="#b8bbc1",
)


def colours(theme: str) -> Colours:
    return LIGHT if theme == "light" else DARK


def build_palette(theme: str) -> QPalette:
    """The Fusion palette for ``dark`` or ``light`` (anything else counts as dark)."""
    c = colours(theme)
    palette = QPalette()
    for role, value in (
        (Role.Window, c.window),
        (Role.WindowText, c.text),
        (Role.Base, c.base),
        (Role.AlternateBase, c.alternate),
        (Role.Text, c.text),
        (Role.PlaceholderText, c.muted),
        (Role.Button, c.button),
        (Role.ButtonText, c.text),
        (Role.BrightText, c.error),
        (Role.Highlight, c.accent),
        (Role.HighlightedText, c.accent_text),
        (Role.ToolTipBase, c.tooltip),
        (Role.ToolTipText, c.text),
        (Role.Link, c.link),
        (Role.LinkVisited, c.link),
        (Role.Mid, c.mid),
        (Role.Midlight, c.button),
        (Role.Dark, c.base),
        (Role.Shadow, "#000000"),
        (Role.Light, c.alternate),
    ):
        palette.setColor(role, QColor(value))
    for role in (Role.WindowText, Role.Text, Role.ButtonText, Role.HighlightedText):
        palette.setColor(Group.Disabled, role, QColor(c.disabled_text))
    palette.setColor(Group.Disabled, Role.Highlight, QColor(c.mid))
    palette.setColor(Group.Disabled, Role.Button, QColor(c.window))
    return palette


TEXT_ROLE = "textRole"
"""Widget property naming the theme colour a widget takes: muted, error, warning or accent.

Set through ``set_text_role``; widget palettes rather than an app-wide style sheet, because a
style sheet made building the window ~0.06 s slower."""
_current = DARK


def _role_palette(role: str) -> QPalette:
    """Only the roles this text role changes (the rest is inherited from the parent)."""
    c, palette = _current, QPalette()
    if role == "accent":
        palette.setColor(Role.Button, QColor(c.accent))
        palette.setColor(Role.ButtonText, QColor(c.accent_text))
        palette.setColor(Group.Disabled, Role.Button, QColor(c.button))
        palette.setColor(Group.Disabled, Role.ButtonText, QColor(c.disabled_text))
    elif role in ("muted", "error", "warning"):
        colour = QColor({"muted": c.muted, "error": c.error, "warning": c.warning}[role])
        palette.setColor(Role.WindowText, colour)
        palette.setColor(Role.Text, colour)
    return palette


def set_text_role(widget: QWidget, role: str) -> None:
    """Colour a widget by its role in the current theme ("" returns it to the default)."""
    widget.setProperty(TEXT_ROLE, role)
    widget.setPalette(_role_palette(role))
    icon_name = widget.property(ICON_PROPERTY)
    if icon_name and isinstance(widget, QAbstractButton):  # redraw it in the role's colours
        widget.setIcon(themed_icon(str(icon_name), widget.palette()))
    if role == "accent":
        font = widget.font()
        font.setBold(True)
        widget.setFont(font)


def _repaint_roles() -> None:
    for widget in QApplication.allWidgets():
        role = widget.property(TEXT_ROLE)
        if role:
            widget.setPalette(_role_palette(str(role)))


def relative_luminance(colour: QColor) -> float:
    """WCAG 2 relative luminance of an sRGB colour."""

    def channel(value: float) -> float:
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    return (
        0.2126 * channel(colour.redF())
        + 0.7152 * channel(colour.greenF())
        + 0.0722 * channel(colour.blueF())
    )


def contrast_ratio(first: QColor, second: QColor) -> float:
    """WCAG 2 contrast ratio, 1 to 21 (4.5 is the minimum for normal text)."""
    a, b = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (a + 0.05) / (b + 0.05)


TEXT_PAIRS = (
    (Role.WindowText, Role.Window),
    (Role.Text, Role.Base),
    (Role.Text, Role.AlternateBase),
    (Role.PlaceholderText, Role.Base),
    (Role.ButtonText, Role.Button),
    (Role.HighlightedText, Role.Highlight),
    (Role.ToolTipText, Role.ToolTipBase),
    (Role.Link, Role.Base),
)
"""Foreground/background roles that carry normal text (checked for contrast by the tests)."""


def system_prefers_light(scheme: Qt.ColorScheme | None = None) -> bool:
    """Whether the platform asks for light; an unknown preference counts as dark."""
    if scheme is None:
        hints = QGuiApplication.styleHints()
        scheme = hints.colorScheme() if hasattr(hints, "colorScheme") else None
    return scheme == Qt.ColorScheme.Light


class ThemeManager(QObject):
    """Applies the chosen theme and follows the system's scheme while the choice is ``system``."""

    theme_changed = Signal(str)  # the theme now in effect: "dark" or "light"

    def __init__(self, app: QApplication, choice: str = "system") -> None:
        super().__init__(app)
        self.app = app
        self.choice = choice if choice in THEME_CHOICES else "system"
        self.effective = ""
        app.setStyle("Fusion")
        hints = QGuiApplication.styleHints()
        if hasattr(hints, "colorSchemeChanged"):  # Qt ≥ 6.5
            hints.colorSchemeChanged.connect(self.on_system_scheme_changed)
        self.apply()

    @classmethod
    def for_app(cls, app: QApplication, choice: str) -> ThemeManager:
        """The app's one manager (made on first use), set to ``choice``."""
        manager = app.findChild(ThemeManager)
        if manager is None:
            return cls(app, choice)
        manager.set_choice(choice)
        return manager

    def set_choice(self, choice: str) -> None:
        self.choice = choice if choice in THEME_CHOICES else "system"
        self.apply()

    def resolve(self, scheme: Qt.ColorScheme | None = None) -> str:
        if self.choice != "system":
            return self.choice
        return "light" if system_prefers_light(scheme) else "dark"

    def apply(self, scheme: Qt.ColorScheme | None = None) -> None:
        theme = self.resolve(scheme)
        if theme == self.effective:
            return
        self.effective = theme
        global _current
        _current = colours(theme)
        self.app.setPalette(build_palette(theme))
        _repaint_roles()
        refresh_icons()
        self.theme_changed.emit(theme)

    @Slot(Qt.ColorScheme)
    def on_system_scheme_changed(self, scheme: Qt.ColorScheme) -> None:
        if self.choice == "system":
            self.apply(scheme)
