"""``batch JOBS.jsonl`` on the tiny model: every line once, resumed after an interruption,
images already in the gallery skipped, bad files refused, a full disk stops the batch."""

from __future__ import annotations

import argparse
import errno
import io
import json
import os
from pathlib import Path
from typing import Any

import pytest

from sd21_desktop import cli_batch
from sd21_desktop.cli import main
from sd21_desktop.gallery import files
from sd21_desktop.gallery.queue_store import JobStore
from sd21_desktop.gallery.store import GalleryStore
from sd21_desktop.paths import resolve_paths


class Counting:
    """The local executor, counting its requests; raises Ctrl+C on call ``interrupt_at``."""

    calls: list[int] = []
    interrupt_at: int | None = None

    def __init__(self, args: argparse.Namespace, inputs_dir: Path) -> None:
        self.inner = cli_batch.LocalExecutor(args, inputs_dir)

    def generate(self, request: Any, on_step: Any) -> Any:
        Counting.calls.append(request.seed)
        if len(Counting.calls) == Counting.interrupt_at:
            raise KeyboardInterrupt
        return self.inner.generate(request, on_step)


@pytest.fixture
def counting(monkeypatch: pytest.MonkeyPatch) -> type[Counting]:
    Counting.calls, Counting.interrupt_at = [], None
    monkeypatch.setitem(cli_batch.EXECUTORS, "local", Counting)
    return Counting


@pytest.fixture
def jobs_file(tmp_path: Path, tiny_model_dir: Path) -> Path:
    base = {"model": str(tiny_model_dir), "steps": 2, "width": 64, "height": 64}
    record = {"id": 3, "seed": 7, "request": {**base, "prompt": "from a --json record", "seed": 7}}
    lines = [
        json.dumps(record),
        "",
        "# a comment",
        json.dumps({**base, "prompt": "two at once", "seed": 20, "batch_size": 2}),
        json.dumps({**base, "prompt": "no seed given"}),
    ]
    path = tmp_path / "jobs.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def run(data_dir: Path, *args: str) -> tuple[int, list[dict[str, Any]], str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(["--data-dir", str(data_dir), "batch", *args], out, err)
    return status, [json.loads(line) for line in out.getvalue().splitlines()], err.getvalue()


def _gallery(data_dir: Path) -> list[tuple[str, int]]:
    with GalleryStore(resolve_paths(data_dir)) as gallery:
        return sorted((e.runtime.get("job_id"), e.batch_index) for e in gallery.search(limit=100))


def test_each_line_runs_once_and_a_second_run_skips_them(
    jobs_file: Path, data_dir: Path, counting: type[Counting]
) -> None:
    status, records, err = run(data_dir, str(jobs_file), "--json")
    assert status == 0, err
    assert [(r["seed"], r["batch_index"]) for r in records[:3]] == [(7, 0), (20, 0), (21, 1)]
    assert records[0]["request"]["prompt"] == "from a --json record"
    assert "batch: 3 made, 0 already done, 0 failed" in err
    made = _gallery(data_dir)
    assert len(made) == 4 == len(set(made))
    random_seed = records[3]["seed"]
    status, records, err = run(data_dir, str(jobs_file), "--json")
    assert (status, records) == (0, [])
    assert "batch: 0 made, 3 already done" in err
    assert _gallery(data_dir) == made
    assert counting.calls == [7, 20, random_seed]  # the line without a seed kept its first one


def test_an_interrupted_batch_resumes_where_it_stopped(
    jobs_file: Path, data_dir: Path, counting: type[Counting]
) -> None:
    counting.interrupt_at = 2
    status, _, err = run(data_dir, str(jobs_file))
    assert status == 130, err
    assert len(_gallery(data_dir)) == 1
    store = JobStore(resolve_paths(data_dir).queue_path)
    assert sorted(job.state for job in store.jobs(f"batch:{jobs_file.resolve()}")) == [
        "finished",
        "pending",
        "running",
    ]
    store.close()
    counting.interrupt_at = None
    status, _, err = run(data_dir, str(jobs_file))
    assert status == 0, err
    assert "batch: 2 made, 1 already done" in err
    made = _gallery(data_dir)
    assert len(made) == 4 == len(set(made))
    assert counting.calls[:2] == [7, 20]
    assert counting.calls[2:] == [20, counting.calls[3]]  # the interrupted one again, the last


def test_images_in_the_gallery_are_skipped_even_without_the_queue_file(
    jobs_file: Path, data_dir: Path, counting: type[Counting]
) -> None:
    assert run(data_dir, str(jobs_file))[0] == 0
    for path in data_dir.glob("queue.sqlite3*"):
        path.unlink()
    calls = len(counting.calls)
    jobs_file.write_text(
        jobs_file.read_text().replace('"no seed given"', '"now seeded", "seed": 3')
    )
    status, _, err = run(data_dir, str(jobs_file))
    assert status == 0, err
    assert "batch: 1 made, 2 already done" in err  # only the edited line is new
    assert len(counting.calls) == calls + 1


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"prompt": "ok"}\n{"prompt": "half', "jobs.jsonl line 2 is not JSON"),
        ('{"prompt": "ok"}\n[1, 2]', "jobs.jsonl line 2 is not a JSON object"),
        ('{"prompt": "ok", "steps": 0}', "jobs.jsonl line 1: "),
        ("\n# nothing\n", "holds no requests"),
    ],
)
def test_a_bad_file_is_refused_before_anything_runs(
    tmp_path: Path, data_dir: Path, counting: type[Counting], text: str, message: str
) -> None:
    path = tmp_path / "jobs.jsonl"
    path.write_text(text)
    status, _, err = run(data_dir, str(path))
    assert status == 2
    assert err.startswith("error: ")
    assert message in err
    assert len(err.splitlines()) == 1
    assert counting.calls == []
    assert not (data_dir / "queue.sqlite3").exists()
    assert run(data_dir, str(tmp_path / "missing.jsonl"))[0] == 2


def test_a_full_disk_stops_the_batch_and_a_later_run_saves(
    jobs_file: Path, data_dir: Path, counting: type[Counting], monkeypatch: pytest.MonkeyPatch
) -> None:
    real_open = open

    def full(path: Any, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if "w" in mode:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr(files, "open", full, raising=False)
    status, _, err = run(data_dir, str(jobs_file))
    assert status == 2
    assert "Not saved: The disk is full" in err
    assert "run it again to resume" in err
    assert counting.calls == [7]  # stopped: the next jobs could not be saved either
    assert _gallery(data_dir) == []
    store = JobStore(resolve_paths(data_dir).queue_path)
    states = [job.state for job in store.jobs(f"batch:{jobs_file.resolve()}")]
    store.close()
    assert states == ["not_saved", "pending", "pending"]
    monkeypatch.undo()
    status, _, err = run(data_dir, str(jobs_file))
    assert status == 0, err
    assert len(_gallery(data_dir)) == 4
