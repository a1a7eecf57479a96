"""Random-weight ``lllyasviel/Annotators`` files for tests: controlnet_aux's own model classes,
randomly initialised (seeded), saved under the names and in the state-dict layout its detectors'
``from_pretrained`` read (OpenPose's body and hand files without their first key component, as
``open_pose.util.transfer`` maps them back)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sd21_desktop.engine.annotators import ANNOTATORS, library_module


def _without_prefix(state: dict[str, Any]) -> dict[str, Any]:
    return {".".join(key.split(".")[1:]): value for key, value in state.items()}


def _models(name: str) -> dict[str, Any]:
    """The state dicts of ``name``'s files, by file name."""
    if name == "hed":
        return {"ControlNetHED.pth": library_module("hed").ControlNetHED_Apache2().state_dict()}
    if name == "lineart":
        generator = library_module("lineart").Generator
        return {f: generator(3, 1, 3).state_dict() for f in ANNOTATORS[name].files}
    model = library_module("open_pose.model")
    return {
        "body_pose_model.pth": _without_prefix(model.bodypose_model().state_dict()),
        "hand_pose_model.pth": _without_prefix(model.handpose_model().state_dict()),
        "facenet.pth": library_module("open_pose.face").FaceNet().state_dict(),
    }


def save_synthetic_annotator(folder: Path, name: str, seed: int = 0) -> Path:
    """``name``'s weight files with random weights in ``folder`` (made if needed)."""
    import torch

    folder.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(seed)
    for file, state in _models(name).items():
        torch.save(state, folder / file)
    return folder
