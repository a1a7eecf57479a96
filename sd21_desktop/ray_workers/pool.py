"""The client's side: a pool of engine actors behind the local engine's ``generate`` call.

:class:`RayEngine` has the :class:`~sd21_desktop.engine.runner.Engine` call the worker thread and
the ``batch`` command use (``generate(request, on_step, should_cancel, on_status, inputs)`` →
``GenerationResult``), so both run through Ray without knowing it. It is thread-safe: the batch
command calls it from one thread per worker.

Scheduling: a job goes to the least busy live actor; among equally busy ones, to one that already
holds the job's model (loading a model costs far more than a step, but an idle actor is better
than a queue). Inputs go to an actor once (tracked per actor). A job whose actor dies (killed
process, lost node) is retried once on another actor, and the dead one is replaced; a second
loss is reported as a failure with a clear message. Cancel goes to the actor as a separate call.
"""

from __future__ import annotations

import io
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sd21_desktop.engine.device import RuntimeOptions
from sd21_desktop.engine.inputs import InputImages
from sd21_desktop.errors import GenerationCancelled, OutOfMemoryError, UserFacingError
from sd21_desktop.ray_workers import import_ray
from sd21_desktop.ray_workers.cluster import cluster_gpus, connect
from sd21_desktop.ray_workers.events import CancelledEvent, DoneEvent, FailedEvent, StepEvent

POLL_S = 0.05
"""How often a waiting client looks at its cancel flag (well under one step)."""
CANCEL_GRACE_S = 10.0
"""How long a cancelled job waits for its actor to confirm (a step takes well under this)."""
LOST_HINT = "Check the Ray workers (`ray status`), or choose the local engine."


class WorkerLost(Exception):  # noqa: N818 - an internal signal, turned into a retry
    """The actor running a job died or became unreachable."""


@dataclass
class Worker:
    handle: Any
    name: str
    busy: int = 0
    models: set[str] = field(default_factory=set)
    inputs: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class PoolLayout:
    """How many actors, and what each holds: one GPU each, else ``cpus`` cores each."""

    workers: int
    gpus: int
    cpus: int


def plan_layout(gpus: int, workers: int | None, cpus_per_worker: int) -> PoolLayout:
    """One actor per GPU on a GPU cluster, else ``workers`` CPU actors (default 1)."""
    if gpus > 0:
        return PoolLayout(workers or gpus, 1, 0)
    return PoolLayout(workers or 1, 0, cpus_per_worker)


def check_fits(layout: PoolLayout, resources: dict[str, float]) -> None:
    """Refuse a layout the cluster can never hold (its actors would wait for ever)."""
    kind, each = ("GPU", layout.gpus) if layout.gpus else ("CPU", layout.cpus)
    have = resources.get(kind, 0)
    if layout.workers * each > have:
        raise UserFacingError(
            f"{layout.workers} Ray workers need {layout.workers * each:g} {kind}s; the cluster "
            f"has {have:g}.",
            "Lower the number of Ray workers (--ray-workers) or add nodes to the cluster.",
        )


class RayEngine:
    """Runs requests on Ray actors; the same result object as the local engine."""

    def __init__(
        self,
        options: RuntimeOptions | None = None,
        address: str | None = None,
        workers: int | None = None,
        cpus_per_worker: int = 1,
        allow_download: bool = True,
    ) -> None:
        self.options = options or RuntimeOptions()
        self.address = address
        self._ray = import_ray()
        self._started_ray = connect(address)
        try:
            self.layout = plan_layout(cluster_gpus(), workers, cpus_per_worker)
            check_fits(self.layout, self._ray.cluster_resources())
        except BaseException:
            if self._started_ray:  # the next attempt starts (or joins) afresh
                self._ray.shutdown()
            raise
        self._allow_download = allow_download
        self._lock = threading.Lock()
        self._count = 0
        self.workers: list[Worker] = [self._new_worker() for _ in range(self.layout.workers)]
        self.retries = 0
        self.bytes_sent = 0
        self.broken = False
        """The cluster failed (not just one actor): the owner should make a new engine."""
        self.send_previews = True
        """Whether steps bring the latents for a preview (the batch command needs none)."""

    # -- actors ------------------------------------------------------------------------------

    def _new_worker(self) -> Worker:
        from sd21_desktop.ray_workers.actor import EngineActor

        self._count += 1
        remote = self._ray.remote(
            num_gpus=self.layout.gpus, num_cpus=self.layout.cpus, max_concurrency=2
        )(EngineActor)
        threads = self.layout.cpus if self.layout.gpus == 0 else None
        return Worker(remote.remote(self._allow_download, threads), f"worker-{self._count}")

    def _pick(self, model: str, exclude: set[str]) -> Worker:
        with self._lock:
            live = [w for w in self.workers if w.name not in exclude] or self.workers
            worker = min(live, key=lambda w: (w.busy, model not in w.models))
            worker.busy += 1
            worker.models.add(model)
            return worker

    def _replace(self, dead: Worker) -> None:
        with self._lock:
            if dead in self.workers:
                self.workers[self.workers.index(dead)] = self._new_worker()
        self._ray.kill(dead.handle, no_restart=True)

    def wait_ready(self) -> list[dict[str, Any]]:
        """Each actor's node and process (waits for every actor to have started)."""
        return list(self._ray.get([w.handle.describe.remote() for w in self.workers]))

    def close(self) -> None:
        """Let the actors go; stop Ray too when this engine started it (killing actors one by
        one first would leave calls to a stopped cluster that abort the process a minute on)."""
        workers, self.workers = self.workers, []
        if self._started_ray:
            self._ray.shutdown()
            return
        for worker in workers:
            self._ray.kill(worker.handle, no_restart=True)

    def estimate_depth(self, image: Any, model: str, on_status: Any = None) -> Any:
        """The depth map a worker's depth model estimates for ``image`` (as the local engine)."""
        from PIL import Image

        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        worker = self._pick(model, set())
        try:
            data = self._ray.get(worker.handle.estimate_depth.remote(buffer.getvalue(), model))
        except self._ray.exceptions.RayTaskError as error:
            if isinstance(error.cause, UserFacingError):
                raise error.cause from None
            raise UserFacingError(f"The Ray worker failed: {_first_line(error)}") from None
        except self._ray.exceptions.RayError as error:
            message = f"The Ray cluster failed: {_first_line(error)}"
            raise UserFacingError(message, LOST_HINT) from None
        finally:
            with self._lock:
                worker.busy -= 1
        with Image.open(io.BytesIO(data)) as opened:
            opened.load()
            return opened.copy()

    # -- one job -----------------------------------------------------------------------------

    def generate(
        self,
        request: Any,
        on_step: Callable[[Any], None] | None = None,
        should_cancel: Callable[[], bool] | None = None,
        on_status: Callable[[str], None] | None = None,
        inputs: InputImages | None = None,
    ) -> Any:
        """Run ``request`` on the least busy actor; retried once elsewhere if the actor dies."""
        if not self.workers:
            raise UserFacingError("The Ray engine was closed.", LOST_HINT)
        tried: set[str] = set()
        lost: list[str] = []
        for _ in range(2):
            worker = self._pick(request.model, tried)
            tried.add(worker.name)
            try:
                return self._run_on(worker, request, on_step, should_cancel, inputs)
            except WorkerLost as error:
                lost.append(f"{worker.name}: {error}")
                self._replace(worker)
                if on_status is not None and len(lost) == 1:
                    on_status(f"A Ray worker stopped ({error}); retrying the job on another.")
            finally:
                with self._lock:
                    worker.busy -= 1
            if len(lost) == 1:
                self.retries += 1
        raise UserFacingError(
            f"The job failed on two Ray workers, which stopped while running it "
            f"({'; '.join(lost)}). Nothing was saved for it.",
            LOST_HINT,
        )

    def _run_on(
        self,
        worker: Worker,
        request: Any,
        on_step: Callable[[Any], None] | None,
        should_cancel: Callable[[], bool] | None,
        inputs: InputImages | None,
    ) -> Any:
        ray = self._ray
        local = inputs or _default_inputs()
        key = uuid.uuid4().hex
        try:
            self._send_inputs(worker, request, local)
            stream = worker.handle.run.options(num_returns="streaming").remote(
                key, request.to_dict(), self.options, self.send_previews and on_step is not None
            )
            cancel_sent: float | None = None
            while True:
                if cancel_sent is None and should_cancel is not None and should_cancel():
                    worker.handle.cancel.remote(key)
                    cancel_sent = time.monotonic()
                ready, _ = ray.wait([stream], timeout=POLL_S)
                if not ready:
                    if cancel_sent is not None and time.monotonic() - cancel_sent > CANCEL_GRACE_S:
                        raise GenerationCancelled()  # an actor that never started, or hangs
                    continue
                try:
                    event = ray.get(next(stream))
                except StopIteration:
                    raise WorkerLost("the job's stream ended without a result") from None
                if isinstance(event, StepEvent):
                    if on_step is not None:
                        on_step(_step_info(event))
                    continue
                return _finish(event, local)
        except (ray.exceptions.RayActorError, ray.exceptions.WorkerCrashedError) as error:
            raise WorkerLost(_first_line(error)) from None
        except ray.exceptions.RayError as error:
            self.broken = True  # the window connects again for its next job
            raise UserFacingError(
                f"The Ray cluster failed while running the job: {_first_line(error)}",
                LOST_HINT,
            ) from None

    def _send_inputs(self, worker: Worker, request: Any, local: InputImages) -> None:
        """The request's input files, to an actor that has not had them yet."""
        wanted = [digest for digest in request.input_hashes() if digest not in worker.inputs]
        if not wanted:
            return
        files = {}
        for digest in wanted:
            local.get(digest)  # checked here: a missing or damaged input fails before sending
            files[digest] = local.path(digest).read_bytes()
        self._ray.get(worker.handle.put_inputs.remote(files))
        with self._lock:
            worker.inputs.update(files)
            self.bytes_sent += sum(len(data) for data in files.values())


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


def _step_info(event: StepEvent) -> Any:
    from sd21_desktop.engine.context import StepInfo

    latents = event.latents
    if latents is not None:
        import torch

        latents = torch.from_numpy(latents.copy())  # Ray's arrays are read-only
    return StepInfo(
        event.step,
        event.total,
        event.elapsed,
        latents,
        event.stage,
        event.stage_step,
        event.stage_total,
    )


def _finish(event: Any, local: InputImages) -> Any:
    """The ending event as the local engine's result (or its exception)."""
    if isinstance(event, CancelledEvent):
        raise GenerationCancelled()
    if isinstance(event, FailedEvent):
        kind = OutOfMemoryError if event.out_of_memory else UserFacingError
        raise kind(event.message, event.hint)
    if not isinstance(event, DoneEvent):
        raise WorkerLost(f"an unexpected event {type(event).__name__}")
    return decode_result(event, local)


def decode_result(event: DoneEvent, local: InputImages) -> Any:
    """A ``GenerationResult`` from the PNG bytes: the same pixels, request and runtime."""
    from PIL import Image

    from sd21_desktop.engine.request import GenerationRequest
    from sd21_desktop.engine.runner import GenerationResult, RuntimeInfo
    from sd21_desktop.ray_workers.actor import write_input

    for digest, data in event.new_inputs.items():
        write_input(local.folder, digest, data)
    images = []
    for data in event.pngs:
        with Image.open(io.BytesIO(data)) as opened:
            opened.load()
            images.append(opened.copy())
    known = set(RuntimeInfo.__dataclass_fields__)
    return GenerationResult(
        request=GenerationRequest.from_dict(event.request),
        images=images,
        seeds=list(event.seeds),
        runtime=RuntimeInfo(**{k: v for k, v in event.runtime.items() if k in known}),
        timings=dict(event.timings),
        batch_indices=list(event.batch_indices),
        notices=list(event.notices),
    )


def _default_inputs() -> InputImages:
    from sd21_desktop.paths import resolve_paths

    return InputImages(resolve_paths().inputs_dir)
