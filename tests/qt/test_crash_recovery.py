"""SIGKILL the real app at random moments (during a step, during a save, between jobs) with a
queue of jobs on the tiny model, ten times: after each kill every job is either in the gallery
exactly once per batch image or still queued, and the next start asks about the right counts."""

from __future__ import annotations

import os
import queue
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from sd21_desktop.engine.request import GenerationRequest
from sd21_desktop.gallery.queue_store import GUI_QUEUE, JobStore
from sd21_desktop.gallery.store import GalleryStore
from sd21_desktop.paths import resolve_paths
from sd21_desktop.ui.queue_panel import recovery_text
from tests.conftest import REPO_ROOT

KILLS = 10
LINE_TIMEOUT_S = 120.0



class App:
    """The driver in a subprocess, its stdout read line by line on a thread."""

    def __init__(self, data_dir: Path, model: Path) -> None:
        env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "QT_QPA_PLATFORM": "offscreen"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.qt.crash_driver", str(data_dir), str(model)],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))
        self.lines.put("EOF")

    def next_line(self) -> str:
        return self.lines.get(timeout=LINE_TIMEOUT_S)

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)


def _queue_jobs(data_dir: Path, model: Path) -> dict[str, GenerationRequest]:
    store = JobStore(resolve_paths(data_dir).ensure().queue_path)
    jobs = {}
    for number in range(12):
        request = GenerationRequest(
            prompt=f"crash test {number}",
            model=str(model),
            seed=100 + number * 10,
            steps=3,
            width=64,
            height=64,
            batch_size=2 if number % 3 == 0 else 1,
        )
        jobs[store.add(GUI_QUEUE, request).id] = request
    store.close()
    return jobs


def _check(data_dir: Path, jobs: dict[str, GenerationRequest]) -> dict[str, str]:
    """The invariant after a kill; returns each job's state in the queue's table."""
    paths = resolve_paths(data_dir)
    with GalleryStore(paths) as gallery:  # opening adds PNGs whose index row was lost
        saved = {job_id: gallery.saved_by_job(job_id) for job_id in jobs}
        entries = gallery.count()
    connection = sqlite3.connect(paths.database_path)
    rows = connection.execute(
        "SELECT json_extract(runtime_json, '$.job_id'), batch_index, COUNT(*) FROM entries "
        "GROUP BY 1, 2 HAVING COUNT(*) > 1"
    ).fetchall()
    connection.close()
    assert rows == [], f"duplicate images: {rows}"
    files = [p for p in paths.gallery_dir.rglob("*.png") if not p.name.startswith(".")]
    assert len(files) == entries
    states = {}
    store = JobStore(paths.queue_path)
    for job_id, request in jobs.items():
        stored = store.get(job_id)
        complete = set(saved[job_id]) == set(range(request.batch_size))
        states[job_id] = stored.state if stored is not None else "gone"
        assert complete or states[job_id] in ("pending", "running"), (job_id, states[job_id])
    store.close()
    return states


def _expected_prompt(states: dict[str, str]) -> str:
    from sd21_desktop.gallery.queue_store import Recovery

    waiting = sum(state in ("pending", "not_saved") for state in states.values())
    running = sum(state == "running" for state in states.values())
    if waiting + running == 0:
        return "none"
    return recovery_text(Recovery(True, waiting, running, ()))


def _run_until(app: App, kind: str, rng: random.Random) -> bool:
    """Read events until the chosen moment, then SIGKILL; False when the app finished first."""
    wanted = {"step": "STEP", "save": "SAVE", "between": "STATE"}[kind]
    skip = rng.randrange(0, 3)
    while True:
        line = app.next_line()
        if line in ("IDLE", "EOF"):
            app.process.wait(timeout=60)
            return False
        event = line.split()
        if event[0] != wanted or (kind == "between" and event[-1] != "finished"):
            continue
        if skip:
            skip -= 1
            continue
        time.sleep(rng.uniform(0, 0.03))
        app.kill()
        return True


def test_sigkill_ten_times_loses_no_job_and_duplicates_no_image(
    data_dir: Path, tiny_model_dir: Path
) -> None:
    jobs = _queue_jobs(data_dir, tiny_model_dir)
    rng = random.Random(2323)
    expected = f"{len(jobs)} jobs are still queued from last time."
    kills = 0
    for attempt in range(KILLS + 1):
        app = App(data_dir, tiny_model_dir)
        first = app.next_line()
        assert first.startswith("RECOVERY ")
        shown = first.removeprefix("RECOVERY ")
        assert shown.startswith(expected), (attempt, shown, expected)
        if attempt == KILLS or not _run_until(app, ("step", "save", "between")[attempt % 3], rng):
            break
        kills += 1
        states = _check(data_dir, jobs)
        expected = _expected_prompt(states)
    if app.process.poll() is None:
        while app.next_line() not in ("IDLE", "EOF"):
            pass
        app.process.wait(timeout=60)
    assert kills >= 5, "the queue finished before enough kills: make the jobs longer"
    states = _check(data_dir, jobs)
    assert set(states.values()) <= {"finished", "gone"}
    with GalleryStore(resolve_paths(data_dir)) as gallery:
        assert gallery.count() == sum(request.batch_size for request in jobs.values())
