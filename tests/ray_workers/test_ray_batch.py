"""``batch --engine ray``: 20 jobs over two actors land in the gallery once each, a killed
actor's job runs again on the other, a batch stopped mid-way and restarted makes no duplicates,
and choosing Ray without Ray installed says how to install it."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from sd21_desktop import cli_batch
from sd21_desktop.paths import resolve_paths
from tests.conftest import REPO_ROOT
from tests.test_cli_batch import _gallery, run

JOBS = 20


@pytest.fixture
def jobs_file(tmp_path: Path, tiny_model_dir: Path) -> Path:
    base = {"model": str(tiny_model_dir), "steps": 2, "width": 64, "height": 64}
    lines = [json.dumps({**base, "prompt": f"job {n}", "seed": 100 + n}) for n in range(JOBS)]
    path = tmp_path / "jobs.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


class KillingOnce(cli_batch.RayExecutor):
    """The Ray executor; kills one of its actors at the first step after ``kill_after`` steps."""

    made: list[KillingOnce] = []
    kill_after = 8

    def __init__(self, args: argparse.Namespace, inputs_dir: Path) -> None:
        super().__init__(args, inputs_dir)
        self.steps = 0
        self.killed = False
        KillingOnce.made.append(self)

    def generate(self, request: Any, on_step: Any) -> Any:
        import ray

        def step(info: Any) -> None:
            self.steps += 1
            if self.steps >= self.kill_after and not self.killed:
                self.killed = True
                ray.kill(self.engine.workers[0].handle, no_restart=True)
            on_step(info)

        return super().generate(request, step)


def test_twenty_jobs_on_two_actors_run_once_each_even_when_an_actor_is_killed(
    ray_session: Any, jobs_file: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    KillingOnce.made = []
    monkeypatch.setitem(cli_batch.EXECUTORS, "ray", KillingOnce)
    status, records, err = run(
        data_dir, str(jobs_file), "--engine", "ray", "--ray-workers", "2", "--json"
    )
    assert status == 0, err
    assert f"batch: {JOBS} made, 0 already done, 0 failed" in err
    (executor,) = KillingOnce.made
    assert executor.killed
    assert executor.engine.retries == 1  # the killed actor's job ran again on another
    job_ids = [record["job_id"] for record in records]
    assert len(job_ids) == JOBS == len(set(job_ids))
    made = _gallery(data_dir)
    assert len(made) == JOBS == len(set(made))
    assert sorted(record["seed"] for record in records) == [100 + n for n in range(JOBS)]


def _gallery_pngs(data_dir: Path) -> int:
    return sum(1 for _ in resolve_paths(data_dir).gallery_dir.rglob("*.png"))


def test_a_batch_stopped_mid_way_and_restarted_makes_no_duplicates(
    ray_session: Any, jobs_file: Path, data_dir: Path
) -> None:
    """The batch's process (the Ray driver, owner of its actors) is killed mid-batch: its actors
    and the jobs in flight go with it, as when the cluster stops; a second run finishes."""
    address = ray_session.get_runtime_context().gcs_address
    assert address.startswith("127.0.0.1:")
    env = {**os.environ, "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "PYTHONPATH": str(REPO_ROOT)}
    command = [
        sys.executable, "-m", "sd21_desktop", "--data-dir", str(data_dir), "batch",
        str(jobs_file), "--engine", "ray", "--ray-address", address, "--ray-workers", "2",
    ]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=REPO_ROOT
    )
    try:
        deadline = time.monotonic() + 300
        while _gallery_pngs(data_dir) < 4 and process.poll() is None:
            assert time.monotonic() < deadline, "the batch made no images in 5 minutes"
            time.sleep(0.2)
        process.send_signal(signal.SIGKILL)
    finally:
        process.kill()
        _, err = process.communicate()
    before = _gallery_pngs(data_dir)
    assert 4 <= before < JOBS, err.decode(errors="replace")[-2000:]
    status, _, err_text = run(data_dir, str(jobs_file), "--engine", "ray", "--ray-workers", "2")
    assert status == 0, err_text
    made = _gallery(data_dir)
    assert len(made) == JOBS == len(set(made))
    assert _gallery_pngs(data_dir) == JOBS
    assert f"batch: {JOBS - before} made, {before} already done" in err_text


def test_choosing_ray_without_ray_installed_says_how_to_install_it(
    jobs_file: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # "import ray" raises ImportError
    status, _, err = run(data_dir, str(jobs_file), "--engine", "ray")
    assert status == 2
    assert len(err.strip().splitlines()) == 1
    assert "needs Ray, which is not installed" in err
    assert "pip install 'sd21-desktop[ray]'" in err


def test_an_unknown_engine_is_refused_in_one_line(jobs_file: Path, data_dir: Path) -> None:
    status, _, err = run(data_dir, str(jobs_file), "--engine", "cloud")
    assert status == 2
    assert len(err.strip().splitlines()) == 1
    assert "invalid choice: 'cloud'" in err
    assert "local" in err
    assert "ray" in err


def test_engine_ray_on_a_command_that_does_not_use_it_is_refused(data_dir: Path) -> None:
    import io

    from sd21_desktop.cli import main

    err = io.StringIO()
    status = main(
        ["--engine", "ray", "--data-dir", str(data_dir), "generate", "--prompt", "x"],
        io.StringIO(), err,
    )
    assert status == 2
    assert "--engine ray runs the window's jobs and batch, not generate" in err.getvalue()
    assert len(err.getvalue().strip().splitlines()) == 1
