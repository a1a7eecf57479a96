"""The worker's side: an actor holding one :class:`~sd21_desktop.engine.runner.Engine`.

The actor keeps the engine's pipeline cache between jobs (models resolve on the worker's own
machine: its Hugging Face cache, downloading there when allowed) and its own content-addressed
inputs folder, so each input image travels to a worker once. A job is a streaming generator:
the engine runs in a thread of the actor and its step callback feeds a queue the generator
yields from, so steps reach the client as they finish. Cancel is a separate actor call (the
actor runs two calls at once: ``max_concurrency=2``) that sets the job's event; the engine
checks it after every step, so the remote loop stops within one step of the cancel arriving.
"""

from __future__ import annotations

import os
import queue
import tempfile
import threading
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

from sd21_desktop.engine.device import RuntimeOptions
from sd21_desktop.engine.inputs import InputImages
from sd21_desktop.errors import GenerationCancelled, OutOfMemoryError, UserFacingError
from sd21_desktop.ray_workers.events import CancelledEvent, DoneEvent, FailedEvent, StepEvent

_END = object()


class CancelState:
    """A job's cancel event and the step counts around it (for the 'within one step' promise)."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.steps_done = 0
        self.steps_at_cancel: int | None = None

    def cancel(self) -> None:
        if self.steps_at_cancel is None:
            self.steps_at_cancel = self.steps_done
        self.event.set()

    def after(self) -> int:
        return self.steps_done - (self.steps_at_cancel or 0)


def write_input(folder: Path, digest: str, data: bytes) -> None:
    """Put an input file's bytes under its id (checked when read: InputImages.get)."""
    store = InputImages(folder)
    target = store.path(digest)  # refuses anything but a sha256 id
    if target.is_file():
        return
    folder.mkdir(parents=True, exist_ok=True)
    temp = folder / f".{digest[:16]}-{uuid.uuid4().hex}.tmp"
    temp.write_bytes(data)
    os.replace(temp, target)


class EngineActor:
    """Wrapped with ``ray.remote`` by the pool; one per GPU (or per CPU slot)."""

    def __init__(self, allow_download: bool, cpu_threads: int | None = None) -> None:
        if cpu_threads:
            import torch

            torch.set_num_threads(cpu_threads)  # a CPU actor uses the cores Ray gave it
        from sd21_desktop.engine.runner import Engine

        self.engine = Engine(RuntimeOptions(), allow_download=allow_download)
        self.inputs_dir = Path(tempfile.mkdtemp(prefix="sd21-ray-inputs-"))
        self.inputs = InputImages(self.inputs_dir)
        self._jobs: dict[str, CancelState] = {}
        self._busy = threading.Lock()  # the engine runs one job at a time

    def describe(self) -> dict[str, Any]:
        import ray

        return {"node": ray.util.get_node_ip_address(), "pid": os.getpid()}

    def missing_inputs(self, digests: list[str]) -> list[str]:
        return [digest for digest in digests if not self.inputs.exists(digest)]

    def put_inputs(self, files: dict[str, bytes]) -> None:
        for digest, data in files.items():
            write_input(self.inputs_dir, digest, data)

    def estimate_depth(self, image_png: bytes, model: str) -> bytes:
        """The depth map depth mode would estimate for the image (PNG in, PNG out)."""
        import io

        from PIL import Image

        with Image.open(io.BytesIO(image_png)) as opened:
            image = opened.convert("RGB")
        with self._busy:
            depth = self.engine.estimate_depth(image, model)
        buffer = io.BytesIO()
        depth.save(buffer, format="PNG")
        return buffer.getvalue()

    def cancel(self, key: str) -> None:
        # Kept even when it arrives before the job starts (threaded actors do not keep order).
        self._jobs.setdefault(key, CancelState()).cancel()

    def run(
        self, key: str, request: dict[str, Any], options: RuntimeOptions, previews: bool
    ) -> Iterator[Any]:
        """Stream one job: :class:`StepEvent` per step, then one Done/Cancelled/Failed event."""
        state = self._jobs.setdefault(key, CancelState())
        events: queue.Queue[Any] = queue.Queue()
        thread = threading.Thread(
            target=self._generate, args=(request, options, previews, state, events), daemon=True
        )
        with self._busy:
            thread.start()
            try:
                while (event := events.get()) is not _END:
                    yield event
            finally:
                state.cancel()  # the client went away: stop the engine within one step
                thread.join()
                self._jobs.pop(key, None)

    def _generate(
        self,
        request_data: dict[str, Any],
        options: RuntimeOptions,
        previews: bool,
        state: CancelState,
        events: queue.Queue[Any],
    ) -> None:
        from sd21_desktop.engine.request import GenerationRequest

        def on_step(info: Any) -> None:
            state.steps_done += 1
            latents = info.latents[:1].detach().float().cpu().numpy() if previews else None
            events.put(
                StepEvent(
                    info.step, info.total, info.elapsed, info.stage,
                    info.stage_step, info.stage_total, latents,
                )
            )

        if state.event.is_set():
            events.put(CancelledEvent(0))
            events.put(_END)
            return
        try:
            # The client's cache folder means nothing here: this machine's own one is used.
            self.engine.options = replace(options, cache_dir=None)
            request = GenerationRequest.from_dict(request_data)
            result = self.engine.generate(request, on_step, state.event.is_set, inputs=self.inputs)
            events.put(self._done(request, result))
        except GenerationCancelled:
            events.put(CancelledEvent(state.after()))
        except OutOfMemoryError as error:
            events.put(FailedEvent(error.message, error.hint, out_of_memory=True))
        except UserFacingError as error:
            events.put(FailedEvent(error.message, error.hint))
        except Exception as error:  # reported to the client, never lost in the actor's log
            events.put(FailedEvent(f"The Ray worker failed: {type(error).__name__}: {error}"))
        finally:
            events.put(_END)

    def _done(self, request: Any, result: Any) -> DoneEvent:
        from sd21_desktop.gallery.metadata import ImageRecord, encode_png

        runtime = result.runtime.to_dict()
        pngs = [
            encode_png(image, ImageRecord(result.request, seed, index, runtime))
            for image, seed, index in zip(
                result.images, result.seeds, result.batch_indices, strict=True
            )
        ]
        made = set(result.request.input_hashes()) - set(request.input_hashes())
        return DoneEvent(
            pngs,
            list(result.seeds),
            list(result.batch_indices),
            result.request.to_dict(),
            runtime,
            dict(result.timings),
            list(result.notices),
            {digest: self.inputs.path(digest).read_bytes() for digest in made},
        )
