"""Per-step cost of the worker (signals + throttled previews) against the bare engine.

    python bench/worker_overhead.py [--size 64] [--steps 30] [--repeats 5]

Both run the same request in the same thread, alternating; the worker path adds the progress
signal every step and a latents → RGB preview at most 10 times a second. Target: within 3 %.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    from PySide6.QtCore import QCoreApplication

    from sd21_desktop.engine.device import RuntimeOptions
    from sd21_desktop.engine.request import GenerationRequest
    from sd21_desktop.engine.runner import Engine
    from sd21_desktop.engine.synthetic import save_synthetic_model
    from sd21_desktop.qt.worker import EngineWorker

    app = QCoreApplication.instance() or QCoreApplication([])
    folder = save_synthetic_model(Path(tempfile.mkdtemp()) / "tiny")
    request = GenerationRequest(
        prompt="overhead probe",
        model=str(folder),
        seed=1,
        steps=args.steps,
        width=args.size,
        height=args.size,
    )
    engine = Engine()
    worker = EngineWorker(RuntimeOptions(), lambda image, record: ("", None))
    worker._engine = engine  # share the loaded pipeline: only the per-step path differs
    previews: list[int] = []
    worker.preview.connect(lambda job, image: previews.append(1))

    def bare() -> float:
        started = time.perf_counter()
        engine.generate(request, on_step=lambda info: None, should_cancel=lambda: False)
        return (time.perf_counter() - started) / args.steps

    def through_worker() -> float:
        started = time.perf_counter()
        worker.run_job("bench", request, threading.Event())
        app.processEvents()
        return (time.perf_counter() - started) / args.steps

    bare(), through_worker()
    bare_times, worker_times = [], []
    for _ in range(args.repeats):
        bare_times.append(bare())
        worker_times.append(through_worker())
    bare_median, worker_median = statistics.median(bare_times), statistics.median(worker_times)
    print(
        f"tiny SD2 model, {args.size}x{args.size}, {args.steps} steps, {args.repeats} repeats; "
        f"{len(previews)} previews emitted"
    )
    print(
        f"bare engine: {bare_median * 1000:.2f} ms/step; "
        f"worker: {worker_median * 1000:.2f} ms/step; "
        f"ratio {worker_median / bare_median:.4f} (target <= 1.03)"
    )


if __name__ == "__main__":
    main()
