"""The app's settings: typed, with defaults, persisted as JSON in the data folder.

A corrupt or unreadable settings file never stops the app: it is moved aside (kept beside, as
``settings.json.damaged-<time>``), the defaults are used, and a notice says so once. Unknown
keys are ignored and values of the wrong type take their default, so settings from an older or
newer version still load.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from sd21_desktop.engine.device import ACCELERATE_CHOICES, RuntimeOptions
from sd21_desktop.engine.request import DEFAULT_MODEL
from sd21_desktop.engine.schedulers import DEFAULT_SCHEDULER
from sd21_desktop.gallery.files import write_atomic
from sd21_desktop.ray_workers import ENGINES

SEED_MODES = ("random", "fixed", "reuse_last")
THEMES = ("system", "dark", "light")


@dataclass
class AppSettings:
    # last parameters
    prompt: str = ""
    negative_prompt: str = ""
    model: str = DEFAULT_MODEL
    scheduler: str = DEFAULT_SCHEDULER
    steps: int = 25
    guidance_scale: float = 7.5
    seed: int = 0
    seed_mode: str = "random"
    width: int = 768
    height: int = 768
    batch_size: int = 1
    batch_count: int = 1
    # device and memory
    device: str = "auto"
    dtype: str = "auto"
    attention: str = "sdpa"
    attention_slicing: bool = False
    vae_slicing: bool = False
    vae_tiling: bool = False
    cpu_offload: bool = False
    # embeddings and LoRA folders ("" = <data-dir>/models/embeddings and …/lora)
    embeddings_dir: str = ""
    lora_dir: str = ""
    annotators_dir: str = ""
    """HED/line-art/OpenPose weight files ("" = <data-dir>/models/annotators)."""
    accelerate: str = "none"
    # where jobs run: this machine, or the actors of a Ray cluster (sd21_desktop.ray_workers)
    engine: str = "local"
    ray_address: str = ""
    """"" = $RAY_ADDRESS, else a local Ray instance on 127.0.0.1."""
    ray_workers: int = 0
    """0 = one actor per GPU of the cluster (1 on a CPU-only cluster)."""
    # window
    window_geometry: str = ""
    window_state: str = ""
    splitter_sizes: list[int] = field(default_factory=list)
    # look and layout
    theme: str = "system"
    queue_collapsed: bool = False
    splitter_states: dict[str, str] = field(default_factory=dict)
    """Qt's saved state (base64) of each inner splitter, by object name."""
    expanded_sections: dict[str, bool] = field(default_factory=dict)
    """Whether each collapsible group of the parameters is open, by name."""

    def runtime_options(self, cache_dir: str | None = None) -> RuntimeOptions:
        """The engine's options; ``cache_dir`` is the app's cache folder (optimised models)."""
        return RuntimeOptions(
            device=self.device,
            dtype=self.dtype,
            attention=self.attention,  # type: ignore[arg-type]
            attention_slicing=self.attention_slicing,
            vae_slicing=self.vae_slicing,
            vae_tiling=self.vae_tiling,
            cpu_offload=self.cpu_offload,
            accelerate=self.accelerate,
            cache_dir=cache_dir,
        )


@dataclass(frozen=True)
class EngineChoice:
    """Which engine the worker thread runs jobs on (Settings → Engine, or the CLI flags)."""

    kind: str = "local"
    address: str = ""
    workers: int = 0

    @classmethod
    def of(cls, settings: AppSettings) -> EngineChoice:
        return cls(settings.engine, settings.ray_address.strip(), max(settings.ray_workers, 0))


def _coerce(defaults: AppSettings, data: dict[str, Any]) -> AppSettings:
    values: dict[str, Any] = {}
    for spec in fields(AppSettings):
        default = getattr(defaults, spec.name)
        value = data.get(spec.name, default)
        if isinstance(default, bool):
            ok = isinstance(value, bool)
        elif isinstance(default, float):
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            value = float(value) if ok else value
        elif isinstance(default, int):
            ok = isinstance(value, int) and not isinstance(value, bool)
        elif isinstance(default, list):
            ok = isinstance(value, list) and all(isinstance(v, int) for v in value)
        elif isinstance(default, dict):
            value_type = bool if spec.name == "expanded_sections" else str
            ok = isinstance(value, dict) and all(
                isinstance(k, str) and isinstance(v, value_type) for k, v in value.items()
            )
        else:
            ok = isinstance(value, type(default))
        values[spec.name] = value if ok else default
    if values["seed_mode"] not in SEED_MODES:
        values["seed_mode"] = "random"
    if values["theme"] not in THEMES:
        values["theme"] = "system"
    if values["accelerate"] not in ACCELERATE_CHOICES:
        values["accelerate"] = "none"
    if values["engine"] not in ENGINES:
        values["engine"] = "local"
    return AppSettings(**values)


def load_settings(path: Path) -> tuple[AppSettings, str | None]:
    """The saved settings, or the defaults with a notice saying why."""
    if not path.exists():
        return AppSettings(), None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as error:
        return AppSettings(), _set_aside(path, error)
    return _coerce(AppSettings(), data), None


def _set_aside(path: Path, error: BaseException) -> str:
    """Move a damaged settings file out of the way (kept for a person to look at)."""
    from sd21_desktop.gallery.schema import move_aside

    try:
        kept = f"it was moved aside as {move_aside(path).name}"
    except OSError:
        kept = "it will be replaced when you quit"
    return f"The settings file {path} could not be read ({error}); using the defaults, and {kept}."


def save_settings(path: Path, settings: AppSettings) -> None:
    write_atomic(path, json.dumps(asdict(settings), indent=2).encode("utf-8"))
