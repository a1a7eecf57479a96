"""What one loaded pipeline's acceleration did: its choice, the paths that ran, notices, status."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

EAGER = "none"
"""The path name of plain (eager) PyTorch, as recorded with an image."""


@dataclass
class Acceleration:
    """The acceleration of one loaded pipeline (shared by all its mode pipelines).

    ``path`` is what was chosen when the pipeline loaded (``none``, ``compile``, ``openvino`` or
    ``openvino-bf16``);
    each accelerated part records which path actually ran it during the current generation
    (:meth:`begin` starts one), so a shape that fell back to eager is recorded as such.
    """

    requested: str = EAGER
    path: str = EAGER
    on_status: Callable[[str], None] | None = None
    used: dict[str, set[str]] = field(default_factory=dict)
    notices: list[str] = field(default_factory=list)
    """Notices not yet handed to a result (:meth:`take_notices`)."""
    standing: list[str] = field(default_factory=list)
    """Every notice so far: each result of this pipeline repeats them (its images ran so)."""
    prepared: int = 0
    """Shapes converted or compiled in this process (a second start from the disk cache: 0)."""
    reused: int = 0
    """Shapes loaded from the disk cache instead."""
    prepare_s: float = 0.0
    """Seconds spent converting, compiling or loading accelerated models."""

    def begin(self, on_status: Callable[[str], None] | None) -> None:
        """A generation starts: status goes to its callback; paths are recorded afresh."""
        self.on_status = on_status
        self.used = {}
        self.notices = list(self.standing)

    def status(self, text: str) -> None:
        if self.on_status is not None:
            self.on_status(text)

    def note_path(self, part: str, path: str) -> None:
        self.used.setdefault(part, set()).add(path)

    def notice(self, text: str) -> None:
        if text not in self.standing:
            self.standing.append(text)
            self.notices.append(text)
            self.status(text)

    def job_notice(self, text: str) -> None:
        """A notice about this generation only (a LoRA it uses, say): said once per result."""
        if text not in self.notices:
            self.notices.append(text)
            self.status(text)

    def take_notices(self) -> list[str]:
        """The notices since the last call (each said once per result)."""
        taken, self.notices = self.notices, []
        return taken

    def record(self) -> str:
        """The path that ran the UNet in this generation (``a,b`` when shapes differed)."""
        paths = self.used.get("unet") or {self.path}
        return ",".join(sorted(paths))
