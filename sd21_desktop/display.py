"""Can a window open here? Asked before the QApplication exists.

On Linux, Qt aborts the whole process when it finds no display or cannot load its xcb plugin
("could not connect to display … xcb-cursor0 or libxcb-cursor0 is needed … This application failed
to start", exit status 250 or a core dump). This module sees those cases first and turns them into
a :class:`UserFacingError`: one line saying what to do, exit status 2. It imports no Qt.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple

from sd21_desktop.errors import UserFacingError


class XcbLibrary(NamedTuple):
    soname: str
    debian: str  # Debian and Ubuntu package
    fedora: str


# What Qt's xcb platform plugin (libqxcb.so + libQt6XcbQpa.so.6 in the PySide6 wheel) links
# against beyond QtGui's own needs, read with `readelf -d` (NEEDED); libxcb-cursor0 is the one
# desktop installs most often lack since Qt 6.5.
XCB_LIBRARIES: tuple[XcbLibrary, ...] = (
    XcbLibrary("libxcb.so.1", "libxcb1", "libxcb"),
    XcbLibrary("libxcb-cursor.so.0", "libxcb-cursor0", "xcb-util-cursor"),
    XcbLibrary("libxcb-icccm.so.4", "libxcb-icccm4", "xcb-util-wm"),
    XcbLibrary("libxcb-image.so.0", "libxcb-image0", "xcb-util-image"),
    XcbLibrary("libxcb-keysyms.so.1", "libxcb-keysyms1", "xcb-util-keysyms"),
    XcbLibrary("libxcb-randr.so.0", "libxcb-randr0", "libxcb"),
    XcbLibrary("libxcb-render.so.0", "libxcb-render0", "libxcb"),
    XcbLibrary("libxcb-render-util.so.0", "libxcb-render-util0", "xcb-util-renderutil"),
    XcbLibrary("libxcb-shape.so.0", "libxcb-shape0", "libxcb"),
    XcbLibrary("libxcb-shm.so.0", "libxcb-shm0", "libxcb"),
    XcbLibrary("libxcb-sync.so.1", "libxcb-sync1", "libxcb"),
    XcbLibrary("libxcb-util.so.1", "libxcb-util1", "xcb-util"),
    XcbLibrary("libxcb-xfixes.so.0", "libxcb-xfixes0", "libxcb"),
    XcbLibrary("libxcb-xkb.so.1", "libxcb-xkb1", "libxcb"),
    XcbLibrary("libxkbcommon-x11.so.0", "libxkbcommon-x11-0", "libxkbcommon-x11"),
    XcbLibrary("libX11-xcb.so.1", "libx11-xcb1", "libX11-xcb"),
)

# Platform plugins that draw on a display server, and the variable that names the server.
DISPLAY_VARIABLES = {"xcb": "DISPLAY", "wayland": "WAYLAND_DISPLAY"}

_KEPT_OPEN: list[int] = []  # X connections held open (see x_server_answers)

HEADLESS_HINT = "To make images without a window, use `sd21-desktop generate --prompt …`."


def library_loads(soname: str) -> bool:
    """Whether the dynamic loader finds ``soname``, as it will when Qt loads its xcb plugin; in a
    frozen build also among the libraries PyInstaller collected next to the program."""
    bundle = getattr(sys, "_MEIPASS", None)
    for candidate in (soname, *([os.path.join(bundle, soname)] if bundle else [])):
        try:
            ctypes.CDLL(candidate)
        except OSError:
            continue
        return True
    return False


def x_server_answers(display: str) -> bool:
    """Whether the X server named by ``display`` accepts a connection (through libxcb, as Qt's
    xcb plugin connects); a stale DISPLAY left from another session is the usual failure.

    A connection that works stays open for the life of the process: closing the server's only
    client makes Xvfb (``xvfb-run``) reset, and Qt's own connection a moment later would fail.
    """
    xcb = ctypes.CDLL("libxcb.so.1")
    xcb.xcb_connect.restype = ctypes.c_void_p
    xcb.xcb_connect.argtypes = [ctypes.c_char_p, ctypes.c_void_p]
    xcb.xcb_connection_has_error.argtypes = [ctypes.c_void_p]
    xcb.xcb_disconnect.argtypes = [ctypes.c_void_p]
    connection = xcb.xcb_connect(display.encode(), None)
    if connection is None:
        return False
    if xcb.xcb_connection_has_error(connection) != 0:
        xcb.xcb_disconnect(connection)  # also frees the error object xcb returns
        return False
    _KEPT_OPEN.append(connection)
    return True


def _requested_platforms(environ: Mapping[str, str]) -> list[str]:
    """``QT_QPA_PLATFORM``'s plugin names, in the order Qt tries them ("wayland;xcb",
    "offscreen", "xcb:nograb" …), folded to the two display families."""
    value = environ.get("QT_QPA_PLATFORM", "")
    names = [part.split(":")[0].strip().lower() for part in value.split(";")]
    return ["wayland" if name.startswith("wayland") else name for name in names if name]


def _missing_libraries_error(missing: Sequence[XcbLibrary]) -> UserFacingError:
    debian = " ".join(dict.fromkeys(library.debian for library in missing))
    fedora = " ".join(dict.fromkeys(library.fedora for library in missing))
    names = ", ".join(library.soname for library in missing)
    return UserFacingError(
        f"The window needs X11 (xcb) libraries that are not installed: {names}.",
        f"Install them with `sudo apt install {debian}` (Debian, Ubuntu) or "
        f"`sudo dnf install {fedora}` (Fedora). {HEADLESS_HINT}",
    )


def _check_x11(display: str, loads: Callable[[str], bool], answers: Callable[[str], bool]) -> None:
    missing = [library for library in XCB_LIBRARIES if not loads(library.soname)]
    if missing:
        raise _missing_libraries_error(missing)
    if not answers(display):
        raise UserFacingError(
            f"Cannot connect to the X display {display!r} named by DISPLAY (no X server answers "
            "there; a DISPLAY left over from another session?).",
            f"Unset DISPLAY or point it at a running X server. {HEADLESS_HINT}",
        )


def check_can_open_window(
    environ: Mapping[str, str] | None = None,
    platform: str | None = None,
    loads: Callable[[str], bool] | None = None,
    answers: Callable[[str], bool] | None = None,
) -> None:
    """Raise a :class:`UserFacingError` when Qt would abort instead of opening a window.

    Only Linux is checked. A platform plugin that needs no display (``offscreen``, ``minimal``,
    ``vnc``, ``eglfs`` …) passes; so does Wayland alone, where Qt may pick its wayland plugin.
    The xcb libraries, then the X server, are checked when X11 is the only way left: ``DISPLAY``
    set, and ``WAYLAND_DISPLAY`` unset or not among the platforms ``QT_QPA_PLATFORM`` names.
    ``loads`` and ``answers`` replace the probes :func:`library_loads` and
    :func:`x_server_answers` (in tests).
    """
    environ = os.environ if environ is None else environ
    if not (sys.platform if platform is None else platform).startswith("linux"):
        return
    requested = _requested_platforms(environ)
    if any(name not in DISPLAY_VARIABLES for name in requested):
        return
    variables = {DISPLAY_VARIABLES[name]: name for name in requested or ["xcb", "wayland"]}
    reachable = [name for variable, name in variables.items() if environ.get(variable)]
    if not reachable:
        unset = " nor ".join(variables)
        unset = f"neither {unset} is set" if len(variables) > 1 else f"{unset} is not set"
        raise UserFacingError(
            f"No display to open the window on ({unset}, as in an SSH session).",
            f"{HEADLESS_HINT} Or log in with `ssh -X`, or start it on the desktop.",
        )
    if reachable == ["xcb"]:  # X11 is the only way, so Qt would abort where it fails
        _check_x11(environ["DISPLAY"], loads or library_loads, answers or x_server_answers)
