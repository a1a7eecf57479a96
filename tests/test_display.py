"""Opening the window where it cannot open: one line and status 2 before Qt can abort."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sd21_desktop.display import (
    XCB_LIBRARIES,
    check_can_open_window,
    library_loads,
    x_server_answers,
)
from sd21_desktop.errors import UserFacingError
from tests.conftest import REPO_ROOT

linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="Qt's display and xcb checks are Linux-only"
)
DISPLAY_ENV = ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM", "XDG_SESSION_TYPE")


def never(_: str) -> bool:
    raise AssertionError("probed although no probe was needed")


def check(**environ: str) -> None:
    check_can_open_window(environ, "linux", loads=never, answers=never)


def _gui(env: dict[str, str], *args: str, prelude: str = "") -> subprocess.CompletedProcess[str]:
    """``python -m sd21_desktop`` (what ``sd21-desktop`` runs), optionally after ``prelude``."""
    code = f"{prelude}import runpy; runpy.run_module('sd21_desktop', run_name='__main__')"
    clean = {key: value for key, value in os.environ.items() if key not in DISPLAY_ENV}
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        env={**clean, "PYTHONPATH": str(REPO_ROOT), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


@linux_only
def test_without_a_display_the_command_says_so_in_one_line_and_exits_2(tmp_path: Path) -> None:
    done = _gui({}, "--data-dir", str(tmp_path))
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: No display to open the window on")
    assert "sd21-desktop generate" in lines[0]
    assert list(tmp_path.iterdir()) == []  # the check comes before anything is written


@linux_only
def test_missing_xcb_libraries_name_the_packages_to_install(tmp_path: Path) -> None:
    fake = (
        "import sd21_desktop.display as d; "
        "d.library_loads = lambda name: name != 'libxcb-cursor.so.0'; "
    )
    done = _gui({"DISPLAY": ":0"}, "--data-dir", str(tmp_path), prelude=fake)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert "libxcb-cursor.so.0" in lines[0]
    assert "`sudo apt install libxcb-cursor0` (Debian, Ubuntu)" in lines[0]
    assert "`sudo dnf install xcb-util-cursor` (Fedora)" in lines[0]
    assert "sd21-desktop generate" in lines[0]


def test_the_smoke_test_still_runs_offscreen_without_a_display(tmp_path: Path) -> None:
    done = _gui({"QT_QPA_PLATFORM": "offscreen"}, "--smoke-test", "--data-dir", str(tmp_path))
    assert done.returncode == 0, done.stderr


def test_every_missing_library_is_named_once_per_package() -> None:
    with pytest.raises(UserFacingError) as caught:
        check_can_open_window({"DISPLAY": ":0"}, "linux", loads=lambda _: False, answers=never)
    message = str(caught.value)
    for library in XCB_LIBRARIES:
        assert library.soname in message
    apt = message.split("`sudo apt install ")[1].split("`")[0].split()
    dnf = message.split("`sudo dnf install ")[1].split("`")[0].split()
    assert apt == list(dict.fromkeys(library.debian for library in XCB_LIBRARIES))
    assert dnf == list(dict.fromkeys(library.fedora for library in XCB_LIBRARIES))
    assert "\n" not in message


@pytest.mark.parametrize(
    "platform", ["offscreen", "minimal", "vnc", "eglfs", "linuxfb", "minimal:enable_fonts"]
)
def test_platforms_that_need_no_display_pass_without_probing(platform: str) -> None:
    check(QT_QPA_PLATFORM=platform)


@pytest.mark.parametrize(
    "environ",
    [
        {"WAYLAND_DISPLAY": "wayland-0"},
        {"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0"},  # Qt may choose either: do not guess
        {"QT_QPA_PLATFORM": "wayland", "WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0"},
        {"QT_QPA_PLATFORM": "xcb;wayland", "WAYLAND_DISPLAY": "wayland-1", "DISPLAY": ":0"},
    ],
)
def test_a_reachable_wayland_is_left_to_qt(environ: dict[str, str]) -> None:
    check(**environ)


@pytest.mark.parametrize(
    ("environ", "unset"),
    [
        ({}, "neither DISPLAY nor WAYLAND_DISPLAY is set"),
        ({"QT_QPA_PLATFORM": "xcb", "WAYLAND_DISPLAY": "wayland-0"}, "DISPLAY is not set"),
        ({"QT_QPA_PLATFORM": "wayland-egl", "DISPLAY": ":0"}, "WAYLAND_DISPLAY is not set"),
        ({"DISPLAY": "", "WAYLAND_DISPLAY": ""}, "neither DISPLAY nor WAYLAND_DISPLAY is set"),
    ],
)
def test_no_reachable_display_is_one_line_pointing_to_generate(
    environ: dict[str, str], unset: str
) -> None:
    with pytest.raises(UserFacingError) as caught:
        check(**environ)
    assert f"({unset}, as in an SSH session)" in str(caught.value)
    assert "sd21-desktop generate" in str(caught.value)


@pytest.mark.parametrize(
    "environ", [{"DISPLAY": ":7"}, {"DISPLAY": ":7", "QT_QPA_PLATFORM": "xcb"}]
)
def test_x11_only_checks_libraries_then_the_server(environ: dict[str, str]) -> None:
    probed: list[str] = []

    def loads(name: str) -> bool:
        probed.append(name)
        return True

    check_can_open_window(environ, "linux", loads=loads, answers=lambda display: True)
    assert probed == [library.soname for library in XCB_LIBRARIES]
    with pytest.raises(UserFacingError, match="Cannot connect to the X display ':7'"):
        check_can_open_window(environ, "linux", loads=loads, answers=lambda display: False)


@pytest.mark.parametrize("platform", ["win32", "darwin"])
def test_other_systems_are_not_checked(platform: str) -> None:
    check_can_open_window({}, platform, loads=never, answers=never)


@linux_only
def test_the_library_probe_asks_the_dynamic_loader() -> None:
    assert library_loads("libc.so.6")
    assert not library_loads("libsd21-no-such-library.so.0")


@linux_only
def test_the_library_probe_looks_inside_a_frozen_bundle(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import _ctypes  # any real shared object will do

    if not getattr(_ctypes, "__file__", None):
        pytest.skip("this Python has _ctypes built in, not as a shared object")
    (tmp_path / "libsd21-bundled.so.0").symlink_to(_ctypes.__file__)
    assert not library_loads("libsd21-bundled.so.0")
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert library_loads("libsd21-bundled.so.0")


@pytest.fixture
def xvfb() -> Iterator[str]:
    """A throwaway X server, when Xvfb and libxcb are installed."""
    if shutil.which("Xvfb") is None or not library_loads("libxcb.so.1"):
        pytest.skip("Xvfb or libxcb is not installed (apt-get install xvfb)")
    display = f":{90 + os.getpid() % 500}"
    server = subprocess.Popen(
        ["Xvfb", display, "-screen", "0", "640x480x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while not x_server_answers(display) and time.monotonic() < deadline:
            time.sleep(0.05)
        yield display
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_the_server_probe_connects_like_qt(xvfb: str) -> None:
    check_can_open_window({"DISPLAY": xvfb}, "linux")
    # Right after the probe, Qt connects: the probe must not have made the server reset.
    assert x_server_answers(xvfb)
    assert not x_server_answers(":4999")


def test_the_window_opens_on_a_fresh_xvfb_after_the_check(xvfb: str, tmp_path: Path) -> None:
    done = _gui(
        {"DISPLAY": xvfb, "QT_QPA_PLATFORM": "xcb"}, "--smoke-test", "--data-dir", str(tmp_path)
    )
    assert done.returncode == 0, done.stderr
