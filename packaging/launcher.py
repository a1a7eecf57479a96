"""The frozen program's entry script: the same ``main`` as the ``sd21-desktop`` command.

PyInstaller freezes this file twice (a windowed ``sd21-desktop`` and a console
``sd21-desktop-cli``); both run the one CLI, which opens the window when no command is given.
"""

from __future__ import annotations

import multiprocessing
import os
import sys


def _ensure_streams() -> None:
    """A windowed program on Windows/macOS has no stdout/stderr: give prints somewhere to go."""
    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115


if __name__ == "__main__":
    multiprocessing.freeze_support()
    _ensure_streams()
    from sd21_desktop.cli import main

    sys.exit(main())
