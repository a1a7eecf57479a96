"""A long queue through the real window: 200 jobs on the tiny model, offscreen.

    python bench/queue_soak.py [--jobs 200] [--steps 1] [--size 64]

Reports the process RSS after 20 finished jobs and after all of them (target growth <= 50 MB),
the lateness of a 10 ms GUI-thread timer over the whole run (target p99 <= 16 ms), and what
persisting one job state change costs on the GUI thread, timed inside the run (target <= 2 ms).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p * len(ordered)))]


def timed(function: Callable[..., Any], into: list[float]) -> Callable[..., Any]:
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            into.append((time.perf_counter() - started) * 1000)

    return wrapper


def isolated_writes(store: Any, count: int = 500) -> list[float]:
    """The same state change, timed alone on an idle queue."""
    job = store.jobs("gui")[0]
    costs: list[float] = []
    for index in range(count):
        started = time.perf_counter()
        store.set_state(job.id, ("running", "finished")[index % 2])
        costs.append((time.perf_counter() - started) * 1000)
    return costs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--steps", type=int, default=1)
    parser.add_argument("--size", type=int, default=64)
    args = parser.parse_args()

    import psutil
    from PySide6.QtCore import QElapsedTimer, QTimer

    from sd21_desktop.app import create_app
    from sd21_desktop.engine.synthetic import save_synthetic_model

    work = Path(tempfile.mkdtemp())
    model = str(save_synthetic_model(work / "tiny"))
    app, window = create_app(["--model", model, "--data-dir", str(work / "data")])
    window.show()
    queue: Any = window.queue
    writes: list[float] = []
    plain_set_state = queue.store.set_state
    queue.store.set_state = timed(plain_set_state, writes)
    params = window.parameters
    params.steps_spin.setValue(args.steps)
    params.set_size(args.size, args.size)
    window.prompt_editor.set_prompts("a long queue of small boats at dawn", "")

    process = psutil.Process()
    clock = QElapsedTimer()
    clock.start()
    lateness: list[float] = []
    last = [0.0]
    rss: dict[int, float] = {}
    finished = [0]
    started = time.perf_counter()

    idle: list[float] = []
    alone: list[float] = []
    samples = [lateness]

    def tick() -> None:
        now = clock.nsecsElapsed() / 1e6
        if last[0] and finished[0]:  # from the first finished job: torch's import is not ours
            samples[0].append(max(0.0, now - last[0] - 10.0))
        last[0] = now

    def measure_idle() -> None:
        """The reference: the same timer with the queue empty, on the same (shared) machine."""
        samples[0] = idle
        QTimer.singleShot(10_000, finish)

    def finish() -> None:
        queue.store.set_state = plain_set_state  # the lone writes are timed apart
        alone.extend(isolated_writes(queue.store))  # before quitting closes the store
        app.quit()

    def on_state(job_id: str, state: str) -> None:
        if state != "finished":
            return
        finished[0] += 1
        if finished[0] in (20, args.jobs):
            rss[finished[0]] = process.memory_info().rss / 2**20
        if finished[0] == args.jobs:
            QTimer.singleShot(0, measure_idle)

    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(tick)
    queue.job_state_changed.connect(on_state)

    def queue_all() -> None:
        for _ in range(args.jobs):
            window.generate()  # random seed each: 200 different jobs
        timer.start()

    QTimer.singleShot(100, queue_all)
    app.exec()
    elapsed = time.perf_counter() - started
    window.close()
    if finished[0] < args.jobs:
        sys.exit(f"only {finished[0]} of {args.jobs} jobs finished")
    print(
        f"{args.jobs} jobs ({args.steps} step, {args.size}x{args.size}, tiny SD2 model) "
        f"through the real window in {elapsed:.1f}s"
    )
    growth = rss[args.jobs] - rss[20]
    print(
        f"RSS after 20 jobs {rss[20]:.1f} MB, after {args.jobs} {rss[args.jobs]:.1f} MB: "
        f"growth {growth:+.1f} MB (target <= 50)"
    )
    print(
        f"10 ms GUI timer lateness over the run ({len(lateness)} ticks): p50 "
        f"{statistics.median(lateness):.2f} ms, p99 {percentile(lateness, 0.99):.2f} ms, max "
        f"{max(lateness):.2f} ms (target p99 <= 16); idle reference afterwards, same process: "
        f"p50 {statistics.median(idle):.2f} ms, p99 {percentile(idle, 0.99):.2f} ms"
    )
    print(
        f"persisting a job state change on the GUI thread ({len(writes)} writes): median "
        f"{statistics.median(writes):.3f} ms, p99 {percentile(writes, 0.99):.3f} ms, max "
        f"{max(writes):.3f} ms (target <= 2); alone after the run ({len(alone)} writes): "
        f"median {statistics.median(alone):.3f} ms, p99 {percentile(alone, 0.99):.3f} ms"
    )


if __name__ == "__main__":
    main()
