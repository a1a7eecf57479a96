"""Download progress from huggingface_hub as status text: bytes, total and speed."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any


def _human(count: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1024 or unit == "GB":
            return f"{count:.1f} {unit}" if unit != "B" else f"{int(count)} B"
        count /= 1024
    return f"{count:.1f} GB"


def status_tqdm_class(report: Callable[[str], None]) -> type:
    """A tqdm subclass that reports each refresh through ``report`` instead of a console bar."""
    from tqdm.auto import tqdm

    class StatusTqdm(tqdm):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            kwargs["disable"] = False
            kwargs["file"] = io.StringIO()  # display() below reports instead of printing
            super().__init__(*args, **kwargs)

        def display(self, *args: Any, **kwargs: Any) -> None:
            rate = self.format_dict.get("rate") or 0.0
            if self.unit == "B":
                total = _human(self.total) if self.total else "?"
                text = f"Downloading model: {_human(self.n)} of {total} at {_human(rate)}/s"
            else:
                text = f"Downloading model files: {self.n} of {self.total or '?'}"
            report(text)

    return StatusTqdm
