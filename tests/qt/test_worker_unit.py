"""The worker's own rules, with a scripted engine: out-of-memory retry, failures, re-run keep."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from PIL import Image
from PySide6.QtCore import QCoreApplication

from sd21_desktop.engine.device import RuntimeOptions
from sd21_desktop.engine.request import GenerationRequest
from sd21_desktop.errors import OutOfMemoryError
from sd21_desktop.qt.download_progress import status_tqdm_class
from sd21_desktop.qt.worker import EngineWorker

REQUEST = GenerationRequest(
    prompt="x", model="m/x", seed=5, steps=2, width=64, height=64, batch_size=3
)


@dataclass
class FakeResult:
    request: GenerationRequest
    images: list[Any]
    seeds: list[int]
    timings: dict[str, float] = field(
        default_factory=lambda: {"total_s": 1.0, "median_step_s": 0.5}
    )
    batch_indices: list[int] = field(default_factory=lambda: [0, 1, 2])


class ScriptedEngine:
    """Fails with out-of-memory ``failures`` times, then succeeds; records the options used."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.options = RuntimeOptions()
        self.used: list[RuntimeOptions] = []

    def generate(self, request: GenerationRequest, *args: Any, **kwargs: Any) -> FakeResult:
        self.used.append(self.options)
        if len(self.used) <= self.failures:
            raise OutOfMemoryError("Out of memory on cuda.", "Lower the size.")
        colours = [(10, 0, 0), (0, 20, 0), (0, 0, 30)]
        return FakeResult(request, [Image.new("RGB", (8, 8), c) for c in colours], [5, 6, 7])


def run(worker: EngineWorker, keep: int = -1) -> dict[str, list[Any]]:
    seen: dict[str, list[Any]] = {"finished": [], "failed": [], "status": []}
    worker.finished.connect(lambda job, images: seen["finished"].append(images))
    worker.failed.connect(lambda job, message: seen["failed"].append(message))
    worker.status_changed.connect(seen["status"].append)
    worker.run_job("job", REQUEST, threading.Event(), keep)
    QCoreApplication.processEvents()
    return seen


def saver(image: Any, record: Any) -> tuple[str, Any]:
    return f"/tmp/{record.seed}.png", None


def test_out_of_memory_retries_once_with_slicing_and_tiling(qapp: Any) -> None:
    worker = EngineWorker(RuntimeOptions(), saver)
    engine = ScriptedEngine(failures=1)
    worker._engine = engine
    seen = run(worker)
    assert len(seen["finished"]) == 1
    assert not engine.used[0].attention_slicing
    assert engine.used[1].attention_slicing
    assert engine.used[1].vae_tiling
    assert any("retrying once" in text for text in seen["status"])
    assert not engine.options.attention_slicing  # the user's settings are back afterwards


def test_out_of_memory_twice_says_what_to_lower(qapp: Any) -> None:
    worker = EngineWorker(RuntimeOptions(), saver)
    worker._engine = ScriptedEngine(failures=2)
    seen = run(worker)
    assert seen["finished"] == []
    assert "Out of memory" in seen["failed"][0]
    assert "Lower" in seen["failed"][0]


def test_rerun_keeps_only_the_chosen_batch_image(qapp: Any) -> None:
    worker = EngineWorker(RuntimeOptions(), saver)
    worker._engine = ScriptedEngine(failures=0)
    seen = run(worker, keep=1)
    (images,) = seen["finished"]
    assert [(image.seed, image.batch_index) for image in images] == [(6, 1)]
    assert images[0].image.pixelColor(0, 0).green() == 20


def test_an_unexpected_engine_error_becomes_a_failed_signal(qapp: Any) -> None:
    class Broken:
        options = RuntimeOptions()

        def generate(self, *args: Any, **kwargs: Any) -> None:
            raise RuntimeError("boom")

    worker = EngineWorker(RuntimeOptions(), saver)
    worker._engine = Broken()
    seen = run(worker)
    assert seen["failed"] == ["Generation failed: RuntimeError: boom"]


def test_download_progress_reports_bytes_total_and_speed() -> None:
    reports: list[str] = []
    bar_class = status_tqdm_class(reports.append)
    bar = bar_class(total=5 * 1024**3, unit="B", mininterval=0)
    bar.update(1024**3)
    bar.close()
    assert any(
        "Downloading model: 1.0 GB of 5.0 GB at" in text and "/s" in text for text in reports
    )


def test_progress_covers_the_whole_plan_and_each_stage_is_announced_once(qapp: Any) -> None:
    import torch

    from sd21_desktop.engine.context import StepInfo

    latents = torch.zeros(1, 4, 8, 8)

    class TwoStages(ScriptedEngine):
        def generate(self, request: GenerationRequest, *args: Any, **kwargs: Any) -> FakeResult:
            on_step = args[0]
            for step, stage in enumerate(["denoise 1/2"] * 3 + ["denoise 2/2"] * 2, start=1):
                on_step(StepInfo(step, 5, step * 0.5, latents, stage))
            return super().generate(request)

    worker = EngineWorker(RuntimeOptions(), saver)
    worker._engine = TwoStages(failures=0)
    stages: list[str] = []
    progress: list[tuple[int, int]] = []
    worker.stage_changed.connect(lambda job, stage: stages.append(stage))
    worker.progress.connect(lambda job, step, total, rate, eta: progress.append((step, total)))
    seen = run(worker)
    assert len(seen["finished"]) == 1
    assert stages == ["denoise 1/2", "denoise 2/2"]
    assert progress == [(step, 5) for step in range(1, 6)]


def test_the_local_engine_collects_a_dropped_model_on_the_gui_thread(qapp: Any) -> None:
    from sd21_desktop.qt.gui_collector import collect_on_gui_thread

    worker = EngineWorker(RuntimeOptions(), saver)
    assert worker._ensure_engine().cache.collect_garbage is collect_on_gui_thread
