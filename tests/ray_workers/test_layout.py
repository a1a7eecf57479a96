"""The pool's layout without starting Ray: one actor per GPU, N CPU actors, refusing a layout the
cluster cannot hold, and the loopback rule for addresses."""

from __future__ import annotations

from typing import Any

import pytest

from sd21_desktop.errors import UserFacingError
from sd21_desktop.ray_workers.cluster import _is_loopback
from sd21_desktop.ray_workers.pool import PoolLayout, check_fits, plan_layout


def test_one_actor_per_gpu_else_the_number_of_cpu_actors_asked_for() -> None:
    assert plan_layout(gpus=4, workers=None, cpus_per_worker=1) == PoolLayout(4, 1, 0)
    assert plan_layout(gpus=0, workers=None, cpus_per_worker=1) == PoolLayout(1, 0, 1)
    assert plan_layout(gpus=0, workers=3, cpus_per_worker=2) == PoolLayout(3, 0, 2)


def test_a_layout_the_cluster_cannot_hold_is_refused_with_what_to_do() -> None:
    check_fits(PoolLayout(2, 0, 1), {"CPU": 2.0})
    check_fits(PoolLayout(4, 1, 0), {"CPU": 1.0, "GPU": 4.0})
    with pytest.raises(UserFacingError) as caught:
        check_fits(PoolLayout(3, 0, 1), {"CPU": 2.0})
    assert "3 Ray workers need 3 CPUs; the cluster has 2." in str(caught.value)
    assert "--ray-workers" in str(caught.value)


@pytest.mark.parametrize(
    ("address", "loopback"),
    [
        ("127.0.0.1:6379", True),
        ("localhost:6379", True),
        ("ray://127.0.0.1:10001", True),
        ("192.168.1.20:6379", False),
        ("ray://gpu-box:10001", False),
    ],
)
def test_only_loopback_addresses_keep_ray_on_loopback(address: str, loopback: bool) -> None:
    assert _is_loopback(address) is loopback


def _pool(*workers: tuple[str, int, set[str]]) -> object:
    import threading

    from sd21_desktop.ray_workers.pool import RayEngine, Worker

    engine = RayEngine.__new__(RayEngine)  # no Ray: only the scheduling state
    engine._lock = threading.Lock()
    engine.workers = [Worker(None, name, busy, set(models)) for name, busy, models in workers]
    return engine


def test_a_job_goes_to_the_least_busy_actor_then_to_one_holding_its_model() -> None:
    engine: Any = _pool(("a", 1, {"m1"}), ("b", 1, set()), ("c", 1, {"m2"}))
    assert engine._pick("m2", set()).name == "c"  # equally busy: the one holding the model
    engine = _pool(("a", 1, {"m1"}), ("b", 0, set()))
    assert engine._pick("m1", set()).name == "b"  # an idle actor beats a queue behind the model
    assert engine.workers[1].busy == 1
    assert "m1" in engine.workers[1].models  # counted at once, for the next job's choice
    assert engine._pick("m1", set()).name == "a"  # now both busy: the first holder of m1
    engine = _pool(("a", 0, set()), ("b", 0, set()))
    assert engine._pick("m", {"a"}).name == "b"  # a retry avoids the actor that failed
    assert _pool(("a", 0, set()))._pick("m", {"a"}).name == "a"  # type: ignore[attr-defined]
