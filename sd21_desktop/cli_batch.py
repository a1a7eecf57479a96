"""``batch JOBS.jsonl``: many requests, headless, through the same persistent queue as the window.

Each line of the file is one request as JSON: either a record that ``generate --json`` printed
(its ``request`` is used) or a bare request object. A line without a seed gets a random one the
first time, kept in the queue so a resumed batch makes the same image. Every line is a job in the
queue's table (queue ``batch:<file>``, id from the line), so a batch that was interrupted (Ctrl+C,
a crash, a reboot) resumes where it stopped: finished jobs are skipped, and images already in the
gallery (their PNGs carry the job's id) are not made again.

Jobs run through an :class:`Executor` named by ``--engine`` in :data:`EXECUTORS`: ``local`` (this
machine, one job at a time) or ``ray`` (the actors of a Ray cluster, one job per actor at once;
each job's images still go into the local gallery and the queue from the thread that ran it).

Like :mod:`sd21_desktop.cli`, importing this module loads neither torch nor Pillow.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import sqlite3
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TextIO

from sd21_desktop.errors import UserFacingError

if TYPE_CHECKING:
    from sd21_desktop.engine.request import GenerationRequest
    from sd21_desktop.gallery.queue_store import JobStore, StoredJob
    from sd21_desktop.gallery.store import GalleryStore

from sd21_desktop.cli_common import EXIT_OK, EXIT_USER

StepCallback = Callable[[Any], None]


class Executor(Protocol):
    """Runs one request to a result (``GenerationResult``: request, images, seeds, runtime)."""

    def generate(self, request: GenerationRequest, on_step: StepCallback) -> Any: ...


def _runtime_options(args: argparse.Namespace) -> Any:
    from sd21_desktop.engine.device import RuntimeOptions

    return RuntimeOptions(
        device=getattr(args, "device", None) or "auto",
        dtype=getattr(args, "dtype", None) or "auto",
    )


class LocalExecutor:
    """This machine's engine (CUDA, MPS or CPU)."""

    def __init__(self, args: argparse.Namespace, inputs_dir: Path) -> None:
        from sd21_desktop.engine.inputs import InputImages
        from sd21_desktop.engine.runner import Engine

        self.engine = Engine(_runtime_options(args), allow_download=not args.offline)
        self.inputs = InputImages(inputs_dir)

    def generate(self, request: GenerationRequest, on_step: StepCallback) -> Any:
        return self.engine.generate(request, on_step=on_step, inputs=self.inputs)


class RayExecutor:
    """The actors of a Ray cluster (:mod:`sd21_desktop.ray_workers`): one job per actor at a
    time, so the batch runs as many jobs at once as there are actors."""

    def __init__(self, args: argparse.Namespace, inputs_dir: Path) -> None:
        from sd21_desktop.engine.inputs import InputImages
        from sd21_desktop.ray_workers.pool import RayEngine

        self.engine = RayEngine(
            _runtime_options(args),
            address=getattr(args, "ray_address", None),
            workers=getattr(args, "ray_workers", None),
            allow_download=not args.offline,
        )
        self.engine.send_previews = False  # the bar shows steps, not pictures
        self.inputs = InputImages(inputs_dir)
        self.workers = len(self.engine.workers)
        self.stopping = threading.Event()

    def generate(self, request: GenerationRequest, on_step: StepCallback) -> Any:
        return self.engine.generate(request, on_step, self.stopping.is_set, inputs=self.inputs)

    def stop(self) -> None:
        """Cancel the jobs that run (the remote step loops stop within a step)."""
        self.stopping.set()

    def close(self) -> None:
        self.stop()
        self.engine.close()


EXECUTORS: dict[str, Callable[[argparse.Namespace, Path], Executor]] = {
    "local": LocalExecutor,
    "ray": RayExecutor,
}
"""``--engine`` name → factory(args, inputs folder)."""
_PRINT_LOCK = threading.Lock()  # one JSON line at a time when jobs finish in several threads


@dataclass(frozen=True)
class BatchLine:
    job_id: str
    request: GenerationRequest


def read_jobs(path: Path, model: str | None = None) -> list[BatchLine]:
    """The file's requests, each checked; a bad line stops everything before anything runs."""
    from sd21_desktop.engine.request import GenerationRequest, random_seed

    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise UserFacingError(f"Cannot read {path}: {error.strerror or error}.") from None
    except UnicodeDecodeError:
        raise UserFacingError(f"{path} is not UTF-8 text.") from None
    jobs: list[BatchLine] = []
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        where = f"{path.name} line {number}"
        try:
            data = json.loads(text)
        except json.JSONDecodeError as error:
            raise UserFacingError(f"{where} is not JSON ({error.msg}).") from None
        if isinstance(data, dict) and isinstance(data.get("request"), dict):
            data = data["request"]
        if not isinstance(data, dict):
            raise UserFacingError(f"{where} is not a JSON object.")
        data = {"seed": random_seed(), **data, **({"model": model} if model else {})}
        try:
            request = GenerationRequest.from_dict(data)
        except UserFacingError as error:
            raise UserFacingError(f"{where}: {error}") from None
        digest = hashlib.sha256(f"{number}\n{text}\n{model or ''}".encode()).hexdigest()
        jobs.append(BatchLine(f"batch-{digest[:16]}", request))
    if not jobs:
        raise UserFacingError(f"{path} holds no requests.", "Write one JSON request per line.")
    return jobs


def _queue_jobs(store: JobStore, queue: str, lines: list[BatchLine]) -> list[StoredJob]:
    """Each line's row in the queue (added the first time; its stored request wins after)."""
    jobs = []
    for line in lines:
        stored = store.get(line.job_id)
        if stored is None:
            stored = store.add(queue, line.request, job_id=line.job_id)
        jobs.append(stored)
    return jobs


def run_batch(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    from tqdm import tqdm

    from sd21_desktop.gallery.queue_store import JobStore
    from sd21_desktop.paths import resolve_paths

    engine = getattr(args, "engine", None) or "local"
    if engine not in EXECUTORS:
        raise UserFacingError(
            f"There is no engine {engine!r}.", f"Use one of: {', '.join(sorted(EXECUTORS))}."
        )
    path = Path(args.jobs).expanduser()
    lines = read_jobs(path, getattr(args, "model", None))
    data_dir = getattr(args, "data_dir", None)
    paths = resolve_paths(data_dir).ensure()
    store = JobStore(
        paths.queue_path, on_problem=lambda text: print(f"warning: {text}", file=stderr)
    )
    for notice in store.notices:
        print(f"note: {notice}", file=stderr)
    from sd21_desktop.cli_gallery import _open_store

    gallery = _open_store(data_dir, stderr)
    try:
        jobs = _queue_jobs(store, f"batch:{path.resolve()}", lines)
        executor = EXECUTORS[engine](args, paths.inputs_dir)
        bar = tqdm(total=len(jobs), file=stderr, unit="job", desc="batch")
        counts = {"made": 0, "skipped": 0, "failed": 0}
        run = functools.partial(
            _run_one, executor=executor, store=store, gallery=gallery, bar=bar, stdout=stdout,
            as_json=args.json,
        )
        try:
            for outcome in _outcomes(jobs, run, executor):
                counts[outcome] += 1
                bar.update(1)
        finally:
            bar.close()
            close = getattr(executor, "close", None)
            if close is not None:
                close()
    finally:
        gallery.close()
        store.close()
    print(
        f"batch: {counts['made']} made, {counts['skipped']} already done, "
        f"{counts['failed']} failed",
        file=stderr,
    )
    return EXIT_USER if counts["failed"] else EXIT_OK


def _outcomes(
    jobs: list[StoredJob], run: Callable[[StoredJob], str], executor: Any
) -> Iterator[str]:
    """Each job's outcome: in order on one worker, else as they finish, one per worker at once."""
    workers = getattr(executor, "workers", 1)
    if workers <= 1:
        yield from map(run, jobs)
        return
    with ThreadPoolExecutor(workers, thread_name_prefix="batch") as pool:
        futures = [pool.submit(run, job) for job in jobs]
        try:
            for future in as_completed(futures):
                yield future.result()
        except BaseException:  # Ctrl+C, a full disk: what has not started stays pending,
            for future in futures:  # what runs is cancelled within a step (and run again later)
                future.cancel()
            executor.stop()
            raise


def _run_one(
    job: StoredJob,
    executor: Executor,
    store: JobStore,
    gallery: GalleryStore,
    bar: Any,
    stdout: TextIO,
    as_json: bool,
) -> str:
    """Run one job unless it is done; 'made', 'skipped' or 'failed'. A save the disk refuses
    stops the batch (every later job would fail the same way)."""
    from sd21_desktop.gallery.files import describe_write_error
    from sd21_desktop.gallery.metadata import job_records

    current = store.get(job.id) or job
    done = {**current.saved, **gallery.saved_by_job(job.id)}
    left = current.wanted() - done.keys()
    if current.state == "finished" or not left:
        store.set_state(job.id, "finished")
        return "skipped"
    store.set_state(job.id, "running")
    try:
        result = executor.generate(
            current.request, lambda info: bar.set_postfix_str(f"step {info.step}/{info.total}")
        )
    except UserFacingError as error:
        store.set_state(job.id, "failed", str(error))
        bar.write(f"error: job {job.id}: {error}")
        return "failed"
    for index, image, record in job_records(job.id, result):
        if index not in left:
            continue
        try:
            entry = gallery.add_image(image, record)
        except (OSError, sqlite3.Error) as error:
            reason = describe_write_error(error)
            store.set_state(job.id, "not_saved", reason)
            raise UserFacingError(
                f"Not saved: {reason}. The batch stopped; run it again to resume."
            ) from None
        store.record_saved(job.id, index, entry.id)
        if as_json:
            line = {
                "id": entry.id,
                "path": str(entry.path),
                "seed": record.seed,
                "batch_index": index,
                "job_id": job.id,
                "request": record.request.to_dict(),
                "runtime": entry.runtime,
                "timings": getattr(result, "timings", {}),
            }
            with _PRINT_LOCK:
                print(json.dumps(line, ensure_ascii=False), file=stdout, flush=True)
    store.set_state(job.id, "finished")
    return "made"
