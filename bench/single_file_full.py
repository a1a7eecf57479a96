"""Full-size single-file checkpoints in the original LDM layout, read through our loader.

    python bench/single_file_full.py --variant v        # SD 2.1 768 (v-prediction)
    python bench/single_file_full.py --variant inpaint  # SD 2 inpainting (9-channel UNet)

Builds the full-size random-weight architecture (engine/synthetic.py), makes a reference image
with it (CPU, 64x64, 2 steps, fixed seed), writes it as one ``.safetensors`` file in the LDM key
layout (tests/ldm_layout.py) in fp32 and in fp16, then loads each file through
``sd21_desktop.engine.loader.build_pipeline`` (``from_single_file`` with the shipped config)
and makes the same image. The fp32 file must give the reference exactly; the fp16 file must
give exactly the image of the reference weights rounded to fp16 (and is compared with the fp32
reference too). Each file is loaded with its LDM ``.yaml`` beside it, as the official files are
published (random weights carry no v/epsilon signal for the probe). Then the v/epsilon decision on
the same file: each shipped LDM ``.yaml`` as a sidecar, and no sidecar. Each variant needs about
11 GB of RAM at its peak and a few minutes.
The reference is the in-memory pipeline a diffusers folder of it would hold (``save_pretrained``
and ``from_pretrained`` are lossless), so no 5 GB folder is written.
"""

from __future__ import annotations

import argparse
import gc
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PROMPT = "a lighthouse on a cliff at dawn"
SIDECARS = {"v": "v2-inference-v.yaml", "inpaint": "v2-inpainting-inference.yaml"}


def image(pipeline: Any, inpaint: bool) -> Any:
    import torch
    from PIL import Image

    extra: dict[str, Any] = {}
    if inpaint:
        mask = Image.new("L", (64, 64), 0)
        mask.paste(255, (16, 16, 48, 48))
        extra = {"image": Image.new("RGB", (64, 64), (120, 40, 200)), "mask_image": mask}
    with torch.no_grad():
        return pipeline(
            PROMPT,
            num_inference_steps=2,
            height=64,
            width=64,
            generator=torch.Generator().manual_seed(7),
            output_type="np",
            **extra,
        ).images[0]


def round_to_fp16(pipeline: Any) -> None:
    import torch

    with torch.no_grad():
        for module in (pipeline.unet, pipeline.vae, pipeline.text_encoder):
            for tensor in module.state_dict().values():
                if tensor.is_floating_point():
                    tensor.copy_(tensor.half().float())


def build_reference(variant: str, folder: Path) -> dict[str, Any]:
    import torch

    from sd21_desktop.engine.synthetic import build_pipeline
    from tests.ldm_layout import save_ldm_checkpoint

    started = time.perf_counter()
    mode = "inpaint" if variant == "inpaint" else "txt2img"
    pipeline = build_pipeline("full", "v", mode, seed=0)
    pipeline.set_progress_bar_config(disable=True)
    print(f"built the full-size {mode} pipeline in {time.perf_counter() - started:.0f} s")
    found: dict[str, Any] = {"scheduler": type(pipeline.scheduler).__name__}
    found["fp32"] = image(pipeline, variant == "inpaint")
    files = {
        "fp32": save_ldm_checkpoint(pipeline, folder / f"{variant}-fp32.safetensors"),
        "fp16": save_ldm_checkpoint(
            pipeline, folder / f"{variant}-fp16.safetensors", torch.float16
        ),
    }
    for path in files.values():
        print(f"wrote {path.name}: {path.stat().st_size / 1e9:.2f} GB")
    round_to_fp16(pipeline)
    found["fp16"] = image(pipeline, variant == "inpaint")
    found["files"] = files
    del pipeline
    gc.collect()
    return found


def load_and_compare(variant: str, reference: dict[str, Any]) -> bool:
    import numpy as np

    from sd21_desktop.engine.device import RuntimeOptions
    from sd21_desktop.engine.loader import build_pipeline
    from sd21_desktop.engine.models import identify
    from sd21_desktop.paths import resources_dir

    ok = True
    sidecar = SIDECARS[variant]
    for precision, path in reference["files"].items():
        # the file's own LDM config beside it, as the official checkpoints are published
        shutil.copyfile(
            resources_dir() / "model_configs" / "ldm" / sidecar, path.with_suffix(".yaml")
        )
        started = time.perf_counter()
        loaded = build_pipeline(identify(str(path)), RuntimeOptions(device="cpu", dtype="float32"))
        seconds = time.perf_counter() - started
        got = image(loaded.pipeline, variant == "inpaint")
        same = np.array_equal(got, reference[precision])
        versus32 = np.abs(got.astype(np.float64) - reference["fp32"]).max() * 255
        print(
            f"{path.name}: loaded as {type(loaded.pipeline).__name__} in {seconds:.0f} s, "
            f"scheduler {type(loaded.pipeline.scheduler).__name__} (reference "
            f"{reference['scheduler']}), prediction {loaded.native_prediction_type}, native "
            f"{loaded.native_size}px; image identical to the {precision} reference: {same}; "
            f"max difference from the fp32 reference {versus32:.2f}/255"
        )
        ok = ok and same
        if precision == "fp32":
            ok = check_prediction_decision(path, loaded.pipeline.unet, variant) and ok
        del loaded
        gc.collect()
    return ok


def check_prediction_decision(path: Path, unet: Any, variant: str) -> bool:
    from sd21_desktop.engine.loader import single_file_prediction_type
    from sd21_desktop.paths import resources_dir

    expected = {
        "v2-inference-v.yaml": "v_prediction",
        "v2-inference.yaml": "epsilon",
        "v2-inpainting-inference.yaml": "epsilon",
    }
    ok = True
    sidecar = path.with_suffix(".yaml")
    for name, wanted in expected.items():
        shutil.copyfile(resources_dir() / "model_configs" / "ldm" / name, sidecar)
        decided = single_file_prediction_type(path, unet)
        print(f"  sidecar {name}: {decided} ({'as expected' if decided == wanted else 'WRONG'})")
        ok = ok and decided == wanted
    sidecar.unlink()
    decided = single_file_prediction_type(path, unet)
    rule = "epsilon (9-channel rule)" if variant == "inpaint" else "the probe on random weights"
    print(f"  no sidecar: {decided} ({rule}; random weights carry no v/epsilon signal)")
    if variant == "inpaint":
        ok = ok and decided == "epsilon"
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", choices=("v", "inpaint"), default="v")
    parser.add_argument("--work-dir", default=None, help="where the 8 GB of files go")
    args = parser.parse_args()
    folder = Path(args.work_dir or tempfile.mkdtemp(prefix="sd21-single-file-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        reference = build_reference(args.variant, folder)
        ok = load_and_compare(args.variant, reference)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
