#!/usr/bin/env python3
"""Build SD21 Desktop's one-folder bundle with PyInstaller, test it, and optionally the .deb.

    python3 packaging/build.py                 # fresh venv under build/, bundle, tests
    python3 packaging/build.py --skip-venv     # reuse /tmp/venv (or --python) for fast iteration
    python3 packaging/build.py --deb           # also build the .deb, install, launch, remove it
    python3 packaging/build.py --test-only     # test an existing build/dist/sd21-desktop

Steps, each failing loudly (non-zero exit, the reason on the last line):

1. a fresh virtual environment in ``build/packaging-venv`` with ``torch==2.13.0`` (the CPU
   build; ``--torch-spec``/``--torch-index`` choose another), the project and PyInstaller;
2. ``PyInstaller packaging/sd21_desktop.spec`` into ``build/dist/sd21-desktop/``; prints the
   build time, the bundle size and its ten largest parts;
3. the frozen program's ``--smoke-test`` three times (median start-up time, and the unfrozen
   ``sd21-desktop --smoke-test`` from the same venv for comparison), with
   ``QT_QPA_PLATFORM=offscreen`` when there is no display, and once on a real X server when
   ``xvfb-run`` is there;
4. a real generation through the frozen CLI for every scheduler on a tiny random-weight model
   that the venv's (unfrozen) Python writes, checking each PNG and its ``parameters`` and
   ``sd21-desktop`` text chunks;
5. first-run behaviour: the tests run with ``HOME`` set to an empty folder and (where the
   system allows, as root on Linux) the bundle mounted read-only; afterwards the bundle must be
   unchanged and every file written must be in the user's data or cache folders;
6. with ``--deb``: ``packaging/linux/build_deb.py``, then ``dpkg -i``, the installed program's
   ``--smoke-test`` and ``--version``, ``dpkg -r``, and a check that nothing is left behind.

Only the standard library is used, so any Python 3.10+ can run this file.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import venv
import zlib
from collections.abc import Sequence
from pathlib import Path

PACKAGING = Path(__file__).resolve().parent
ROOT = PACKAGING.parent
BUILD = ROOT / "build"
APP = "sd21-desktop"
SPEC = PACKAGING / "sd21_desktop.spec"
# Which torch each flavour installs. On this project's Linux machines pip takes both from the
# local disk; on PyPI, torch==2.13.0 for Linux is a CUDA build too, so a CPU build elsewhere
# needs --torch-index https://download.pytorch.org/whl/cpu (build.py checks what it got).
FLAVOUR_TORCH = {"cpu": "torch==2.13.0", "cuda": "torch==2.14.1"}
CUDA_ON_CPU = "CUDA build, running on CPU: no NVIDIA GPU found"
TORCH_FLAVOUR = """
import importlib.util, pathlib
spec = importlib.util.find_spec("torch")
lib = pathlib.Path(list(spec.submodule_search_locations)[0]) / "lib"
names = ("libtorch_cuda.so", "torch_cuda.dll")
print("cuda" if any((lib / n).exists() for n in names) else "cpu")
"""
DEFAULT_SKIP_VENV_PYTHON = Path("/tmp/venv/bin/python")
MODES = ("img2img", "inpaint", "depth", "upscale")
# mode -> (the synthetic model's mode, the input image, extra arguments)
MODE_RUNS = {
    "img2img": ("txt2img", "init.png", ()),
    "inpaint": ("inpaint", "init.png", ("--mask", "mask.png")),
    "depth": ("depth", "init.png", ()),
    "upscale": ("upscale", "small.png", ()),
}
MAKE_MODE_INPUTS = """
import sys
from pathlib import Path
from PIL import Image, ImageDraw
from sd21_desktop.engine.synthetic import save_synthetic_model
root = Path(sys.argv[1])
for mode in sys.argv[2:]:
    save_synthetic_model(root / f"model-{mode}", mode=mode)
Image.new("RGB", (64, 64), (200, 120, 40)).save(root / "init.png")
Image.new("RGB", (32, 32), (200, 120, 40)).save(root / "small.png")
mask = Image.new("L", (64, 64), 0)
ImageDraw.Draw(mask).rectangle([16, 16, 47, 47], fill=255)
mask.save(root / "mask.png")
"""
SCHEDULERS = (
    "dpmpp_2m",
    "dpmpp_2m_karras",
    "euler",
    "euler_a",
    "ddim",
    "pndm",
    "lms",
    "heun",
    "unipc",
)
IS_WINDOWS = sys.platform == "win32"
EXE_SUFFIX = ".exe" if IS_WINDOWS else ""


class BuildError(RuntimeError):
    """A step failed; the message says which and why."""


def log(text: str) -> None:
    print(text, flush=True)


def step(title: str) -> None:
    log(f"\n=== {title}")


def run(command: Sequence[str | Path], **kwargs: object) -> subprocess.CompletedProcess[str]:
    shown = " ".join("'<script>'" if "\n" in str(part) else str(part) for part in command)
    log(f"+ {shown}")
    done = subprocess.run([str(part) for part in command], text=True, **kwargs)  # type: ignore[call-overload]
    if done.returncode != 0:
        detail = ""
        if kwargs.get("capture_output"):
            detail = (
                f"\n--- stdout ---\n{done.stdout[-4000:]}\n--- stderr ---\n{done.stderr[-4000:]}"
            )
        raise BuildError(f"`{shown}` exited with status {done.returncode}{detail}")
    return done


def venv_python(folder: Path) -> Path:
    return folder / ("Scripts/python.exe" if IS_WINDOWS else "bin/python")


def venv_script(python: Path, name: str) -> Path:
    return python.parent / f"{name}{EXE_SUFFIX}"


# --- 1. the environment -------------------------------------------------------------------------


def make_venv(folder: Path, torch_spec: str, torch_index: str | None) -> Path:
    step(f"fresh virtual environment in {folder}")
    if folder.exists():
        shutil.rmtree(folder)
    venv.EnvBuilder(with_pip=True, clear=True).create(folder)
    python = venv_python(folder)
    quiet = ["--disable-pip-version-check", "-q"]
    run([python, "-m", "pip", "install", *quiet, "--upgrade", "pip"])
    index = ["--index-url", torch_index] if torch_index else []
    run([python, "-m", "pip", "install", *quiet, torch_spec, *index])
    # A regular (not editable) install: the bundle gets what a user's pip would give.
    run([python, "-m", "pip", "install", *quiet, f"{ROOT}[packaging]"])
    return python


def ensure_pyinstaller(python: Path) -> None:
    probe = subprocess.run([str(python), "-c", "import PyInstaller"], capture_output=True)
    if probe.returncode != 0:
        run(
            [
                python,
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "-q",
                "pyinstaller>=6.10",
            ]
        )


def describe_env(python: Path) -> dict[str, str]:
    code = (
        "import json, importlib.metadata as m, platform\n"
        "names = ['torch', 'diffusers', 'transformers', 'PySide6-Essentials', 'pyinstaller']\n"
        "out = {n: m.version(n) for n in names}\n"
        "out['python'] = platform.python_version()\n"
        "print(json.dumps(out))\n"
    )
    done = run([python, "-c", code], capture_output=True)
    return json.loads(done.stdout)


# --- 2. the bundle ------------------------------------------------------------------------------


def build_bundle(python: Path, dist: Path, work: Path) -> float:
    step("PyInstaller")
    started = time.perf_counter()
    log_path = BUILD / "pyinstaller.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    command = [
        python,
        "-m",
        "PyInstaller",
        SPEC,
        "--noconfirm",
        "--clean",
        "--distpath",
        dist,
        "--workpath",
        work,
    ]
    log(f"+ {' '.join(map(str, command))}  (log: {log_path})")
    with log_path.open("w", encoding="utf-8") as handle:
        done = subprocess.run(
            [str(c) for c in command], stdout=handle, stderr=subprocess.STDOUT, cwd=ROOT
        )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        tail = log_path.read_text(encoding="utf-8", errors="replace")[-4000:]
        raise BuildError(f"PyInstaller failed (status {done.returncode}):\n{tail}")
    log(f"PyInstaller took {seconds:.0f} s")
    return seconds


def folder_size(path: Path) -> int:
    if path.is_symlink() or path.is_file():
        return path.lstat().st_size
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() or p.is_symlink())


def size_report(bundle: Path, count: int = 10) -> dict[str, object]:
    total = folder_size(bundle)
    internal = bundle / "_internal"
    base = internal if internal.is_dir() else bundle
    parts = sorted(((folder_size(p), p.name) for p in base.iterdir()), reverse=True)[:count]
    files = sorted(
        (
            (p.lstat().st_size, p.relative_to(bundle).as_posix())
            for p in bundle.rglob("*")
            if p.is_file() and not p.is_symlink()
        ),
        reverse=True,
    )[:count]
    log(f"bundle: {bundle} = {total / 2**20:.0f} MiB")
    log(f"ten largest parts of {base.name}/:")
    for size, name in parts:
        log(f"  {size / 2**20:8.1f} MiB  {name}")
    log("ten largest files:")
    for size, name in files:
        log(f"  {size / 2**20:8.1f} MiB  {name}")
    return {
        "total_mib": round(total / 2**20, 1),
        "largest_parts": [[name, round(size / 2**20, 1)] for size, name in parts],
        "largest_files": [[name, round(size / 2**20, 1)] for size, name in files],
    }


# Found on the user's machine, never in the bundle: the NVIDIA driver's libraries.
DRIVER_LIBRARIES = ("libcuda.so.1", "libnvidia-ml.so.1")


def missing_libraries(bundle: Path, folders: Sequence[str] = ("torch", "nvidia")) -> list[str]:
    """Libraries that a binary under ``_internal/<folders>`` links to (readelf NEEDED, resolved
    the way ``ldd`` does) and that are neither in the bundle nor on this system, the NVIDIA
    driver's aside: what the spec's pruning of torch and the CUDA libraries must never cause.
    (Qt's plugins are left out: some link system libraries the .deb only recommends.) Linux
    only; elsewhere nothing is checked."""
    if not sys.platform.startswith("linux") or not shutil.which("ldd"):
        return []
    build_deb = _load_build_deb()
    internal = bundle / "_internal"
    files = [
        path
        for path in build_deb.elf_files(bundle)  # type: ignore[attr-defined]
        if any(path.is_relative_to(internal / folder) for folder in folders)
    ]
    _outside, missing = build_deb.system_libraries(bundle, files)  # type: ignore[attr-defined]
    return sorted(set(missing) - set(DRIVER_LIBRARIES))


def manifest(folder: Path) -> dict[str, tuple[int, int]]:
    return {
        p.relative_to(folder).as_posix(): (p.lstat().st_size, p.lstat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
    }


# --- 3-5. tests of the frozen program -----------------------------------------------------------


def sandbox_env(home: Path) -> dict[str, str]:
    """The environment of a user whose home is ``home``: no overrides of where the app writes."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("XDG_", "SD21_", "HF_", "HUGGINGFACE_", "TRANSFORMERS_"))
    }
    env.update(HOME=str(home), USERPROFILE=str(home), HF_HUB_OFFLINE="1")
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # a program that writes .pyc files must be caught
    if IS_WINDOWS:
        roaming, local = str(home / "AppData" / "Roaming"), str(home / "AppData" / "Local")
        # platformdirs asks the shell for these folders; its override variables redirect it
        env.update(
            APPDATA=roaming,
            LOCALAPPDATA=local,
            WIN_PD_OVERRIDE_APPDATA=roaming,
            WIN_PD_OVERRIDE_LOCAL_APPDATA=local,
        )
    if sys.platform.startswith("linux") and not (env.get("DISPLAY") or env.get("WAYLAND_DISPLAY")):
        env["QT_QPA_PLATFORM"] = "offscreen"
    return env


def user_write_roots(home: Path) -> tuple[Path, ...]:
    """Where a well-behaved program may write: the user's data and cache folders."""
    if IS_WINDOWS:
        return (home / "AppData/Local", home / "AppData/Roaming")
    if sys.platform == "darwin":
        return (home / "Library/Application Support", home / "Library/Caches")
    return (home / ".local/share", home / ".cache", home / ".config")


class ReadOnlyMount:
    """Runs commands with a folder bind-mounted read-only (Linux, as root); else runs them as is."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.enabled = self._probe()

    def _probe(self) -> bool:
        if not sys.platform.startswith("linux") or os.geteuid() != 0 or not shutil.which("unshare"):
            return False
        probe = subprocess.run(
            [
                "unshare",
                "--mount",
                "--",
                "sh",
                "-c",
                'mount --bind -o ro "$1" "$1" && ! touch "$1/.write-probe" 2>/dev/null',
                "sh",
                str(self.folder),
            ],
            capture_output=True,
        )
        leftover = self.folder / ".write-probe"
        if leftover.exists():
            leftover.unlink()
            return False
        return probe.returncode == 0

    def wrap(self, command: Sequence[str | Path]) -> list[str]:
        parts = [str(c) for c in command]
        if not self.enabled:
            return parts
        return [
            "unshare",
            "--mount",
            "--",
            "sh",
            "-c",
            'folder="$1"; shift; mount --bind -o ro "$folder" "$folder" && exec "$@"',
            "sh",
            str(self.folder),
            *parts,
        ]


def timed_run(
    command: list[str], env: dict[str, str], cwd: Path, timeout: float = 300
) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    done = subprocess.run(
        command, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout
    )
    return time.perf_counter() - started, done


def smoke_tests(
    program: list[str], env: dict[str, str], cwd: Path, label: str, runs: int = 3
) -> list[float]:
    times = []
    for attempt in range(runs):
        seconds, done = timed_run([*program, "--smoke-test"], env, cwd)
        if done.returncode != 0:
            raise BuildError(
                f"{label} --smoke-test exited {done.returncode} (run {attempt + 1}):\n"
                f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
            )
        times.append(seconds)
    log(
        f"{label} --smoke-test: {', '.join(f'{t:.2f}' for t in times)} s "
        f"(median {statistics.median(times):.2f} s)"
    )
    return times


def png_text_chunks(path: Path) -> dict[str, str]:
    """The text chunks (tEXt, zTXt, iTXt) of a PNG, read without Pillow."""
    data = path.read_bytes()
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        raise BuildError(f"{path} is not a PNG")
    chunks: dict[str, str] = {}
    offset = 8
    while offset + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[offset : offset + 8])
        body = data[offset + 8 : offset + 8 + length]
        offset += 12 + length
        if kind == b"tEXt":
            key, _, value = body.partition(b"\0")
            chunks[key.decode("latin-1")] = value.decode("latin-1")
        elif kind == b"zTXt":
            key, _, rest = body.partition(b"\0")
            chunks[key.decode("latin-1")] = zlib.decompress(rest[1:]).decode("latin-1")
        elif kind == b"iTXt":
            key, _, rest = body.partition(b"\0")
            compressed, _method = rest[0], rest[1]
            _lang, _, rest = rest[2:].partition(b"\0")
            _translated, _, text = rest.partition(b"\0")
            chunks[key.decode("latin-1")] = (zlib.decompress(text) if compressed else text).decode(
                "utf-8"
            )
        elif kind == b"IEND":
            break
    return chunks


def make_tiny_model(python: Path, folder: Path) -> None:
    code = (
        "import sys\nfrom sd21_desktop.engine.synthetic import save_synthetic_model\n"
        "save_synthetic_model(sys.argv[1])\n"
    )
    run([python, "-c", code, folder], capture_output=True)
    if not (folder / "model_index.json").is_file():
        raise BuildError(f"save_synthetic_model wrote no model_index.json into {folder}")


def png_pixels(path: Path) -> bytes:
    """The image header and the decompressed pixel rows of a PNG (no metadata)."""
    data = path.read_bytes()
    header, idat = b"", []
    offset = 8
    while offset + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[offset : offset + 8])
        body = data[offset + 8 : offset + 8 + length]
        offset += 12 + length
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat.append(body)
    return header + zlib.decompress(b"".join(idat))


def frozen_generate(
    cli: list[str],
    model: Path,
    out: Path,
    env: dict[str, str],
    cwd: Path,
    scheduler: str,
    label: str = "frozen",
    extra: Sequence[str] = (),
) -> dict[str, object]:
    command = [
        *cli,
        "generate",
        "--prompt",
        "a lighthouse at dawn, packaging test",
        "--model",
        str(model),
        "--steps",
        "2",
        "--seed",
        "1234",
        "--scheduler",
        scheduler,
        "--out",
        str(out),
        "--json",
        "--offline",
        *extra,
    ]
    seconds, done = timed_run(command, env, cwd)
    if done.returncode != 0:
        raise BuildError(
            f"{label} generate ({scheduler}) exited {done.returncode}:\n"
            f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if len(lines) != 1:
        raise BuildError(
            f"{label} generate ({scheduler}) printed {len(lines)} JSON lines:\n"
            f"{done.stdout[-3000:]}"
        )
    record = json.loads(lines[0])
    path = Path(record["path"])
    if not path.is_file() or path.stat().st_size == 0:
        raise BuildError(f"{label} generate ({scheduler}) reported {path}, which is not there")
    chunks = png_text_chunks(path)
    missing = {"parameters", "sd21-desktop"} - chunks.keys()
    if missing:
        raise BuildError(f"{path} lacks the text chunks {sorted(missing)}: has {sorted(chunks)}")
    embedded = json.loads(chunks["sd21-desktop"])
    if "lighthouse" not in chunks["parameters"] or "lighthouse" not in json.dumps(embedded):
        raise BuildError(f"{path}: the prompt is not in its metadata")
    log(
        f"  {label:8} {scheduler:16} ok in {seconds:5.1f} s -> {path.name} "
        f"({path.stat().st_size} bytes, chunks {sorted(chunks)})"
    )
    return {
        "scheduler": scheduler,
        "seconds": round(seconds, 2),
        "png": str(path),
        "bytes": path.stat().st_size,
        "seed": record["seed"],
    }


def frozen_modes(
    cli: list[str],
    python: Path,
    txt2img_model: Path,
    work: Path,
    out: Path,
    env: dict[str, str],
    cwd: Path,
    modes: Sequence[str],
) -> list[dict[str, object]]:
    """img2img, inpainting, depth and the x4 upscaler through the frozen CLI, on tiny models."""
    if not modes:
        return []
    _, done = timed_run([*cli, "generate", "--help"], env, cwd)
    if "--mode" not in done.stdout:
        log("  this version of the CLI has no --mode: image modes not tested")
        return []
    unknown = sorted(set(modes) - set(MODE_RUNS))
    if unknown:
        raise BuildError(f"unknown --modes {unknown}: choose from {', '.join(MODE_RUNS)}")
    work.mkdir(parents=True, exist_ok=True)
    needed = sorted({MODE_RUNS[m][0] for m in modes} - {"txt2img"})
    run([python, "-c", MAKE_MODE_INPUTS, work, *needed], capture_output=True)
    results = []
    for mode in modes:
        model, args = mode_arguments(mode, work, txt2img_model)
        result = frozen_generate(cli, model, out, env, cwd, "dpmpp_2m", label=mode, extra=args)
        results.append({"mode": mode, **result})
    return results


def mode_arguments(mode: str, work: Path, txt2img_model: Path) -> tuple[Path, list[str]]:
    """The model and the extra CLI arguments of one image mode (inputs made by frozen_modes)."""
    model_mode, image, extra = MODE_RUNS[mode]
    model = txt2img_model if model_mode == "txt2img" else work / f"model-{model_mode}"
    args = ["--mode", mode, "--init-image", str(work / image)]
    args += [str(work / a) if a.endswith(".png") else a for a in extra]
    return model, args


def reference_command(path: Path) -> list[str]:
    """--compare-with: a bundle folder (its CLI), a Python (``-m sd21_desktop``), or a program;
    absolute, as the tests run in a temporary folder (not resolved: a venv's python is a link)."""
    path = Path(os.path.abspath(path))
    if path.is_dir():
        return [str(path / f"{APP}-cli{EXE_SUFFIX}")]
    if path.name.startswith("python"):
        return [str(path), "-m", "sd21_desktop"]
    return [str(path)]


def compare_with_reference(
    reference: list[str],
    frozen: Sequence[dict[str, object]],
    model: Path,
    modes_dir: Path,
    out: Path,
    env: dict[str, str],
    cwd: Path,
) -> list[dict[str, object]]:
    """Every scheduler's and every mode's request again through ``reference`` (e.g. the CPU
    bundle): the pixels must be identical to the frozen program's."""
    results = []
    for record in frozen:
        mode = str(record.get("mode", ""))
        run_model, extra = mode_arguments(mode, modes_dir, model) if mode else (model, [])
        scheduler = str(record["scheduler"])
        label = f"ref {mode or scheduler}"[:8]
        again = frozen_generate(reference, run_model, out, env, cwd, scheduler, label, extra)
        same = png_pixels(Path(str(record["png"]))) == png_pixels(Path(str(again["png"])))
        if not same:
            raise BuildError(
                f"{mode or scheduler}: the frozen program and {' '.join(reference)} made "
                "different pixels for the same request and seed"
            )
        results.append({"run": mode or scheduler, "pixel_identical": same})
    log(f"  all {len(results)} images are pixel-identical to {' '.join(reference)}'s")
    return results


def written_files(home: Path, outputs: Sequence[Path]) -> tuple[list[str], list[str]]:
    """(files in the user's data/cache folders, files anywhere else) under the sandbox home."""
    allowed = [root.resolve() for root in user_write_roots(home)]
    skip = [p.resolve() for p in outputs]
    inside, outside = [], []
    for path in sorted(home.rglob("*")):
        if not path.is_file():
            continue
        resolved = path.resolve()
        if any(resolved.is_relative_to(s) for s in skip):
            continue
        relative = path.relative_to(home).as_posix()
        (inside if any(resolved.is_relative_to(a) for a in allowed) else outside).append(relative)
    return inside, outside


def xvfb_smoke_test(gui: list[str], env: dict[str, str], cwd: Path) -> str:
    """One start on a real X server, so the xcb platform plugin and its libraries load."""
    if not sys.platform.startswith("linux") or not shutil.which("xvfb-run"):
        return "skipped (no xvfb-run)"
    x_env = {k: v for k, v in env.items() if k != "QT_QPA_PLATFORM"}
    x_env["QT_QPA_PLATFORM"] = "xcb"
    seconds, done = timed_run(
        ["xvfb-run", "-a", "-s", "-screen 0 1600x1000x24", *gui, "--smoke-test"], x_env, cwd
    )
    if done.returncode != 0:
        raise BuildError(
            f"smoke test under Xvfb (xcb) exited {done.returncode}:\n"
            f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )
    log(f"smoke test on Xvfb (QT_QPA_PLATFORM=xcb): ok in {seconds:.2f} s")
    return f"ok in {seconds:.2f} s"


def check_version(text: str, flavour: str) -> None:
    """The frozen --version names the build; a CUDA build on a machine with no NVIDIA driver
    says it runs on the CPU."""
    expected = "CUDA build" if flavour == "cuda" else "CPU"
    if expected not in text:
        raise BuildError(f"frozen --version does not say {expected!r}:\n{text}")
    no_gpu = not any(Path("/proc/driver/nvidia/gpus").glob("*"))
    if (
        flavour == "cuda"
        and sys.platform.startswith("linux")
        and no_gpu
        and CUDA_ON_CPU not in text
    ):
        raise BuildError(f"frozen --version does not say {CUDA_ON_CPU!r}:\n{text}")


def check_bundle(
    bundle: Path,
    python: Path,
    schedulers: Sequence[str],
    modes: Sequence[str] = MODES,
    flavour: str = "cpu",
    reference: list[str] | None = None,
) -> dict[str, object]:
    gui = [str(bundle / f"{APP}{EXE_SUFFIX}")]
    cli = [str(bundle / f"{APP}-cli{EXE_SUFFIX}")]
    for program in (gui[0], cli[0]):
        if not Path(program).is_file():
            raise BuildError(f"{program} is missing: the build did not finish")
    report: dict[str, object] = {}
    before = manifest(bundle)
    guard = ReadOnlyMount(bundle)
    mode = "yes" if guard.enabled else "no (manifest check only)"
    log(f"bundle mounted read-only for the tests: {mode}")
    report["read_only_mount"] = guard.enabled
    with tempfile.TemporaryDirectory(prefix="sd21-pkg-test-") as temp:
        temp_dir = Path(temp)
        home = temp_dir / "home"
        home.mkdir()
        env = sandbox_env(home)
        cwd = temp_dir  # never the bundle: a relative write would land there

        step("frozen --version and --smoke-test")
        _, done = timed_run(guard.wrap([*cli, "--version"]), env, cwd)
        if done.returncode != 0 or "sd21-desktop" not in done.stdout + done.stderr:
            raise BuildError(f"frozen --version failed ({done.returncode}): {done.stderr[-2000:]}")
        version = (done.stdout + done.stderr).strip()
        log(f"frozen --version: {version}")
        check_version(version, flavour)
        report["version_output"] = version
        frozen = smoke_tests(guard.wrap(gui), env, cwd, "frozen")
        unfrozen_script = venv_script(python, APP)
        unfrozen_cmd = (
            [str(unfrozen_script)]
            if unfrozen_script.exists()
            else [str(python), "-m", "sd21_desktop"]
        )
        unfrozen_home = temp_dir / "home-unfrozen"
        unfrozen_home.mkdir()
        unfrozen = smoke_tests(unfrozen_cmd, sandbox_env(unfrozen_home), cwd, "unfrozen")
        report["smoke_test_seconds"] = {
            "frozen": [round(t, 2) for t in frozen],
            "frozen_median": round(statistics.median(frozen), 2),
            "unfrozen": [round(t, 2) for t in unfrozen],
            "unfrozen_median": round(statistics.median(unfrozen), 2),
            "unfrozen_command": " ".join(unfrozen_cmd),
        }
        report["xvfb_smoke_test"] = xvfb_smoke_test(guard.wrap(gui), env, cwd)

        step("frozen generate on a tiny model, every scheduler")
        model = temp_dir / "tiny-model"
        make_tiny_model(python, model)
        out = temp_dir / "out"
        report["generate"] = [
            frozen_generate(guard.wrap(cli), model, out, env, cwd, name) for name in schedulers
        ]
        if report["generate"]:
            # The same request through the unfrozen program: same time budget, same pixels.
            first = report["generate"][0]
            unfrozen_run = frozen_generate(
                unfrozen_cmd,
                model,
                temp_dir / "out-unfrozen",
                sandbox_env(unfrozen_home),
                cwd,
                str(first["scheduler"]),
                label="unfrozen",
            )
            same = png_pixels(Path(str(first["png"]))) == png_pixels(Path(str(unfrozen_run["png"])))
            if not same:
                raise BuildError(
                    "the frozen and the unfrozen program made different pixels for "
                    "the same request and seed"
                )
            log("  the frozen and the unfrozen image are pixel-identical")
            report["unfrozen_generate"] = {**unfrozen_run, "pixel_identical_to_frozen": same}

        step("frozen generate: img2img, inpainting, depth, x4 upscaler")
        report["modes"] = frozen_modes(
            guard.wrap(cli), python, model, temp_dir / "modes", out, env, cwd, modes
        )

        if reference:
            step(f"the same requests through {' '.join(reference)}")
            frozen_runs = [*report["generate"], *report["modes"]]  # type: ignore[misc]
            report["compared_with"] = {
                "program": " ".join(reference),
                "runs": compare_with_reference(
                    reference,
                    frozen_runs,
                    model,
                    temp_dir / "modes",
                    temp_dir / "out-ref",
                    sandbox_env(unfrozen_home),
                    cwd,
                ),
            }

        step("first-run behaviour: where the frozen program wrote")
        inside, outside = written_files(home, [out])
        for path in inside:
            log(f"  user folder: {path}")
        report["written_in_user_folders"] = inside
        if outside:
            raise BuildError(
                f"the frozen program wrote outside the user's data and cache folders: {outside}"
            )
        data_dir = next((p for p in inside if "sd21-desktop" in p), None)
        if data_dir is None:
            raise BuildError(
                "the frozen program wrote nothing into its data folder "
                "(expected settings/gallery under the user's data folder)"
            )
    after = manifest(bundle)
    if before != after:
        changed = sorted(set(before.items()) ^ set(after.items()))[:20]
        raise BuildError(f"the tests changed the bundle folder: {changed}")
    log("the bundle folder is unchanged after the tests")
    report["bundle_unchanged"] = True
    return report


# --- 6. the .deb --------------------------------------------------------------------------------


def _load_build_deb() -> object:
    spec = importlib.util.spec_from_file_location("build_deb", PACKAGING / "linux" / "build_deb.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def dpkg_installed(package: str) -> bool:
    done = subprocess.run(
        ["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True
    )
    return done.returncode == 0 and "install ok installed" in done.stdout


def build_debs(bundle: Path, out_dir: Path, compressions: Sequence[str]) -> list[dict[str, object]]:
    """One .deb per compression ("xz", "zstd", "xz:9": a level after the colon); with more than
    one, each goes into its own folder under ``out_dir`` (the file names are the same)."""
    build_deb = _load_build_deb()
    builds = []
    for choice in compressions:
        compression, _, level = choice.partition(":")
        folder = out_dir / choice.replace(":", "-") if len(compressions) > 1 else out_dir
        step(f"building the .deb ({choice})")
        started = time.perf_counter()
        deb: Path = build_deb.build_deb(  # type: ignore[attr-defined]
            bundle, folder, compression=compression, level=int(level) if level else None
        )
        seconds = time.perf_counter() - started
        mib = deb.stat().st_size / 2**20
        log(f"{deb.name} ({choice}): {mib:.1f} MiB in {seconds:.0f} s")
        builds.append(
            {
                "deb": str(deb),
                "compression": choice,
                "deb_mib": round(mib, 1),
                "deb_build_seconds": round(seconds, 1),
            }
        )
    return builds


def deb_round_trip(bundle: Path, out_dir: Path, compression: str) -> dict[str, object]:
    build_deb = _load_build_deb()
    builds = build_debs(bundle, out_dir, [c for c in compression.split(",") if c])
    deb = Path(str(builds[0]["deb"]))
    package = build_deb.package_name(build_deb.bundle_flavour(bundle))  # type: ignore[attr-defined]
    report: dict[str, object] = {**builds[0], "debs": builds, "package": package}
    if os.geteuid() != 0:
        log("not root: the install/launch/remove test of the .deb is skipped")
        report["install_test"] = "skipped (not root)"
        return report
    installed_already = [p for p in (APP, f"{APP}-cpu", f"{APP}-cuda") if dpkg_installed(p)]
    if installed_already:
        raise BuildError(
            f"{installed_already[0]} is already installed here; remove it "
            f"(dpkg -r {installed_already[0]}) so the install test cannot clobber it"
        )
    step("dpkg -i, launch, dpkg -r")
    installed = subprocess.run(["dpkg", "-i", str(deb)], capture_output=True, text=True)
    try:
        if installed.returncode != 0:
            raise BuildError(
                f"dpkg -i failed:\n{installed.stdout[-3000:]}{installed.stderr[-3000:]}\n"
                f"(missing dependencies? `apt-get install ./{deb.name}` installs them)"
            )
        log(installed.stdout.strip())
        for path in (
            "/opt/sd21-desktop/sd21-desktop",
            "/opt/sd21-desktop/sd21-desktop-cli",
            "/usr/share/applications/sd21-desktop.desktop",
            "/usr/share/icons/hicolor/256x256/apps/sd21-desktop.png",
        ):
            if not Path(path).is_file():
                raise BuildError(f"{path} is missing after dpkg -i")
        for link in ("/usr/bin/sd21-desktop", "/usr/bin/sd21-desktop-cli"):
            if not Path(link).is_symlink() or not Path(link).resolve().is_file():
                raise BuildError(f"{link} is not a working symlink after dpkg -i")
        with tempfile.TemporaryDirectory(prefix="sd21-deb-test-") as temp:
            home = Path(temp) / "home"
            home.mkdir()
            env = sandbox_env(home)
            env["PATH"] = "/usr/bin:/bin"
            _, done = timed_run(["sd21-desktop-cli", "--version"], env, Path(temp))
            if done.returncode != 0:
                raise BuildError(f"installed sd21-desktop-cli --version failed: {done.stderr}")
            report["installed_version_output"] = done.stdout.strip()
            times = smoke_tests(["sd21-desktop"], env, Path(temp), "installed (/usr/bin)", runs=1)
            report["installed_smoke_test_seconds"] = round(times[0], 2)
    finally:
        removed = subprocess.run(["dpkg", "-r", package], capture_output=True, text=True)
    if removed.returncode != 0:
        raise BuildError(f"dpkg -r failed:\n{removed.stdout}{removed.stderr}")
    log(removed.stdout.strip())
    left = [
        p
        for p in (
            "/opt/sd21-desktop",
            "/usr/bin/sd21-desktop",
            "/usr/bin/sd21-desktop-cli",
            "/usr/share/applications/sd21-desktop.desktop",
            "/usr/share/icons/hicolor/256x256/apps/sd21-desktop.png",
            "/usr/share/doc/sd21-desktop",
        )
        if os.path.lexists(p)
    ]
    if left:
        raise BuildError(f"dpkg -r left these behind: {left}")
    log("removed cleanly: /opt/sd21-desktop, the /usr/bin links, the menu entry and icons are gone")
    report["install_test"] = "installed, launched (--smoke-test, --version), removed cleanly"
    return report


# --- main ---------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Build the SD21 Desktop bundle with PyInstaller and test it.",
        epilog="See packaging/README.md.",
    )
    parser.add_argument(
        "--skip-venv",
        action="store_true",
        help="reuse an existing environment (--python) instead of a fresh venv",
    )
    parser.add_argument(
        "--python",
        type=Path,
        default=None,
        help=f"the Python for --skip-venv (default {DEFAULT_SKIP_VENV_PYTHON} "
        "if present, else the one running this script)",
    )
    parser.add_argument(
        "--venv",
        type=Path,
        default=BUILD / "packaging-venv",
        help="where the fresh venv goes (default build/packaging-venv)",
    )
    parser.add_argument(
        "--flavour",
        choices=sorted(FLAVOUR_TORCH),
        default="cpu",
        help="which torch the bundle carries: cpu (default) or cuda (NVIDIA GPUs; PyPI's "
        "Linux wheel with its nvidia-* libraries); the build fails if the venv's torch differs",
    )
    parser.add_argument(
        "--torch-spec",
        default=None,
        help="the torch requirement (default: "
        + ", ".join(f"{k}: {v}" for k, v in FLAVOUR_TORCH.items())
        + "); e.g. with --torch-index .../whl/cu130 for CUDA on Windows",
    )
    parser.add_argument(
        "--compare-with",
        type=Path,
        default=None,
        help="another build to make the same images with, pixel for pixel: a bundle folder "
        "(e.g. the CPU build's build/dist/sd21-desktop, the default for --flavour cuda when it "
        "exists) or a Python with the app installed",
    )
    parser.add_argument(
        "--torch-index",
        default=None,
        help="an index URL for torch only (e.g. https://download.pytorch.org/whl/cpu)",
    )
    parser.add_argument(
        "--dist",
        type=Path,
        default=BUILD / "dist",
        help="PyInstaller's output folder (default build/dist)",
    )
    parser.add_argument(
        "--work",
        type=Path,
        default=BUILD / "pyinstaller",
        help="PyInstaller's work folder (default build/pyinstaller)",
    )
    parser.add_argument(
        "--test-only", action="store_true", help="do not build: test the existing bundle in --dist"
    )
    parser.add_argument("--no-tests", action="store_true", help="build only")
    parser.add_argument(
        "--schedulers",
        default=",".join(SCHEDULERS),
        help="schedulers the frozen generate test runs (comma-separated; default: all)",
    )
    parser.add_argument(
        "--modes",
        default=",".join(MODES),
        help="image modes the frozen generate test runs (comma-separated; default: all; "
        "'' for none)",
    )
    parser.add_argument(
        "--deb",
        action="store_true",
        help="also build the .deb and test install, launch and removal (root)",
    )
    parser.add_argument(
        "--deb-compression",
        default="xz",
        help="xz (default), zstd, gzip or none, with an optional level (xz:9); several, "
        "comma-separated, build one .deb each (sizes compared; the first is install-tested)",
    )
    parser.add_argument(
        "--installers",
        type=Path,
        default=BUILD / "installers",
        help="where installers go (default build/installers)",
    )
    parser.add_argument(
        "--report",
        type=Path,
        default=BUILD / "packaging-report.json",
        help="a JSON summary of the run (default build/packaging-report.json)",
    )
    return parser.parse_args(argv)


def choose_python(args: argparse.Namespace, report: dict[str, object]) -> Path:
    if not args.skip_venv and not args.test_only:
        started = time.perf_counter()
        torch_spec = args.torch_spec or FLAVOUR_TORCH[args.flavour]
        python = make_venv(args.venv.resolve(), torch_spec, args.torch_index)
        report["venv_seconds"] = round(time.perf_counter() - started, 1)
        log(f"the venv took {report['venv_seconds']:.0f} s")
        return python
    if args.python is not None:
        return args.python.absolute()  # not resolve(): a venv's python is a symlink
    if args.test_only and venv_python(args.venv).exists():
        return venv_python(args.venv)
    if DEFAULT_SKIP_VENV_PYTHON.exists():
        return DEFAULT_SKIP_VENV_PYTHON
    return Path(sys.executable)


def check_flavour(python: Path, flavour: str) -> str:
    """The venv's torch must be the flavour asked for (pip may pick the other build)."""
    found = run([python, "-c", TORCH_FLAVOUR], capture_output=True).stdout.strip()
    if found != flavour:
        hint = {
            "cpu": "add --torch-index https://download.pytorch.org/whl/cpu",
            "cuda": "use PyPI's Linux wheel or --torch-index https://download.pytorch.org/whl/cu130",
        }[flavour]
        raise BuildError(
            f"--flavour {flavour} asked for, but {python} has the {found} build of torch: {hint}"
        )
    log(f"flavour: {flavour} (torch's libraries agree)")
    return flavour


def choose_reference(args: argparse.Namespace, bundle: Path) -> list[str] | None:
    path = args.compare_with
    if path is None and args.flavour == "cuda":
        cpu_bundle = BUILD / "dist" / APP
        if cpu_bundle.is_dir() and cpu_bundle.resolve() != bundle:
            path = cpu_bundle
        else:
            log(
                "no CPU build to compare pixels with (build/dist/sd21-desktop): pass --compare-with"
            )
    if path is None:
        return None
    if not path.exists():
        raise BuildError(f"--compare-with {path}: no such bundle folder or program")
    return reference_command(path)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    report: dict[str, object] = {"platform": f"{sys.platform}-{platform.machine()}"}
    started = time.perf_counter()
    try:
        python = choose_python(args, report)
        if not args.test_only:
            ensure_pyinstaller(python)
        report["environment"] = {"python_exe": str(python), **describe_env(python)}
        log(f"environment: {report['environment']}")
        report["flavour"] = check_flavour(python, args.flavour)
        bundle = args.dist.resolve() / APP
        if not args.test_only:
            report["build_seconds"] = round(
                build_bundle(python, args.dist.resolve(), args.work.resolve()), 1
            )
        if not bundle.is_dir():
            raise BuildError(f"{bundle} does not exist: build it first")
        step("size")
        report["size"] = size_report(bundle)
        step("every library torch and the CUDA libraries link to is there")
        missing = missing_libraries(bundle)
        if missing:
            raise BuildError(f"libraries the bundle links to are missing: {missing}")
        log("none missing (the NVIDIA driver's libcuda.so.1 comes with the driver)")
        if not args.no_tests:
            names = [n.strip() for n in args.schedulers.split(",") if n.strip()]
            modes = [n.strip() for n in args.modes.split(",") if n.strip()]
            reference = choose_reference(args, bundle)
            report.update(check_bundle(bundle, python, names, modes, args.flavour, reference))
        if args.deb:
            if not sys.platform.startswith("linux"):
                raise BuildError("--deb needs Linux with dpkg-deb")
            report.update(deb_round_trip(bundle, args.installers.resolve(), args.deb_compression))
    except (BuildError, subprocess.TimeoutExpired) as error:
        report["error"] = str(error)
        _save_report(args.report, report)
        print(f"\nBUILD FAILED: {error}", file=sys.stderr, flush=True)
        return 1
    report["total_seconds"] = round(time.perf_counter() - started, 1)
    _save_report(args.report, report)
    step("done")
    timings = ("venv_seconds", "build_seconds", "deb_build_seconds", "total_seconds")
    log(json.dumps({k: report[k] for k in timings if k in report}))
    log(f"summary: {args.report}")
    return 0


def _save_report(path: Path, report: dict[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
