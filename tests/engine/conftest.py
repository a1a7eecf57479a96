"""Fixtures shared by the engine tests (modules may still define their own)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sd21_desktop.engine.inputs import InputImages
from sd21_desktop.engine.runner import Engine


@pytest.fixture(scope="module")
def engine() -> Engine:
    """One engine per test module: its pipeline cache keeps the tiny models loaded."""
    return Engine()


@pytest.fixture
def store(tmp_path: Path) -> InputImages:
    """An empty inputs folder."""
    return InputImages(tmp_path / "inputs")
