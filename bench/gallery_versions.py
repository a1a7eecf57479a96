"""Rebuild and import with two versions of the gallery code, alternating, in one run: on a
shared machine only figures measured side by side compare.

    git worktree add /tmp/old <commit>   # the version to compare with
    python bench/gallery_versions.py --old /tmp/old [--entries 10000 --imports 1000 --rounds 2]

Each round runs each version in a fresh process (its own checkout first on ``sys.path``): it
writes ``--entries`` PNGs with that version's ``bench/gallery_scale.py``, times the first open
(the index rebuilt from the files), then imports ``--imports`` files from a folder. Reported per
version: wall, CPU and kernel CPU seconds (median of the rounds) and the fsync calls each step
made.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, os, random, resource, shutil, sys, tempfile, time
from pathlib import Path
root = Path(sys.argv[1])
sys.path[:0] = [str(root), str(root / "bench")]
fsyncs = [0]
real_fsync = os.fsync
def counting_fsync(fd):
    fsyncs[0] += 1
    return real_fsync(fd)
os.fsync = counting_fsync
from gallery_scale import write_entries, write_import_folder
from sd21_desktop.gallery.store import GalleryStore
from sd21_desktop.paths import resolve_paths
work = Path(tempfile.mkdtemp(prefix="sd21-gallery-versions-"))
paths = resolve_paths(work / "data")
figures = {}
try:
    write_entries(paths.gallery_dir, int(sys.argv[2]), random.Random(1234))
    def step(name, action):
        fsyncs[0] = 0
        wall, cpu = time.perf_counter(), time.process_time()
        kernel = resource.getrusage(resource.RUSAGE_SELF).ru_stime
        result = action()
        figures[name + "_s"] = time.perf_counter() - wall
        figures[name + "_cpu_s"] = time.process_time() - cpu
        # CPU time in the kernel (file writes, fsync): a share the other processes sway
        figures[name + "_sys_s"] = resource.getrusage(resource.RUSAGE_SELF).ru_stime - kernel
        figures[name + "_fsyncs"] = fsyncs[0]
        return result
    store = step("rebuild", lambda: GalleryStore(paths))
    assert store.count() == int(sys.argv[2]), store.notices
    folder = work / "to-import"
    write_import_folder(folder, int(sys.argv[3]))
    report = step("import", lambda: store.import_files([folder]))
    assert len(report.imported) == int(sys.argv[3]), report.errors[:3]
    store.close()
finally:
    shutil.rmtree(work, ignore_errors=True)
print(json.dumps(figures))
"""


def run(root: Path, entries: int, imports: int) -> dict[str, float]:
    environment = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(root), str(entries), str(imports)],
        capture_output=True, text=True, env=environment, check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"{root}: {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", type=Path, required=True, help="checkout of the other version")
    parser.add_argument("--new", type=Path, default=REPO)
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--imports", type=int, default=1_000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    results: dict[str, list[dict[str, float]]] = {"old": [], "new": []}
    for number in range(args.rounds):
        for name in ("old", "new") if number % 2 == 0 else ("new", "old"):
            figures = run(getattr(args, name), args.entries, args.imports)
            results[name].append(figures)
            print(f"round {number + 1} {name}: {json.dumps(figures)}", flush=True)
    for name, rounds in results.items():
        summary = {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
        print(f"{name} (median of {len(rounds)}): "
              + ", ".join(f"{key} {value:.1f}" for key, value in summary.items()))


if __name__ == "__main__":
    main()
