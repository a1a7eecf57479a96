"""The engine worker: a QObject living on its own QThread that owns the diffusers pipeline.

torch and diffusers are imported here lazily, inside the worker thread, on the first job, so the
window shows before they load. Every exception becomes a ``failed`` signal with a message a person
can act on; nothing escapes the thread. Cancel is a ``threading.Event`` the GUI sets directly (a
queued signal would wait behind the running job).

With Settings → Engine set to Ray, the same calls go to a
:class:`~sd21_desktop.ray_workers.pool.RayEngine` (imported here, in the worker thread, only
then): the steps, previews and results arrive as from the local engine, and the images are saved
here, into the local gallery.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot
from PySide6.QtGui import QImage

from sd21_desktop.engine.device import RuntimeOptions
from sd21_desktop.engine.request import GenerationRequest
from sd21_desktop.errors import GenerationCancelled, OutOfMemoryError, UserFacingError
from sd21_desktop.qt.images import pil_to_qimage, rgb_array_to_qimage
from sd21_desktop.settings import EngineChoice

PREVIEW_INTERVAL_S = 0.1  # at most ~10 previews a second


@dataclass(frozen=True)
class SavedImage:
    """One finished image as the GUI receives it."""

    image: QImage
    path: str
    seed: int
    batch_index: int
    entry: Any | None
    """The GalleryEntry the store made, when the gallery is open."""


@dataclass(frozen=True)
class UnsavedImage:
    """A finished image the disk refused: kept in memory until saved again or elsewhere."""

    image: QImage
    pil: Any
    record: Any
    """Its ImageRecord (request, seed, batch index, runtime with the job id)."""


ImageSaver = Callable[[Any, Any], tuple[str, Any | None]]
"""Saves one PIL image with its ImageRecord (PNG + index); returns (path, gallery entry or None).
Raises OSError or sqlite3.Error when the disk refuses."""
SavedLookup = Callable[[str], dict[int, int]]
"""Job id → batch index → gallery entry id of that job's images already in the gallery."""
SaveJournal = Callable[[str, int, Any], object]
"""Called right after each image is saved: job id, batch index, entry id (or None)."""

def engine_info() -> dict[str, str]:
    """What torch sees (called in the worker thread, where torch is already imported)."""
    import torch

    if torch.cuda.is_available():
        device = f"CUDA: {torch.cuda.get_device_name(0)} (CUDA {torch.version.cuda})"
    elif getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        device = "Apple MPS"
    else:
        device = f"CPU ({torch.get_num_threads()} threads)"
    return {"torch": torch.__version__, "device": device}


class EngineWorker(QObject):
    started = Signal(str)
    progress = Signal(str, int, int, float, float)  # job id, step, total, it/s, ETA seconds
    # job id, the running stage of the plan ("denoise 1/2", "upscale tile 3/25")
    stage_changed = Signal(str, str)
    preview = Signal(str, QImage)
    finished = Signal(str, list)  # job id, list[SavedImage]
    failed = Signal(str, str)
    not_saved = Signal(str, str, list, list)  # job id, reason, list[SavedImage], [UnsavedImage]
    saved_elsewhere = Signal(str, list)  # job id, paths written outside the gallery
    cancelled = Signal(str)
    status_changed = Signal(str)
    model_loaded = Signal(str, int)  # model, native size
    engine_info_changed = Signal(dict)  # torch version, build and device, for Help → About
    build_checked = Signal(object)  # engine.flavour.BuildReport: CPU or CUDA build, NVIDIA GPU
    notice = Signal(str)  # e.g. which model inpaints
    depth_estimated = Signal(QImage, str)  # the depth map (null on failure), error message
    annotated = Signal(QImage, str)  # a hed/lineart/openpose control image (null on failure), error
    warmed_up = Signal(str)  # a warm-up stage finished (or failed: the first job reports it)

    def __init__(
        self,
        options: RuntimeOptions,
        save_image: ImageSaver,
        allow_download: bool = True,
        inputs_folder: Path | None = None,
        networks: Any = None,
        find_saved: SavedLookup | None = None,
        on_saved: SaveJournal | None = None,
        engine_choice: EngineChoice | None = None,
    ) -> None:
        super().__init__()
        self._engine_choice = engine_choice or EngineChoice()
        self._networks = networks  # NetworkFolders (embeddings, LoRA) or None for the default
        self._options = options
        self._save_image = save_image
        self._find_saved = find_saved
        self._on_saved = on_saved
        self._allow_download = allow_download
        self._inputs_folder = inputs_folder
        self._engine: Any = None
        self._lock = threading.Lock()

    @property
    def engine(self) -> Any:
        return self._engine

    @Slot(object)
    def set_networks(self, networks: Any) -> None:
        """New embeddings/LoRA folders (from Settings); the next job reads them."""
        self._networks = networks
        if self._engine is not None:
            self._engine.networks = networks

    @Slot(object)
    def set_options(self, options: RuntimeOptions) -> None:
        self._options = options
        if self._engine is not None:
            self._engine.options = options

    @Slot(object)
    def set_engine(self, choice: EngineChoice) -> None:
        """Run later jobs on this machine or on Ray (Settings → Engine); made on the next job."""
        if choice != self._engine_choice:
            self._engine_choice = choice
            self._drop_engine()

    def _drop_engine(self) -> None:
        if self._engine is not None:
            close = getattr(self._engine, "close", None)  # a Ray engine lets its actors go
            with contextlib.suppress(Exception):
                close() if close is not None else self._engine.cache.clear()
            self._engine = None

    @Slot()
    def check_build(self) -> None:
        """Which torch build this is and whether an NVIDIA GPU is here (file checks, off the GUI
        thread; no torch import), for the window's start-up hint and Help → About."""
        from sd21_desktop.engine.flavour import build_report

        self.build_checked.emit(build_report())

    @Slot(str)
    def warm_up(self, stage: str) -> None:
        """One slice of loading torch and diffusers ahead of the first job (qt/warmup.py)."""
        from sd21_desktop.qt.warmup import run_stage

        # A broken install is not reported here: the first job reports it, with its message.
        with contextlib.suppress(Exception):
            run_stage(stage)
        self.warmed_up.emit(stage)

    def _ensure_engine(self) -> Any:
        if self._engine is not None and getattr(self._engine, "broken", False):
            self._drop_engine()  # the Ray cluster went away: connect again for this job
        if self._engine is None and self._engine_choice.kind == "ray":
            self._engine = self._ray_engine()
        if self._engine is None:
            self.status_changed.emit("Starting the engine (loading PyTorch)…")
            from sd21_desktop.qt.warmup import warm_everything

            warm_everything()  # what the warm-up has not done yet, without long GIL holds
            from sd21_desktop.engine.runner import Engine
            from sd21_desktop.qt.download_progress import status_tqdm_class
            from sd21_desktop.qt.gui_collector import collect_on_gui_thread

            self._engine = Engine(
                self._options,
                allow_download=self._allow_download,
                tqdm_class=status_tqdm_class(self.status_changed.emit),
                networks=self._networks,
                collect_garbage=collect_on_gui_thread,  # PySide objects die on their thread
            )
            self.engine_info_changed.emit(engine_info())
        return self._engine

    def _ray_engine(self) -> Any:
        """The Ray engine of the chosen cluster (Ray imported here, in the worker thread)."""
        choice = self._engine_choice
        where = choice.address or "a local Ray instance"
        self.status_changed.emit(f"Connecting to {where} and starting the Ray workers…")
        from sd21_desktop.ray_workers.pool import RayEngine

        engine = RayEngine(
            self._options,
            address=choice.address or None,
            workers=choice.workers or None,
            allow_download=self._allow_download,
        )
        count = len(engine.workers)
        self.engine_info_changed.emit(
            {"torch": "on the Ray workers", "device": f"Ray: {count} worker(s) at {where}"}
        )
        self.status_changed.emit(f"Ray: {count} worker(s) at {where}.")
        return engine

    @Slot(str)
    def preload_model(self, model: str) -> None:
        """Load a model ahead of the first job if it is already on disk (never downloads)."""
        if self._engine_choice.kind == "ray":  # the workers load it with their first job
            return
        try:
            from sd21_desktop.engine.models import cached_snapshot, identify

            source = identify(model)
            if source.kind == "hub" and cached_snapshot(source.location) is None:
                self.status_changed.emit(
                    f"{source.location} is not downloaded yet: get it in File → Models… "
                    "(about 5 GB, into the Hugging Face cache)."
                )
                return
            engine = self._ensure_engine()
            loaded = engine.load(model, self.status_changed.emit, allow_download=False)
            self.model_loaded.emit(model, loaded.native_size)
            self.status_changed.emit(f"Ready: {loaded.source.display_name} on {loaded.device}")
        except UserFacingError as error:
            self.status_changed.emit(str(error))
        except Exception as error:  # never let an exception kill the thread
            self.status_changed.emit(f"Could not load {model}: {type(error).__name__}: {error}")

    @Slot(str, object, object, int, object, object)
    def run_job(
        self,
        job_id: str,
        request: GenerationRequest,
        cancel: threading.Event,
        keep_index: int = -1,
        new_inputs: dict[str, Any] | None = None,
        saved: dict[int, Any] | None = None,
    ) -> None:
        """Run a request; ``keep_index`` ≥ 0 keeps only that image of the batch (a re-run).

        ``new_inputs`` maps input ids named in the request to the images (canvas image, mask)
        to store first; a re-run finds its inputs already stored. ``saved`` (a job run again
        after a crash or a retry): batch images already saved, joined with those the gallery
        holds for this job; they are not saved twice, and a job with nothing left is done.
        """
        if cancel.is_set():
            self.cancelled.emit(job_id)
            return
        self.started.emit(job_id)
        try:
            done = self._already_saved(job_id, saved)
            wanted = {keep_index} if keep_index >= 0 else set(range(request.batch_size))
            if saved is not None and wanted <= done.keys():
                self.finished.emit(job_id, [])
                self.status_changed.emit("Already in the gallery: nothing to make again.")
                return
            inputs = self._store_inputs(new_inputs or {})
            result = self._generate_with_retry(job_id, request, cancel, inputs)
            for notice in getattr(result, "notices", []):
                self.notice.emit(notice)
            from sd21_desktop.gallery.metadata import job_records

            left = wanted - done.keys()
            items = [item for item in job_records(job_id, result) if item[0] in left]
            images, unsaved, reason = self._save_all(job_id, items)
        except GenerationCancelled:
            self.cancelled.emit(job_id)
            self.status_changed.emit("Cancelled; nothing was saved.")
            return
        except UserFacingError as error:
            self.failed.emit(job_id, str(error))
            return
        except MemoryError:
            self.failed.emit(job_id, "Ran out of system memory. Lower the size or batch size.")
            return
        except Exception as error:  # nothing escapes the worker thread
            self.failed.emit(job_id, f"Generation failed: {type(error).__name__}: {error}")
            return
        if unsaved:
            self.not_saved.emit(job_id, reason, images, unsaved)
            return
        self.finished.emit(job_id, images)
        timings = result.timings
        self.status_changed.emit(
            f"Done in {timings['total_s']:.1f}s ({timings['median_step_s']:.2f}s/step)"
        )

    def _already_saved(self, job_id: str, saved: dict[int, Any] | None) -> dict[int, Any]:
        if saved is None:
            return {}
        found: dict[int, Any] = dict(saved)
        if self._find_saved is not None:
            try:
                found.update(self._find_saved(job_id))
            except Exception as error:  # the gallery index unreadable: trust the queue's record
                self.status_changed.emit(f"Could not look in the gallery index: {error}")
        return found

    def _save_all(
        self, job_id: str, items: list[tuple[int, Any, Any]]
    ) -> tuple[list[SavedImage], list[UnsavedImage], str]:
        """Save each image; after the first the disk refuses, keep that one and the rest."""
        from sd21_desktop.gallery.files import describe_write_error

        saved: list[SavedImage] = []
        unsaved: list[UnsavedImage] = []
        reason = ""
        for index, image, record in items:
            if not reason:
                try:
                    path, entry = self._save_image(image, record)
                except (OSError, sqlite3.Error) as error:
                    reason = describe_write_error(error)
                else:
                    if self._on_saved is not None:
                        self._on_saved(job_id, index, getattr(entry, "id", None))
                    saved.append(SavedImage(pil_to_qimage(image), path, record.seed, index, entry))
                    continue
            unsaved.append(UnsavedImage(pil_to_qimage(image), image, record))
        return saved, unsaved, reason

    @Slot(str, list)
    def save_again(self, job_id: str, unsaved: list[UnsavedImage]) -> None:
        """Try the gallery again with images the disk refused before."""
        items = [(item.record.batch_index, item.pil, item.record) for item in unsaved]
        saved, still, reason = self._save_all(job_id, items)
        if still:
            self.not_saved.emit(job_id, reason, saved, still)
        else:
            self.finished.emit(job_id, saved)

    @Slot(str, list, str)
    def save_elsewhere(self, job_id: str, unsaved: list[UnsavedImage], folder: str) -> None:
        """Write the images (with their settings inside) into a folder the user chose."""
        from sd21_desktop.gallery.files import describe_write_error, unique_path, write_atomic
        from sd21_desktop.gallery.metadata import encode_png

        paths: list[str] = []
        try:
            for item in unsaved:
                path = unique_path(Path(folder), f"{job_id}-{item.record.seed}")
                write_atomic(path, encode_png(item.pil, item.record))
                paths.append(str(path))
        except OSError as error:
            self.not_saved.emit(job_id, describe_write_error(error), [], unsaved)
            return
        self.saved_elsewhere.emit(job_id, paths)

    def _store_inputs(self, new_inputs: dict[str, Any]) -> Any:
        """The input store, with the job's new images in it (written here, not on the GUI)."""
        if self._inputs_folder is None:
            return None
        from sd21_desktop.engine.inputs import InputImages

        store = InputImages(self._inputs_folder)
        for expected, image in new_inputs.items():
            stored = store.put(image)
            if stored != expected:
                raise UserFacingError(
                    f"The input image changed while it was saved ({stored[:12]})."
                )
        return store

    def _generate_with_retry(
        self, job_id: str, request: GenerationRequest, cancel: threading.Event, inputs: Any = None
    ) -> Any:
        engine = self._ensure_engine()
        last_preview = [0.0]
        last_stage = [""]

        def on_step(info: Any) -> None:
            # step/total count across the whole plan, so the bar and the ETA cover every stage.
            if info.stage != last_stage[0]:
                last_stage[0] = info.stage
                self.stage_changed.emit(job_id, info.stage)
            rate = info.step / info.elapsed if info.elapsed > 0 else 0.0
            eta = (info.total - info.step) / rate if rate > 0 else 0.0
            self.progress.emit(job_id, info.step, info.total, rate, eta)
            now = time.perf_counter()
            if now - last_preview[0] >= PREVIEW_INTERVAL_S or info.step == info.total:
                last_preview[0] = now
                from sd21_desktop.engine.preview import latents_to_rgb

                self.preview.emit(job_id, rgb_array_to_qimage(latents_to_rgb(info.latents)))

        try:
            return engine.generate(
                request, on_step, cancel.is_set, self.status_changed.emit, inputs=inputs
            )
        except OutOfMemoryError as error:
            if engine.options.attention_slicing and engine.options.vae_tiling:
                raise
            self.status_changed.emit(
                "Out of memory: retrying once with attention slicing and VAE tiling…"
            )
            engine.options = replace(engine.options, attention_slicing=True, vae_tiling=True)
            try:
                return engine.generate(
                    request, on_step, cancel.is_set, self.status_changed.emit, inputs=inputs
                )
            except OutOfMemoryError:
                raise error from None
            finally:
                engine.options = self._options

    @Slot(object, str)
    def estimate_depth(self, image: Any, model: str) -> None:
        """The depth map depth mode would use, so the user can see it before generating."""
        try:
            engine = self._ensure_engine()
            depth = engine.estimate_depth(image, model, self.status_changed.emit)
            self.depth_estimated.emit(pil_to_qimage(depth.convert("RGB")), "")
            self.status_changed.emit("Depth map estimated.")
        except UserFacingError as error:
            self.depth_estimated.emit(QImage(), str(error))
        except Exception as error:  # nothing escapes the worker thread
            self.depth_estimated.emit(QImage(), f"Depth estimation failed: {error}")

    @Slot(object, str, object)
    def annotate(self, image: Any, name: str, folder: Any) -> None:
        """A control image by controlnet-aux's ``name`` detector (engine/annotators.py)."""
        from sd21_desktop.engine.annotators import annotate

        try:
            made = annotate(name, image, folder)
            self.annotated.emit(pil_to_qimage(made), "")
            self.status_changed.emit(f"Control image made with {name}.")
        except UserFacingError as error:
            self.annotated.emit(QImage(), str(error))
        except Exception as error:  # nothing escapes the worker thread
            self.annotated.emit(QImage(), f"The {name} preprocessor failed: {error}")

    @Slot()
    def shutdown(self) -> None:
        """Release the pipeline or the Ray workers (in the worker thread before it quits)."""
        self._drop_engine()
