"""Start-up time: launch → window shown and events processed (``--smoke-test``), median of 5,
against ``python -c "import PySide6.QtWidgets"`` as the floor. Target ≤ 1.5 s.

    python bench/startup.py [--runs 5] [--command sd21-desktop]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time


def timed(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, env=env, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--command", nargs="+", default=[sys.executable, "-m", "sd21_desktop"])
    args = parser.parse_args()
    env = {**os.environ, "QT_QPA_PLATFORM": os.environ.get("QT_QPA_PLATFORM", "offscreen")}
    data_dir = tempfile.mkdtemp()
    app_command = [*args.command, "--smoke-test", "--data-dir", data_dir]
    floor_command = [sys.executable, "-c", "import PySide6.QtWidgets"]
    timed(app_command, env)  # warm the file cache
    app_times, floor_times = [], []
    for _ in range(args.runs):
        floor_times.append(timed(floor_command, env))
        app_times.append(timed(app_command, env))
    app_median, floor_median = statistics.median(app_times), statistics.median(floor_times)
    print(f"import PySide6.QtWidgets (floor): {floor_median:.3f} s")
    print(
        f"sd21-desktop --smoke-test:        {app_median:.3f} s "
        f"({app_median / floor_median:.1f}x the floor; target <= 1.5 s)"
    )


if __name__ == "__main__":
    main()
