"""Ray workers on this machine: throughput of 1 vs 2 single-threaded CPU actors, and the per-job
overhead of the Ray path against the local engine for the same job.

    python bench/ray_scale.py [--jobs 40] [--steps 8] [--size 64] [--repeats 7]

A local Ray instance on 127.0.0.1 (no dashboard, 100 MB object store), the tiny model.
Throughput: ``--jobs`` jobs dispatched as the batch command does (one thread per actor) on one
actor and on two, in ``--rounds`` alternating rounds; the ratio targets >= 1.7x. Ray runs its
workers at niceness 15, so on a machine loaded by other processes two actors share the little CPU
that is left to one; ``--niceness 0`` (the default here) puts the actors level with the rest.
Overhead: the same job on one Ray actor and on the
local engine (one torch thread, as the actor), alternating, ``--repeats`` times each; the
difference of the medians targets <= 50 ms. Because the two run in different processes whose
share of a loaded CPU differs, the Ray path is also measured alone: the client's wall time less
the engine time the actor reports. Prints one JSON line with every figure and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def _run_jobs(engine: Any, requests: list[Any], workers: int) -> float:
    """Seconds for all jobs, ``workers`` at a time (as ``batch --engine ray`` runs them)."""
    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda request: engine.generate(request, inputs=None), requests))
    return time.perf_counter() - started


def _throughput(requests: list[Any], rounds: int) -> dict[str, float]:
    """Seconds for the jobs on one actor and on two, in alternating rounds (both pools alive),
    so a change in the machine's load hits both alike."""
    from sd21_desktop.engine.device import RuntimeOptions
    from sd21_desktop.ray_workers.pool import RayEngine

    pools = {
        count: RayEngine(RuntimeOptions(device="cpu"), workers=count, allow_download=False)
        for count in (1, 2)
    }
    seconds = {1: 0.0, 2: 0.0}
    size = max(len(requests) // rounds, 1)
    try:
        for count, engine in pools.items():
            engine.wait_ready()
            _run_jobs(engine, requests[: count * 2], count)  # every actor loads the model
        for start in range(0, len(requests), size):
            for count, engine in pools.items():
                seconds[count] += _run_jobs(engine, requests[start : start + size], count)
    finally:
        for engine in pools.values():
            engine.close()
    return {"one_s": seconds[1], "two_s": seconds[2]}


def _overhead(request: Any, repeats: int) -> dict[str, float]:
    import torch

    from sd21_desktop.engine.device import RuntimeOptions
    from sd21_desktop.engine.runner import Engine
    from sd21_desktop.ray_workers.pool import RayEngine

    torch.set_num_threads(1)  # as the single-threaded actor
    local = Engine(RuntimeOptions(device="cpu"), allow_download=False)
    remote = RayEngine(RuntimeOptions(device="cpu"), workers=1, allow_download=False)
    times: dict[str, list[float]] = {"local": [], "ray": [], "path": []}
    try:
        remote.wait_ready()
        local.generate(request)
        remote.generate(request)
        for _ in range(repeats):  # alternating, so both see the same load on a shared machine
            for name, engine in (("local", local), ("ray", remote)):
                started = time.perf_counter()
                result = engine.generate(request, on_step=lambda info: None)
                times[name].append(time.perf_counter() - started)
            # The Ray path alone: the client's wall time less the engine time the actor measured
            # (so a difference in CPU share between the two processes does not count).
            times["path"].append(times["ray"][-1] - result.timings["total_s"])
    finally:
        remote.close()
    local_s, ray_s = statistics.median(times["local"]), statistics.median(times["ray"])
    return {
        "local_job_s": local_s,
        "ray_job_s": ray_s,
        "overhead_ms": (ray_s - local_s) * 1000,
        "path_ms": statistics.median(times["path"]) * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=40)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=4, help="alternating 1/2-actor rounds")
    parser.add_argument("--niceness", default="0", help="the actors' niceness (Ray's own: 15)")
    args = parser.parse_args()
    # Ray's own spelling (RayConfig reads RAY_<setting name>), read by the raylet started here.
    os.environ["RAY_worker_niceness"] = args.niceness  # noqa: SIM112

    from sd21_desktop.engine.request import GenerationRequest
    from sd21_desktop.engine.synthetic import save_synthetic_model
    from sd21_desktop.ray_workers.cluster import connect, node_addresses

    # 3 logical CPUs: the 1-actor and the 2-actor pools stay alive together so their rounds can
    # alternate; only one pool runs at a time, so at most two single-threaded actors compute.
    connect(num_cpus=3, object_store_mb=100)
    assert set(node_addresses()) == {"127.0.0.1"}, node_addresses()
    folder = save_synthetic_model(Path(tempfile.mkdtemp()) / "tiny")
    requests = [
        GenerationRequest(
            prompt=f"job {n}", model=str(folder), seed=n, steps=args.steps,
            width=args.size, height=args.size,
        )
        for n in range(args.jobs)
    ]
    overhead = _overhead(requests[0], args.repeats)
    scale = _throughput(requests, args.rounds)
    figures = {
        "jobs": args.jobs,
        "steps": args.steps,
        "one_actor_s": round(scale["one_s"], 2),
        "two_actors_s": round(scale["two_s"], 2),
        "throughput_ratio": round(scale["one_s"] / scale["two_s"], 3),
        "local_job_ms": round(overhead["local_job_s"] * 1000, 1),
        "ray_job_ms": round(overhead["ray_job_s"] * 1000, 1),
        "overhead_ms": round(overhead["overhead_ms"], 1),
        "ray_path_ms": round(overhead["path_ms"], 1),
        "load_average": round(os.getloadavg()[0], 1),
        "cores": os.cpu_count(),
        "actor_niceness": int(args.niceness),
    }
    print(
        f"{args.jobs} jobs: 1 actor {scale['one_s']:.1f} s, 2 actors {scale['two_s']:.1f} s "
        f"-> {figures['throughput_ratio']:.2f}x (target >= 1.7x)"
    )
    print(
        f"one job: local {figures['local_job_ms']} ms, Ray {figures['ray_job_ms']} ms "
        f"-> overhead {figures['overhead_ms']} ms (target <= 50 ms); the Ray path alone "
        f"(wall less the actor's engine time) {figures['ray_path_ms']} ms"
    )
    print(f"load average {figures['load_average']} on {figures['cores']} cores")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
