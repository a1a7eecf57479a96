"""Every folder the app writes to, in one place.

The data folder holds the gallery, settings and prompt history; it can be moved with
``--data-dir`` or the ``SD21_DESKTOP_DATA_DIR`` environment variable, so that tests and portable
installs never touch a user's real folders. Model weights are *not* kept here: hub models live in
the standard Hugging Face cache, shared with other tools.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from platformdirs import user_cache_path, user_data_path

from sd21_desktop import APP_ID
from sd21_desktop.engine.networks import NetworkFolders
from sd21_desktop.errors import UserFacingError

DATA_DIR_ENV = "SD21_DESKTOP_DATA_DIR"


@dataclass(frozen=True)
class AppPaths:
    """The folders of one app instance."""

    data_dir: Path
    cache_dir: Path

    @property
    def gallery_dir(self) -> Path:
        return self.data_dir / "gallery"

    @property
    def inputs_dir(self) -> Path:
        """Content-addressed input images and masks of img2img/inpaint jobs."""
        return self.data_dir / "inputs"

    @property
    def embeddings_dir(self) -> Path:
        """Textual-inversion embeddings (default; ``--embeddings-dir`` points elsewhere)."""
        return self.data_dir / "models" / "embeddings"

    @property
    def lora_dir(self) -> Path:
        """LoRA files (default; ``--lora-dir`` points elsewhere)."""
        return self.data_dir / "models" / "lora"

    def network_folders(
        self, embeddings: str | os.PathLike[str] | None = None,
        loras: str | os.PathLike[str] | None = None,
    ) -> NetworkFolders:
        """The embeddings and LoRA folders: the given ones, else those in the data folder."""
        return NetworkFolders(
            Path(embeddings).expanduser() if embeddings else self.embeddings_dir,
            Path(loras).expanduser() if loras else self.lora_dir,
        )

    @property
    def annotators_dir(self) -> Path:
        """lllyasviel/Annotators weight files (default; ``--annotators-dir`` points elsewhere)."""
        return self.data_dir / "models" / "annotators"

    @property
    def database_path(self) -> Path:
        return self.data_dir / "gallery.sqlite3"

    @property
    def queue_path(self) -> Path:
        """The job queue (SQLite): what is waiting, running and done, across restarts."""
        return self.data_dir / "queue.sqlite3"

    @property
    def settings_path(self) -> Path:
        return self.data_dir / "settings.json"

    @property
    def prompt_history_path(self) -> Path:
        return self.data_dir / "prompt_history.json"

    @property
    def thumbnail_dir(self) -> Path:
        return self.cache_dir / "thumbnails"

    def ensure(self) -> AppPaths:
        """Create the folders; a clear message when that is impossible."""
        for folder in (
            self.data_dir, self.gallery_dir, self.inputs_dir, self.cache_dir,
            self.embeddings_dir, self.lora_dir,
        ):
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise UserFacingError(
                    f"Cannot create the folder {folder}: {error.strerror or error}.",
                    "Choose a writable folder with --data-dir.",
                ) from error
        return self


def resolve_paths(data_dir: str | os.PathLike[str] | None = None) -> AppPaths:
    """Paths from ``--data-dir``, else the environment variable, else the platform's defaults.

    With an explicit data folder the cache lives inside it too, so a portable install or a test
    leaves nothing behind elsewhere.
    """
    chosen = data_dir if data_dir is not None else os.environ.get(DATA_DIR_ENV) or None
    if chosen is not None:
        root = Path(chosen).expanduser().resolve()
        if root.exists() and not root.is_dir():
            raise UserFacingError(
                f"The data folder {root} is a file, not a folder.",
                "Pass a folder path to --data-dir.",
            )
        return AppPaths(data_dir=root, cache_dir=root / "cache")
    return AppPaths(data_dir=user_data_path(APP_ID), cache_dir=user_cache_path(APP_ID))


def resources_dir() -> Path:
    """The ``resources/`` folder: beside the package in a checkout, in the bundle when frozen."""
    import sys

    frozen_root = getattr(sys, "_MEIPASS", None)
    if frozen_root is not None:
        return Path(frozen_root) / "resources"
    return Path(__file__).resolve().parent.parent / "resources"
