"""Download throughput and resume against the local hub (tests/hub_server.py) serving a large file.

    python bench/download.py [--size-mb 1024] [--repeats 2]

Runs, alternating in the same process: our path (``download_model``: repo info, tree, HEAD,
GET with sha256 checking as the bytes arrive) and a plain ``hf_hub_download`` of the same file,
each into its own fresh cache; prints MB/s for each and their ratio (target: ours within 5 %).
Then cuts a transfer at 60 % and resumes it: the second attempt must fetch at most 45 % of the
file again. The machine's other load moves absolute figures; the ratio is what to compare.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

REPO = "bench/large-model"
WEIGHTS = "unet/diffusion_pytorch_model.safetensors"


def make_repo(folder: Path, size: int) -> None:
    (folder / "unet").mkdir(parents=True)
    (folder / "model_index.json").write_text(json.dumps({"_class_name": "Bench"}))
    with (folder / WEIGHTS).open("wb") as out:
        block = os.urandom(16 * 1024 * 1024)
        for start in range(0, size, len(block)):
            out.write(block[: min(len(block), size - start)])


def point_hf_at(endpoint: str) -> None:
    from huggingface_hub import constants

    constants.HF_HUB_OFFLINE = False
    constants.ENDPOINT = endpoint
    constants.HUGGINGFACE_CO_URL_TEMPLATE = endpoint + "/{repo_id}/resolve/{revision}/{filename}"
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"


def ours(cache: Path) -> float:
    from sd21_desktop.engine.downloads import download_model

    started = time.perf_counter()
    download_model(REPO, cache_dir=cache, free_space=lambda folder: 1 << 50)
    return time.perf_counter() - started


def plain(cache: Path) -> float:
    from huggingface_hub import hf_hub_download

    started = time.perf_counter()
    hf_hub_download(REPO, WEIGHTS, cache_dir=cache)
    return time.perf_counter() - started


def resume_fraction(hub: object, cache: Path, size: int) -> tuple[float, float]:
    from sd21_desktop.engine.downloads import download_model
    from sd21_desktop.errors import UserFacingError

    state = hub.state  # type: ignore[attr-defined]
    hub.add_rule("cut", WEIGHTS, int(size * 0.6))  # type: ignore[attr-defined]
    before = state.body_bytes.get(WEIGHTS, 0)
    try:
        download_model(REPO, cache_dir=cache, retries=0, free_space=lambda folder: 1 << 50)
        raise SystemExit("the cut did not happen")
    except UserFacingError:
        pass
    first = state.body_bytes[WEIGHTS] - before
    download_model(REPO, cache_dir=cache, free_space=lambda folder: 1 << 50)
    second = state.body_bytes[WEIGHTS] - before - first
    return first / size, second / size


def main() -> int:
    from tests.hub_server import LocalHub

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    size = args.size_mb * 1024 * 1024
    root = Path(tempfile.mkdtemp(prefix="sd21-bench-download-"))
    try:
        make_repo(root / "repo", size)
        with LocalHub() as hub:
            started = time.perf_counter()
            hub.add_repo(REPO, root / "repo")
            hashed = time.perf_counter() - started
            print(f"file: {size / 1e6:.0f} MB (the server hashed it in {hashed:.1f} s)")
            point_hf_at(hub.endpoint)
            times: dict[str, list[float]] = {"ours": [], "plain hf_hub_download": []}
            for run in range(args.repeats):
                for name, fetch in (("ours", ours), ("plain hf_hub_download", plain)):
                    cache = root / f"cache-{name.split()[0]}-{run}"
                    seconds = fetch(cache)
                    times[name].append(seconds)
                    print(f"  run {run + 1} {name:22} {size / 1e6 / seconds:7.1f} MB/s")
                    shutil.rmtree(cache)
            rates = {name: size / 1e6 / statistics.median(t) for name, t in times.items()}
            ratio = rates["ours"] / rates["plain hf_hub_download"]
            print(
                f"median: ours {rates['ours']:.1f} MB/s, plain {rates['plain hf_hub_download']:.1f}"
                f" MB/s; ours/plain = {ratio:.3f} (target >= 0.95)"
            )
            first, second = resume_fraction(hub, root / "cache-resume", size)
            print(
                f"resume: cut after {first:.0%}, the next attempt fetched {second:.1%} of the "
                "file again (target <= 45%)"
            )
    finally:
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
