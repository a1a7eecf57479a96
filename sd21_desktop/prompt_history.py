"""Prompt history: the prompts a user generated with, newest first, persisted in the data folder."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from sd21_desktop.gallery.files import write_atomic

MAX_ENTRIES = 500


@dataclass(frozen=True)
class PromptPair:
    prompt: str
    negative_prompt: str


class PromptHistory:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: list[PromptPair] = self._read()

    def _read(self) -> list[PromptPair]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return []
        if not isinstance(data, list):
            return []
        return [
            PromptPair(item["prompt"], item.get("negative_prompt", ""))
            for item in data
            if isinstance(item, dict)
            and isinstance(item.get("prompt"), str)
            and isinstance(item.get("negative_prompt", ""), str)
        ][:MAX_ENTRIES]

    def add(self, prompt: str, negative_prompt: str) -> None:
        """Put a pair first (moving it up if it was already there)."""
        if not prompt.strip():
            return
        pair = PromptPair(prompt, negative_prompt)
        self.entries = [pair, *[entry for entry in self.entries if entry != pair]][:MAX_ENTRIES]

    def search(self, text: str) -> list[PromptPair]:
        needle = text.lower().strip()
        if not needle:
            return list(self.entries)
        return [
            entry
            for entry in self.entries
            if needle in entry.prompt.lower() or needle in entry.negative_prompt.lower()
        ]

    def save(self) -> None:
        payload = [{"prompt": e.prompt, "negative_prompt": e.negative_prompt} for e in self.entries]
        write_atomic(self.path, json.dumps(payload, ensure_ascii=False).encode("utf-8"))
