"""Connecting to Ray: an existing cluster (``--ray-address`` / ``RAY_ADDRESS``) or a local one.

A local instance started here listens on 127.0.0.1 only. Ray replaces ``127.0.0.1`` with the
machine's outward address unless ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0`` is in the environment of
the head and of every client (Ray reads it when it is imported, and its processes inherit it), so
:func:`connect` sets it before Ray is imported, and starts the head with
``_node_ip_address="127.0.0.1"``. Joining a real cluster leaves Ray's addressing alone.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from sd21_desktop.errors import UserFacingError
from sd21_desktop.ray_workers import import_ray

LOOPBACK = "127.0.0.1"
LOOPBACK_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}


def loopback_environment() -> None:
    """The environment a Ray client or head on this machine needs to stay on loopback."""
    os.environ.update(LOOPBACK_ENV)
    constants = sys.modules.get("ray._private.ray_constants")
    if constants is not None:  # Ray was imported before: its constant was read from the old value
        constants.ENABLE_RAY_CLUSTER = False  # type: ignore[attr-defined]


def connect(
    address: str | None = None,
    num_cpus: int | None = None,
    object_store_mb: int | None = None,
) -> bool:
    """Join the cluster at ``address`` (else ``RAY_ADDRESS``, else start one on 127.0.0.1).

    Returns True when this call connected (False: Ray was already initialised in this process,
    e.g. by a test's session instance, and is used as it is).
    """
    address = address or os.environ.get("RAY_ADDRESS") or None
    if not address or _is_loopback(address):
        loopback_environment()
    ray = import_ray()
    if ray.is_initialized():
        return False
    kwargs: dict[str, Any] = {"log_to_driver": False, "configure_logging": False}
    try:
        if address:
            ray.init(address=address, **kwargs)
        else:
            ray.init(
                _node_ip_address=LOOPBACK,
                include_dashboard=False,
                num_cpus=num_cpus,
                object_store_memory=object_store_mb * 1024 * 1024 if object_store_mb else None,
                **kwargs,
            )
    except (ConnectionError, RuntimeError, ValueError, TimeoutError) as error:
        where = f"the Ray cluster at {address}" if address else "a local Ray instance"
        raise UserFacingError(
            f"Cannot connect to {where}: {error}".rstrip(".") + ".",
            "Start the head with `ray start --head` (see README: Ray workers), check the "
            "address, or choose the local engine.",
        ) from None
    return True


def _is_loopback(address: str) -> bool:
    host = address.removeprefix("ray://").rsplit(":", 1)[0]
    return host in (LOOPBACK, "localhost")


def node_addresses() -> list[str]:
    """The address of every live node of the cluster, as Ray reports it."""
    ray = import_ray()
    return [node["NodeManagerAddress"] for node in ray.nodes() if node.get("Alive")]


def cluster_gpus() -> int:
    """How many GPUs the cluster has (0 on a CPU-only cluster)."""
    ray = import_ray()
    return int(ray.cluster_resources().get("GPU", 0))
