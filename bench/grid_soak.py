"""A long X/Y/Z grid on the tiny model: time per cell against a single generate, and memory.

    python bench/grid_soak.py                 # 200 cells (20 seeds x 10 guidance values)
    python bench/grid_soak.py --seeds 10 --guidance 5 --every 1
    python bench/grid_soak.py --without-model  # only what the grid adds per cell (one stored image)

The grid runs through ``sd21-desktop grid``'s own loop (:func:`sd21_desktop.cli_grid.run_grid`:
generate, save to the gallery, paste into the grid image) with the engine already warm. The
reference is a single generate saved the same way in the same process, run *between* cells (before
every ``--every``-th cell, its time taken out of that cell's), so both see the same load on a
shared machine and the same gallery size. Wall and process-CPU times are both reported.
Targets: per-cell time within 5 % of a single generate (no reloads); RSS growth <= 50 MB from
after the warm-up (the first 10 % of cells) to the end.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    import os

    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def clocks() -> tuple[float, float]:
    """(wall, process CPU) seconds."""
    return time.perf_counter(), time.process_time()


class CellClock(io.StringIO):
    """stderr for the grid: wall, CPU and RSS at each "cell n/N" line; ``reference`` holds the
    (wall, CPU) of the single generates run inside each cell's interval."""

    def __init__(self) -> None:
        super().__init__()
        self.marks: list[tuple[float, float, float]] = []
        self.reference: list[tuple[float, float]] = []

    def write(self, text: str) -> int:
        if text.startswith("cell "):
            self.marks.append((*clocks(), rss_mb()))
            self.reference.append((0.0, 0.0))
            if len(self.marks) % 25 == 0:  # a long run on a shared machine: show it moving
                print(f"  {len(self.marks)} cells, RSS {self.marks[-1][2]:.1f} MB", flush=True)
        return len(text)

    def cells(self) -> list[tuple[float, float]]:
        """Each cell's (wall, CPU), less the reference run inside it (the last cell has no end
        mark and is left out)."""
        return [
            (b[0] - a[0] - ref[0], b[1] - a[1] - ref[1])
            for a, b, ref in zip(self.marks, self.marks[1:], self.reference, strict=False)
        ]


class Interleaved:
    """The engine for the grid: at every ``every``-th cell it also runs ``single`` on that cell's
    request with another seed (the same work: guidance 1 skips the unconditional pass), before
    the cell one time and after it the next (so neither gains from going second), recording its
    time in the clock."""

    def __init__(self, engine: Any, single: Any, clock: CellClock, every: int) -> None:
        self.engine, self.single, self.clock, self.every = engine, single, clock, every
        self.count = 0
        self.samples: list[tuple[float, float]] = []

    def generate(self, request: Any, **options: Any) -> Any:
        self.count += 1
        if self.count % self.every:
            return self.engine.generate(request, **options)
        before = self.count % (2 * self.every) == 0
        if before:
            self._reference(request)
        result = self.engine.generate(request, **options)
        if not before:
            self._reference(request)
        return result

    def _reference(self, request: Any) -> None:
        spent = self.single(request.replace(seed=10_000 + self.count))
        self.clock.reference[-1] = spent
        self.samples.append(spent)


class Replay:
    """An engine that makes one image, then hands it back for every request (``--without-model``:
    the grid's own per-cell cost, free of the model's noise on a shared machine)."""

    def __init__(self, engine: Any) -> None:
        self.engine, self.result = engine, None
        self.cache = engine.cache

    def generate(self, request: Any, **options: Any) -> Any:
        import dataclasses

        self.result = self.result or self.engine.generate(request, **options)
        return dataclasses.replace(self.result, request=request)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--guidance", type=int, default=10)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--every", type=int, default=2, help="a reference every N cells")
    parser.add_argument(
        "--without-model",
        action="store_true",
        help="every generate returns one stored result: times only what the grid adds per cell",
    )
    args = parser.parse_args()

    from sd21_desktop.cli import _save_results
    from sd21_desktop.cli_common import StderrProgress, build_parser
    from sd21_desktop.cli_grid import run_grid
    from sd21_desktop.engine.loader import quiet_libraries
    from sd21_desktop.engine.request import GenerationRequest
    from sd21_desktop.engine.runner import Engine
    from sd21_desktop.engine.synthetic import save_synthetic_model

    quiet_libraries()
    work = Path(tempfile.mkdtemp(prefix="grid-soak-"))
    model = save_synthetic_model(work / "model", flavour="v")
    engine: Any = Engine()
    if args.without_model:
        engine = Replay(engine)
    seeds = ",".join(str(s) for s in range(1, args.seeds + 1))
    guidance = ",".join(f"{1 + g * 0.5:g}" for g in range(args.guidance))
    grid_args = build_parser().parse_args(
        ["--model", str(model), "--data-dir", str(work / "data"), "grid", "--prompt", "a fox",
         "--width", "64", "--height", "64", "--steps", str(args.steps), "--scheduler", "ddim",
         "--x", f"seed={seeds}", "--y", f"guidance={guidance}"]
    )  # fmt: skip
    base = GenerationRequest(
        prompt="a fox", model=str(model), width=64, height=64, steps=args.steps, scheduler="ddim"
    )

    def single(request: GenerationRequest) -> tuple[float, float]:
        """What `generate --json` does for one image: its progress bar, the run, the save."""
        wall, cpu = clocks()
        progress = StderrProgress(io.StringIO())
        result = engine.generate(request, on_step=progress)
        progress.close()
        _save_results(result, Path("."), io.StringIO(), io.StringIO(), True, grid_args)
        after = clocks()
        return after[0] - wall, after[1] - cpu

    for seed in range(3):  # warm-up
        single(base.replace(seed=seed))
    clock = CellClock()
    interleaved = Interleaved(engine, single, clock, args.every)

    def prepare(*_: Any, **__: Any) -> tuple[Any, Any, Any, Path]:
        return base, interleaved, None, work

    started = time.perf_counter()
    run_grid(grid_args, io.StringIO(), clock, prepare, _save_results)
    report(clock, interleaved.samples, time.perf_counter() - started, engine.cache.loads, args)


def report(
    clock: CellClock, samples: list[tuple[float, float]], total: float, loads: int, args: Any
) -> None:
    cells = clock.cells()
    count = args.seeds * args.guidance
    print(f"cells: {count} ({args.steps} steps, 64x64), grid total {total:.1f} s "
          f"(with {len(samples)} reference generates between cells)")  # fmt: skip
    for name, index in (("wall", 0), ("CPU", 1)):
        reference = statistics.median(s[index] for s in samples)
        cell = statistics.median(c[index] for c in cells)
        halves = [cells[: len(cells) // 2], cells[len(cells) // 2 :]]
        first, second = (statistics.median(c[index] for c in half) for half in halves)
        print(f"{name}: single generate (+save) median of {len(samples)}: "
              f"{reference * 1000:.1f} ms; grid cell median of {len(cells)}: {cell * 1000:.1f} ms "
              f"(ratio {cell / reference:.3f}); first half {first * 1000:.1f} ms, second half "
              f"{second * 1000:.1f} ms")  # fmt: skip
    warm = clock.marks[max(count // 10, 1)][2]
    print(f"RSS after warm-up {warm:.1f} MB, at the end {rss_mb():.1f} MB "
          f"(growth {rss_mb() - warm:+.1f} MB); model loads: {loads}")  # fmt: skip


if __name__ == "__main__":
    main()
