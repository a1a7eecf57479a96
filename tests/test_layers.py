"""The layer rules of ARCHITECTURE.md, checked so later work cannot break them silently."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO_ROOT

PACKAGE = REPO_ROOT / "sd21_desktop"
HEAVY = ("torch", "diffusers", "transformers", "accelerate")


def test_import_linter_contracts_hold() -> None:
    executable = shutil.which("lint-imports") or str(Path(sys.executable).parent / "lint-imports")
    if not Path(executable).exists():
        pytest.skip("import-linter is not installed (pip install -e .[test])")
    done = subprocess.run([executable], cwd=REPO_ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "BROKEN" not in done.stdout


def _module_level_imports(path: Path) -> list[str]:
    """Imports that run when the module is imported (not those inside functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: list[str] = []
    for node in tree.body:
        nodes = [node]
        if isinstance(node, (ast.If, ast.Try)):
            nodes = list(ast.walk(node))
        for inner in nodes:
            if isinstance(inner, ast.Import):
                names += [alias.name for alias in inner.names]
            elif isinstance(inner, ast.ImportFrom) and inner.module:
                names.append(inner.module)
    return names


@pytest.mark.parametrize("layer", ["qt", "ui", "gallery"])
def test_gui_and_gallery_layers_never_import_torch_at_import_time(layer: str) -> None:
    offenders = {
        str(path.relative_to(REPO_ROOT)): name
        for path in (PACKAGE / layer).rglob("*.py")
        for name in _module_level_imports(path)
        if name.split(".")[0] in HEAVY
    }
    assert offenders == {}


def test_engine_never_imports_qt_anywhere() -> None:
    for path in (PACKAGE / "engine").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                assert not any(a.name.startswith("PySide6") for a in node.names), path
            if isinstance(node, ast.ImportFrom):
                assert not (node.module or "").startswith(
                    ("PySide6", "sd21_desktop.qt", "sd21_desktop.ui")
                ), path


def test_nothing_imports_ray_or_the_ray_pool_at_import_time() -> None:
    """Ray is optional: only the Ray engine's own modules (and then inside functions elsewhere)
    import it, so the app, the CLI and the window start without it."""
    offenders = {
        str(path.relative_to(REPO_ROOT)): name
        for path in PACKAGE.rglob("*.py")
        if path.parent.name != "ray_workers"
        for name in _module_level_imports(path)
        if name.split(".")[0] == "ray" or name.startswith("sd21_desktop.ray_workers.")
    }
    assert offenders == {}
    ray_free = ("__init__.py", "events.py")
    for name in ray_free:
        imports = _module_level_imports(PACKAGE / "ray_workers" / name)
        assert not [i for i in imports if i.split(".")[0] == "ray"], name
