"""Command-line entry point: parses the arguments, then opens the window (no sub-command, in
:mod:`sd21_desktop.app`) or runs a headless command (``generate`` and ``models`` here, the gallery
commands in :mod:`sd21_desktop.cli_gallery`). The parser lives in :mod:`sd21_desktop.cli_common`,
which the window and the commands share; nothing below imports this module back.

Importing this module loads neither Qt nor torch: each command imports what it needs.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from sd21_desktop.cli_common import (
    EXIT_CANCELLED,
    EXIT_INTERNAL,
    EXIT_OK,
    EXIT_USER,
    StderrProgress,
    build_parser,
    explore_fields,
    merged,
    network_folders,
)
from sd21_desktop.cli_control import preprocess_controls, read_controls
from sd21_desktop.engine.request import (
    DEFAULT_MODEL,
    DEFAULT_NOISE_LEVEL,
    DEFAULT_STRENGTH,
    DEFAULT_TILE_OVERLAP,
    DEFAULT_TILE_SIZE,
    MAX_SIDE,
    STRENGTH_MODES,
    Mode,
)
from sd21_desktop.errors import GenerationCancelled, UserFacingError

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
    request, engine, inputs, out_dir = prepare_generate(args, stderr)
    progress = StderrProgress(stderr)
    try:
        result = engine.generate(request, on_step=progress, on_status=None, inputs=inputs)
    finally:
        progress.close()
    for notice in result.notices:
        print(f"note: {notice}", file=stderr)
    _save_results(result, out_dir, stdout, stderr, as_json=args.json, args=args)
    return EXIT_OK


def prepare_generate(
    args: argparse.Namespace, stderr: TextIO, check: Callable[[Any], object] | None = None
) -> tuple[Any, Any, Any, Path]:
    """The generate options as (request, engine with the model loaded, inputs store, out folder);
    every setting (and ``check(request)``, e.g. a grid's cells) is checked before the slow model
    load."""
    from sd21_desktop.engine.device import RuntimeOptions
    from sd21_desktop.engine.imageprep import default_size
    from sd21_desktop.engine.inputs import InputImages, content_hash
    from sd21_desktop.engine.models import DEPTH_MODEL_ID, identify, native_size_hint
    from sd21_desktop.engine.region import default_area
    from sd21_desktop.engine.request import GenerationRequest, random_seed
    from sd21_desktop.engine.runner import Engine
    from sd21_desktop.paths import resolve_paths

    paths = resolve_paths(merged(args, "data_dir"))
    mode = _choose_mode(args)
    image, mask, depth = _load_inputs(args, mode, stderr)
    chosen = merged(args, "annotators_dir")
    controls = read_controls(args, Path(chosen).expanduser() if chosen else paths.annotators_dir)
    model = merged(args, "model") or _default_model(mode)
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
    area = "whole"
    if mode == "inpaint":
        area = args.inpaint_area or default_area(image.size, size or 512)
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
        inpaint_area=area,
        mask_padding=args.mask_padding,
        masked_content=args.masked_content,
        **explore_fields(args),
    )
    if area == "masked":
        request = _with_region(request, image, mask, size or 512, args)
    if controls.specs:  # checked with the raw images' ids; preprocessed after the checks
        request = request.replace(
            controls=controls.units([content_hash(i) for i in controls.images])
        )
    options = RuntimeOptions(
        device=merged(args, "device", "auto"),
        dtype=merged(args, "dtype", "auto"),
        attention=args.attention,
        attention_slicing=args.attention_slicing,
        vae_slicing=args.vae_slicing,
        vae_tiling=args.vae_tiling,
        cpu_offload=args.cpu_offload,
        accelerate=merged(args, "accelerate", "none"),
        cache_dir=str(paths.cache_dir),
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
    if check is not None:
        check(request)
    engine = Engine(options, allow_download=not args.offline, networks=network_folders(args))
    status: Callable[[str], None] = lambda text: print(text, file=stderr)  # noqa: E731
    if controls.specs:
        hashes = preprocess_controls(
            controls,
            lambda picture: engine.estimate_depth(picture, DEPTH_MODEL_ID, status),
            inputs.put,
        )
        request = request.replace(controls=controls.units(hashes))
    loaded = engine.load(request.model, status)
    if size is None and mode != "upscale" and (args.width is None or args.height is None):
        width, height = sizes(loaded.native_size)
        request = request.replace(width=width, height=height)
        if area == "masked":
            request = _with_region(request, image, mask, loaded.native_size, args)
    return request, engine, inputs, out_dir


def _with_region(request: Any, image: Any, mask: Any, native: int, args: Any) -> Any:
    """A masked-area request with its crop box and processing size (see engine.region)."""
    from sd21_desktop.engine.region import region_for_images

    box, (width, height) = region_for_images(image, mask, request, native, args.width, args.height)
    return request.replace(crop_box=box, width=width, height=height)


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
    from sd21_desktop.engine.region import region_summary
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
        data_dir = merged(args, "data_dir")
    cli_gallery.save_images(
        items,
        data_dir=data_dir,
        to_gallery=to_gallery,
        out_dir=export,
        stdout=stdout,
        stderr=stderr,
        as_json=as_json,
        extra={"timings": result.timings, **region_summary(result.request)},
    )


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
        if getattr(args, "engine", None) == "ray" and args.command not in (None, "batch"):
            raise UserFacingError(
                f"--engine ray runs the window's jobs and batch, not {args.command}.",
                "Use `batch JOBS.jsonl --engine ray` (one request per line), or leave it out.",
            )
        if args.command == "generate":
            return run_generate(args, stdout, stderr)
        if args.command == "models":
            from sd21_desktop import cli_models

            return cli_models.run(args, stdout, stderr)
        if args.command == "batch":
            from sd21_desktop.cli_batch import run_batch

            return run_batch(args, stdout, stderr)
        if args.command == "grid":
            from sd21_desktop import cli_grid

            return cli_grid.run_grid(args, stdout, stderr, prepare_generate, _save_results)
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
