"""A long X/Y/Z grid on the tiny model: time per cell against a single generate, and memory.

    python bench/grid_soak.py                 # 200 cells (20 seeds x 10 guidance values)
    python bench/grid_soak.py --seeds 10 --guidance 5

The grid runs through ``sd21-desktop grid``'s own loop (:func:`sd21_desktop.cli_grid.run_grid`:
generate, save to the gallery, compose the grid) with the engine already warm. The reference is
a single generate saved the same way in the same process, measured before and after the grid.
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


class CellClock(io.StringIO):
    """stderr for the grid: timestamps and RSS at each "cell n/N" line."""

    def __init__(self) -> None:
        super().__init__()
        self.marks: list[tuple[float, float]] = []

    def write(self, text: str) -> int:
        if text.startswith("cell "):
            self.marks.append((time.perf_counter(), rss_mb()))
        return len(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--guidance", type=int, default=10)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--singles", type=int, default=10)
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
    engine = Engine()
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

    def single(seed: int) -> float:
        """What `generate --json` does for one image: its progress bar, the run, the save."""
        started = time.perf_counter()
        progress = StderrProgress(io.StringIO())
        result = engine.generate(base.replace(seed=seed), on_step=progress)
        progress.close()
        _save_results(result, Path("."), io.StringIO(), io.StringIO(), True, grid_args)
        return time.perf_counter() - started

    for seed in range(3):  # warm-up
        single(seed)
    before = [single(1000 + i) for i in range(args.singles)]

    def prepare(*_: Any, **__: Any) -> tuple[Any, Any, Any, Path]:
        return base, engine, None, work

    clock = CellClock()
    started = time.perf_counter()
    run_grid(grid_args, io.StringIO(), clock, prepare, _save_results)
    grid_s = time.perf_counter() - started
    after = [single(2000 + i) for i in range(args.singles)]
    cells = args.seeds * args.guidance
    per_cell = [b[0] - a[0] for a, b in zip(clock.marks, clock.marks[1:], strict=False)]
    reference = statistics.median(before + after)
    warm = clock.marks[max(cells // 10, 1)][1]
    print(f"cells: {cells} ({args.steps} steps, 64x64), grid total {grid_s:.1f} s")
    print(f"single generate (+save), median of {2 * args.singles}: {reference * 1000:.1f} ms")
    print(f"grid cell, median of {len(per_cell)}: {statistics.median(per_cell) * 1000:.1f} ms "
          f"(ratio {statistics.median(per_cell) / reference:.3f})")  # fmt: skip
    print(f"RSS after warm-up {warm:.1f} MB, at the end {rss_mb():.1f} MB "
          f"(growth {rss_mb() - warm:+.1f} MB); model loads: {engine.cache.loads}")  # fmt: skip


if __name__ == "__main__":
    main()
