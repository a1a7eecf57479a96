"""SD21 Desktop: a native desktop app for the Stable Diffusion 2.x family."""

from __future__ import annotations

__version__ = "0.1.0"
APP_NAME = "SD21 Desktop"
APP_ID = "sd21-desktop"
