"""The Ray engine on a local instance (127.0.0.1, CPU actors, tiny models): loopback only, the
same pixels as the local engine in every mode, steps in order, cancel within one step, inputs
sent once per worker, a killed actor's job retried on the other."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sd21_desktop.engine.device import RuntimeOptions
from sd21_desktop.engine.inputs import InputImages
from sd21_desktop.engine.request import GenerationRequest
from sd21_desktop.engine.runner import Engine
from sd21_desktop.errors import GenerationCancelled
from tests.engine.test_img2img import box_mask, picture

BASE = {"prompt": "a fox", "negative_prompt": "blurry", "seed": 42, "steps": 3,
        "guidance_scale": 6.0, "scheduler": "ddim"}


@pytest.fixture(scope="module")
def local_engine() -> Engine:
    return Engine(RuntimeOptions(device="cpu"), allow_download=False)


@contextlib.contextmanager
def like_an_actor() -> Iterator[None]:
    """One torch thread, as a one-CPU actor has: the VAE encoder's sums depend on the thread
    count (img2img differs by 1/255 in a few pixels between 1 and 2 threads, measured)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def test_every_node_ray_reports_is_loopback(ray_session: Any, ray_engine: Any) -> None:
    from sd21_desktop.ray_workers.cluster import node_addresses

    addresses = node_addresses()
    assert addresses
    assert set(addresses) == {"127.0.0.1"}
    assert {actor["node"] for actor in ray_engine.wait_ready()} == {"127.0.0.1"}


def _requests(models: dict[str, Path], store: InputImages) -> dict[str, GenerationRequest]:
    init = store.put(picture(64, 64))
    mask = store.put(box_mask(64, 64, (16, 16, 48, 48)))
    small = store.put(picture(16, 16, seed=3))
    size = {"width": 64, "height": 64}
    return {
        "txt2img": GenerationRequest(**BASE, **size, model=str(models["v"]), batch_size=2),
        "img2img": GenerationRequest(
            **BASE, **size, model=str(models["v"]), mode="img2img", init_image=init, strength=0.7
        ),
        "inpaint": GenerationRequest(
            **BASE, **size, model=str(models["inpaint"]), mode="inpaint", init_image=init,
            mask_image=mask, strength=0.8,
        ),
        "depth": GenerationRequest(
            **BASE, **size, model=str(models["depth"]), mode="depth", init_image=init
        ),
        "upscale": GenerationRequest(
            **BASE, model=str(models["upscale"]), mode="upscale", init_image=small,
            noise_level=30,
        ),
    }


@pytest.fixture(scope="module")
def models(
    tiny_model_dir: Path,
    tiny_inpaint_model_dir: Path,
    tiny_depth_model_dir: Path,
    tiny_upscale_model_dir: Path,
) -> dict[str, Path]:
    return {
        "v": tiny_model_dir,
        "inpaint": tiny_inpaint_model_dir,
        "depth": tiny_depth_model_dir,
        "upscale": tiny_upscale_model_dir,
    }


@pytest.mark.parametrize("mode", ["txt2img", "img2img", "inpaint", "depth", "upscale"])
def test_a_job_through_ray_equals_the_local_engine_pixel_for_pixel(
    mode: str, ray_engine: Any, local_engine: Engine, models: dict[str, Path], tmp_path: Path
) -> None:
    local_store = InputImages(tmp_path / "local")
    remote_store = InputImages(tmp_path / "client")
    request = _requests(models, local_store)[mode]
    _requests(models, remote_store)  # the client's own folder holds the same inputs
    with like_an_actor():
        expected = local_engine.generate(request, inputs=local_store)
    steps: list[tuple[int, int]] = []
    result = ray_engine.generate(
        request, lambda info: steps.append((info.step, info.total)), inputs=remote_store
    )
    assert len(result.images) == len(expected.images) == request.batch_size
    for ours, theirs in zip(result.images, expected.images, strict=True):
        assert ours.size == theirs.size
        assert np.array_equal(np.asarray(ours), np.asarray(theirs))
    assert result.seeds == expected.seeds
    assert result.request == expected.request  # depth: names the same estimated map
    assert result.runtime == expected.runtime
    for digest in result.request.input_hashes():  # an estimated depth map came back too
        assert remote_store.get(digest) == local_store.get(digest)
    total = steps[-1][1]
    assert steps == [(step, total) for step in range(1, total + 1)]  # in order, complete


def test_previews_are_those_of_the_local_engine(
    ray_engine: Any, local_engine: Engine, tiny_model_dir: Path
) -> None:
    from sd21_desktop.engine.preview import latents_to_rgb

    request = GenerationRequest(**BASE, model=str(tiny_model_dir), width=64, height=64)
    local: list[np.ndarray] = []
    remote: list[np.ndarray] = []
    local_engine.generate(request, lambda info: local.append(latents_to_rgb(info.latents)))
    ray_engine.generate(request, lambda info: remote.append(latents_to_rgb(info.latents)))
    assert len(local) == len(remote) == 3
    for ours, theirs in zip(remote, local, strict=True):
        assert np.array_equal(ours, theirs)


def test_cancel_reaches_the_remote_step_loop_within_one_step(
    ray_engine: Any, tiny_model_dir: Path
) -> None:
    from sd21_desktop.ray_workers import pool

    request = GenerationRequest(**{**BASE, "steps": 40}, model=str(tiny_model_dir),
                                width=64, height=64)
    cancel = threading.Event()
    seen: list[int] = []
    endings: list[Any] = []
    original = pool._finish

    def spy(event: Any, local: Any) -> Any:
        endings.append(event)
        return original(event, local)

    def on_step(info: Any) -> None:
        seen.append(info.step)
        if info.step == 3:
            cancel.set()

    pool._finish = spy  # type: ignore[assignment]
    try:
        with pytest.raises(GenerationCancelled):
            ray_engine.generate(request, on_step, cancel.is_set)
    finally:
        pool._finish = original  # type: ignore[assignment]
    assert endings[0].steps_after_cancel <= 1
    assert max(seen) < 40
    # The actors are free again at once: the next job runs.
    again = ray_engine.generate(request.replace(steps=2))
    assert len(again.images) == 1


def test_inputs_travel_once_per_worker(
    ray_engine: Any, tiny_model_dir: Path, tmp_path: Path
) -> None:
    store = InputImages(tmp_path / "inputs")
    init = store.put(picture(64, 64, seed=11))
    request = GenerationRequest(
        **{**BASE, "steps": 2}, model=str(tiny_model_dir), mode="img2img", init_image=init,
        width=64, height=64,
    )
    before = ray_engine.bytes_sent
    size = store.path(init).stat().st_size
    for _ in range(4):
        ray_engine.generate(request, inputs=store)
    holders = [w for w in ray_engine.workers if init in w.inputs]
    assert ray_engine.bytes_sent - before == size * len(holders)
    assert 1 <= len(holders) <= 2


def test_a_killed_actor_s_job_is_retried_on_another(
    ray_session: Any, ray_engine: Any, tiny_model_dir: Path
) -> None:
    request = GenerationRequest(**{**BASE, "steps": 6}, model=str(tiny_model_dir),
                                width=64, height=64)
    before = list(ray_engine.workers)
    retries = ray_engine.retries
    killed: list[Any] = []
    statuses: list[str] = []

    def on_step(info: Any) -> None:
        if not killed:
            (running,) = [w for w in ray_engine.workers if w.busy]
            killed.append(running)
            ray_session.kill(running.handle, no_restart=True)

    result = ray_engine.generate(request, on_step, on_status=statuses.append)
    assert ray_engine.retries == retries + 1
    assert killed[0] not in ray_engine.workers  # replaced, so the pool keeps two actors
    assert len(ray_engine.workers) == 2
    assert ray_engine.workers != before
    assert "retrying the job on another" in statuses[0]
    with like_an_actor():
        expected = Engine(RuntimeOptions(device="cpu")).generate(request)
    assert np.array_equal(np.asarray(result.images[0]), np.asarray(expected.images[0]))


def test_a_worker_estimates_the_same_depth_map_and_explains_a_wrong_model(
    ray_engine: Any, local_engine: Engine, tiny_depth_model_dir: Path, tiny_model_dir: Path
) -> None:
    from sd21_desktop.errors import UserFacingError

    image = picture(64, 64, seed=5)
    with like_an_actor():
        expected = local_engine.estimate_depth(image, str(tiny_depth_model_dir))
    remote = ray_engine.estimate_depth(image, str(tiny_depth_model_dir))
    assert np.array_equal(np.asarray(remote), np.asarray(expected))
    with pytest.raises(UserFacingError, match="not a depth-to-image model"):
        ray_engine.estimate_depth(image, str(tiny_model_dir))


def test_a_job_lost_on_two_workers_fails_with_a_clear_message(
    ray_session: Any, ray_engine: Any, tiny_model_dir: Path
) -> None:
    from sd21_desktop.errors import UserFacingError

    request = GenerationRequest(**BASE, model=str(tiny_model_dir), width=64, height=64)
    retries = ray_engine.retries

    def kill_the_running_worker(info: Any) -> None:
        for worker in ray_engine.workers:
            if worker.busy:
                ray_session.kill(worker.handle, no_restart=True)

    with pytest.raises(UserFacingError) as caught:
        ray_engine.generate(request, kill_the_running_worker)
    assert "failed on two Ray workers" in str(caught.value)
    assert "Nothing was saved" in str(caught.value)
    assert ray_engine.retries == retries + 1
    assert len(ray_engine.generate(request).images) == 1  # the replacements work
