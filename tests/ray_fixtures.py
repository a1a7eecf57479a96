"""One local Ray instance per test session, on 127.0.0.1, small (2 CPUs, 100 MB object store).

Starting Ray costs seconds, so every test that needs it shares this one; a test skips with the
reason when Ray is not installed or cannot start here.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest


@pytest.fixture(scope="session")
def ray_session() -> Iterator[Any]:
    import importlib.util

    if importlib.util.find_spec("ray") is None:  # not imported: connect sets its environment
        pytest.skip("Ray is not installed (pip install 'sd21-desktop[ray]')")
    from sd21_desktop.errors import UserFacingError
    from sd21_desktop.ray_workers.cluster import connect

    os.environ.pop("RAY_ADDRESS", None)  # never join a cluster that happens to be around
    try:
        connect(num_cpus=2, object_store_mb=100)
    except UserFacingError as error:
        pytest.skip(f"Ray cannot start here: {error}")
    import ray

    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def ray_engine(ray_session: Any, tiny_model_dir: Any) -> Iterator[Any]:
    """Two single-threaded CPU actors: all the session instance's 2 CPUs, so they are let go
    at the end of the module (a test needing other actors would wait for CPUs forever)."""
    from sd21_desktop.engine.device import RuntimeOptions
    from sd21_desktop.ray_workers.pool import RayEngine

    engine = RayEngine(RuntimeOptions(device="cpu"), workers=2, allow_download=False)
    engine.wait_ready()
    yield engine
    engine.close()
