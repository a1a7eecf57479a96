"""Help → About: versions, the build (CPU or CUDA torch, frozen or not) and the device found.

Versions come from package metadata, so showing the dialog imports no torch on the GUI thread;
the device is what the engine worker reported when it started.
"""

from __future__ import annotations

import html
import sys
from importlib import metadata

from sd21_desktop import APP_NAME, __version__
from sd21_desktop.engine.flavour import BuildReport, build_report

PACKAGES = ("torch", "diffusers", "transformers", "PySide6-Essentials", "PySide6")


def package_versions() -> dict[str, str]:
    versions: dict[str, str] = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def bundle_info() -> dict[str, str]:
    """What the installer build recorded (``build_info.json`` in the bundle), when frozen."""
    root = getattr(sys, "_MEIPASS", None)
    if root is None:
        return {}
    import json
    from pathlib import Path

    try:
        data = json.loads((Path(root) / "build_info.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def about_html(engine_info: dict[str, str], report: BuildReport | None = None) -> str:
    """``report``: the start-up GPU probe's (qt worker); probed here if it has not come yet."""
    versions = package_versions()
    built = bundle_info()
    report = report or build_report()
    frozen = "installed bundle" if getattr(sys, "frozen", False) else "Python environment"
    rows = [(name, version) for name, version in versions.items()]
    rows.append(("Build", f"{report.summary(engine_info.get('device'))}; {frozen}"))
    hint = report.cuda_hint()
    if hint:
        rows.append(("CUDA build", hint))
    rows.append(("Device", engine_info.get("device", "found when the first model loads")))
    if built.get("built"):
        rows.append(("Built", f"{built['built']} for {built.get('platform', '?')}"))
    table = "".join(
        f"<tr><td><b>{html.escape(k)}</b></td><td>{html.escape(v)}</td></tr>" for k, v in rows
    )
    return (
        f"<h3>{APP_NAME} {__version__}</h3><p>Stable Diffusion 2.x on your own machine.</p>"
        f"<table cellspacing='4'>{table}</table>"
    )
