"""Command-line entry point: the GUI (no sub-command) and the headless commands.

Importing this module loads neither Qt nor torch: each command imports what it needs.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from sd21_desktop import APP_ID, __version__
from sd21_desktop.engine.device import ATTENTION_CHOICES, DEVICE_CHOICES, DTYPE_CHOICES
from sd21_desktop.engine.request import (
    DEFAULT_MODEL,
    DEFAULT_NOISE_LEVEL,
    DEFAULT_STRENGTH,
    DEFAULT_TILE_OVERLAP,
    DEFAULT_TILE_SIZE,
    MAX_NOISE_LEVEL,
    MAX_SIDE,
    MODES,
    PREDICTION_TYPES,
    STRENGTH_MODES,
    Mode,
)
from sd21_desktop.engine.schedulers import DEFAULT_SCHEDULER, SCHEDULER_NAMES
from sd21_desktop.errors import GenerationCancelled, UserFacingError

EXIT_OK, EXIT_INTERNAL, EXIT_USER, EXIT_CANCELLED = 0, 1, 2, 130


class _Parser(argparse.ArgumentParser):
    """argparse that reports bad arguments as one line and status 2, like our own errors."""

    def error(self, message: str) -> Any:  # type: ignore[override]
        raise UserFacingError(f"{message}.", f"See `{self.prog} --help`.")


def _add_runtime_options(parser: argparse.ArgumentParser, command: bool = False) -> None:
    """``--model --device --dtype --data-dir``, accepted before and after a command.

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
        "--data-dir",
        default=default(None),
        help="where the app keeps everything it writes (also $SD21_DESKTOP_DATA_DIR)",
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


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=APP_ID,
        description=(
            "SD21 Desktop: Stable Diffusion 2.x on your own machine. "
            "With no command, opens the window."
        ),
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--smoke-test", action="store_true", help="open the window, process events, exit 0"
    )
    _add_runtime_options(parser)
    commands = parser.add_subparsers(dest="command", parser_class=_Parser)

    generate = commands.add_parser("generate", help="make images without the window")
    generate.add_argument("--prompt", required=True)
    generate.add_argument("--negative-prompt", default="")
    generate.add_argument(
        "--seed", type=int, default=None, help="0 to 4294967295; random if left out"
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
    _add_runtime_options(generate, command=True)
    _add_memory_options(generate)

    from sd21_desktop import cli_gallery

    cli_gallery.add_commands(commands, _add_runtime_options)
    from sd21_desktop import cli_batch

    cli_batch.add_command(commands, _add_runtime_options)

    models = commands.add_parser(
        "models", help="list the known models and which are present locally"
    )
    models.add_argument("--json", action="store_true")
    _add_runtime_options(models, command=True)
    return parser


def _merged(args: argparse.Namespace, name: str, default: Any = None) -> Any:
    """Options may come before or after the command; the later one wins."""
    value = getattr(args, name, None)
    return default if value is None else value


class _StderrProgress:
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
        self.bar.update(info.step - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


_MODE_ONLY_OPTIONS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("mask", "--mask", ("inpaint",)),
    ("depth_map", "--depth-map", ("depth",)),
    ("strength", "--strength", STRENGTH_MODES),
    ("noise_level", "--noise-level", ("upscale",)),
    ("tile_size", "--tile-size", ("upscale",)),
    ("tile_overlap", "--tile-overlap", ("upscale",)),
)
"""Options that only some modes take: (argument name, flag, modes)."""


def _choose_mode(args: argparse.Namespace) -> Mode:
    mode: Mode = args.mode or (
        "inpaint"
        if args.mask
        else "depth"
        if args.depth_map
        else "img2img"
        if args.init_image
        else "txt2img"
    )
    if mode == "txt2img" and (args.init_image or args.mask):
        raise UserFacingError(
            "--mode txt2img takes no --init-image or --mask.",
            "Use --mode img2img or --mode inpaint to start from an image.",
        )
    if mode != "txt2img" and not args.init_image:
        raise UserFacingError(f"{mode} needs --init-image FILE (the image to start from).")
    for name, flag, modes in _MODE_ONLY_OPTIONS:
        if getattr(args, name) is not None and mode not in modes:
            raise UserFacingError(
                f"{flag} is for --mode {' or '.join(modes)}, not {mode}.",
                f"Drop {flag}, or use --mode {modes[0]}.",
            )
    if mode == "upscale" and (args.width is not None or args.height is not None):
        raise UserFacingError(
            "--width/--height do not apply to upscale: the output is 4x the input.",
            "Resize the input image instead.",
        )
    return mode


def _default_model(mode: str) -> str:
    """Without --model: the model a mode needs (depth, upscale), the SD2 inpainting model for
    inpaint when it is downloaded (or when the default model is not either, so a download fetches
    the right one); else the default model."""
    from sd21_desktop.engine.models import INPAINT_MODEL_ID, MODE_MODEL_IDS, cached_snapshot

    if mode in MODE_MODEL_IDS:
        return MODE_MODEL_IDS[mode]
    if mode == "inpaint" and (
        cached_snapshot(INPAINT_MODEL_ID) is not None or cached_snapshot(DEFAULT_MODEL) is None
    ):
        return INPAINT_MODEL_ID
    return DEFAULT_MODEL


def _load_inputs(args: argparse.Namespace, mode: str, stderr: TextIO) -> tuple[Any, Any, Any]:
    """The init image (RGB), mask (L, inpaint only) and depth map (L, depth with --depth-map)
    from the files given."""
    from sd21_desktop.engine.inputs import (
        load_depth_file,
        load_mask_file,
        mask_from_transparency,
        read_image_file,
        to_init_image,
    )

    if mode == "txt2img":
        return None, None, None
    raw = read_image_file(args.init_image)
    image = to_init_image(raw)
    if mode == "depth":
        if not args.depth_map:
            return image, None, None
        from sd21_desktop.engine.depth import check_depth_map

        depth = load_depth_file(args.depth_map)
        check_depth_map(depth)
        return image, None, depth
    if mode == "upscale":
        from sd21_desktop.engine.upscale import check_input_size

        check_input_size(*image.size)  # before the model loads
    if mode != "inpaint":
        return image, None, None
    if args.mask:
        return image, load_mask_file(args.mask), None
    mask = mask_from_transparency(raw)
    if mask is None:
        raise UserFacingError(
            "--mode inpaint needs --mask FILE (white = repaint), or an --init-image with "
            "transparent parts to repaint."
        )
    print(f"note: repainting the transparent parts of {args.init_image}.", file=stderr)
    return image, mask, None


def run_generate(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    from sd21_desktop.engine.device import RuntimeOptions
    from sd21_desktop.engine.imageprep import default_size
    from sd21_desktop.engine.inputs import InputImages, content_hash
    from sd21_desktop.engine.models import identify, native_size_hint
    from sd21_desktop.engine.request import GenerationRequest, random_seed
    from sd21_desktop.engine.runner import Engine
    from sd21_desktop.paths import resolve_paths

    paths = resolve_paths(_merged(args, "data_dir"))
    mode = _choose_mode(args)
    image, mask, depth = _load_inputs(args, mode, stderr)
    model = _merged(args, "model") or _default_model(mode)
    source = identify(model)
    if source.notice:
        print(f"note: {source.notice}", file=stderr)
    size = native_size_hint(source)

    def sizes(native: int) -> tuple[int, int]:
        if image is None:
            return args.width or native, args.height or native
        if mode == "upscale":  # unused by the upscaler: record the input's size (rounded to 8)
            return default_size(image.size, MAX_SIDE)
        return default_size(image.size, native, args.width, args.height)

    width, height = sizes(size or 512)
    # Validate every setting before the (slow) model load; the size may come from the model.
    request = GenerationRequest(
        prompt=args.prompt,
        negative_prompt=args.negative_prompt,
        model=source.location if source.kind == "hub" else str(Path(source.location)),
        mode=mode,
        seed=random_seed() if args.seed is None else args.seed,
        steps=args.steps,
        guidance_scale=args.guidance,
        scheduler=args.scheduler,
        width=width,
        height=height,
        batch_size=args.batch_size,
        prediction_type=args.prediction_type,
        strength=DEFAULT_STRENGTH if args.strength is None else args.strength,
        init_image=content_hash(image) if image is not None else None,
        mask_image=content_hash(mask) if mask is not None else None,
        mask_grow=args.mask_grow,
        mask_feather=args.mask_feather,
        keep_unmasked=args.keep_unmasked,
        depth_map=content_hash(depth) if depth is not None else None,
        noise_level=DEFAULT_NOISE_LEVEL if args.noise_level is None else args.noise_level,
        tile_size=DEFAULT_TILE_SIZE if args.tile_size is None else args.tile_size,
        tile_overlap=DEFAULT_TILE_OVERLAP if args.tile_overlap is None else args.tile_overlap,
    )
    options = RuntimeOptions(
        device=_merged(args, "device", "auto"),
        dtype=_merged(args, "dtype", "auto"),
        attention=args.attention,
        attention_slicing=args.attention_slicing,
        vae_slicing=args.vae_slicing,
        vae_tiling=args.vae_tiling,
        cpu_offload=args.cpu_offload,
    )
    inputs = InputImages(paths.inputs_dir)
    for picture in (image, mask, depth):
        if picture is not None:
            inputs.put(picture)  # the request names them; a re-run reads them from here
    out_dir = Path(args.out).expanduser() if args.out else paths.ensure().gallery_dir
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise UserFacingError(
            f"Cannot create the output folder {out_dir}: {error.strerror}.",
            "Choose another --out folder.",
        ) from error
    engine = Engine(options, allow_download=not args.offline)
    status: Callable[[str], None] = lambda text: print(text, file=stderr)  # noqa: E731
    loaded = engine.load(request.model, status)
    if size is None and mode != "upscale" and (args.width is None or args.height is None):
        width, height = sizes(loaded.native_size)
        request = request.replace(width=width, height=height)
    progress = _StderrProgress(stderr)
    try:
        result = engine.generate(request, on_step=progress, on_status=None, inputs=inputs)
    finally:
        progress.close()
    for notice in result.notices:
        print(f"note: {notice}", file=stderr)
    _save_results(result, out_dir, stdout, stderr, as_json=args.json, args=args)
    return EXIT_OK


def _save_results(
    result: Any,
    out_dir: Path,
    stdout: TextIO,
    stderr: TextIO,
    as_json: bool,
    args: argparse.Namespace | None = None,
) -> None:
    """Save through the gallery store (unless --no-gallery), plus a copy in --out when given.

    Without ``args`` (an older caller) the images only go to ``out_dir``, as before.
    """
    from sd21_desktop import cli_gallery
    from sd21_desktop.gallery.metadata import ImageRecord

    runtime = result.runtime.to_dict()
    items = [
        (image, ImageRecord(result.request, seed, index, dict(runtime)))
        for index, (image, seed) in enumerate(zip(result.images, result.seeds, strict=True))
    ]
    export: Path | None = out_dir
    to_gallery, data_dir = False, None
    if args is not None:
        to_gallery = not args.no_gallery
        export = Path(args.out).expanduser() if args.out else None
        data_dir = _merged(args, "data_dir")
    cli_gallery.save_images(
        items,
        data_dir=data_dir,
        to_gallery=to_gallery,
        out_dir=export,
        stdout=stdout,
        stderr=stderr,
        as_json=as_json,
        extra={"timings": result.timings},
    )


def run_models(args: argparse.Namespace, stdout: TextIO) -> int:
    from sd21_desktop.engine.models import hub_cache_dir, list_known_models

    rows = list_known_models()
    if args.json:
        for row in rows:
            print(
                json.dumps(
                    {
                        "id": row.repo_id,
                        "label": row.label,
                        "kind": row.kind,
                        "native_size": row.native_size,
                        "local_path": str(row.local_path) if row.local_path else None,
                    }
                ),
                file=stdout,
            )
        return EXIT_OK
    print(f"Hugging Face cache: {hub_cache_dir()}", file=stdout)
    for row in rows:
        state = "present" if row.local_path else "not downloaded"
        print(f"  {row.repo_id:48} {row.kind:8} {row.native_size:>4}px  {state}", file=stdout)
    return EXIT_OK


def run_gui(args: argparse.Namespace, argv: Sequence[str]) -> int:
    try:
        from sd21_desktop.app import main as gui_main
    except ImportError as error:
        raise UserFacingError(
            f"The window cannot open: {error}.", "Reinstall SD21 Desktop (pip install -e .)."
        ) from error
    return gui_main(list(argv))


def main(
    argv: Sequence[str] | None = None, stdout: TextIO | None = None, stderr: TextIO | None = None
) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    debug = "--debug" in argv or bool(__import__("os").environ.get("SD21_DESKTOP_DEBUG"))
    argv = [a for a in argv if a != "--debug"]
    started = time.perf_counter()
    try:
        args = build_parser().parse_args(argv)
        if args.command == "generate":
            return run_generate(args, stdout, stderr)
        if args.command == "models":
            return run_models(args, stdout)
        if args.command == "batch":
            from sd21_desktop.cli_batch import run_batch

            return run_batch(args, stdout, stderr)
        if args.command is not None:
            from sd21_desktop import cli_gallery

            return cli_gallery.run(args, stdout, stderr)
        return run_gui(args, argv)
    except UserFacingError as error:
        print(f"error: {error}", file=stderr)
        return EXIT_USER
    except (GenerationCancelled, KeyboardInterrupt):
        print(
            f"cancelled after {time.perf_counter() - started:.1f}s; nothing was saved.", file=stderr
        )
        return EXIT_CANCELLED
    except Exception as error:  # the last line of defence: one line, not a traceback
        if debug:
            raise
        print(
            f"internal error: {type(error).__name__}: {error} (run with --debug for details)",
            file=stderr,
        )
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
