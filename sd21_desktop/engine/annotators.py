"""Preprocessors with weights of their own — HED soft edges, line art, OpenPose — by controlnet-aux.

They run the detectors of ``controlnet_aux`` 0.0.10 (the ``annotators`` extra), the code
AUTOMATIC1111's ControlNet extension uses, on the ``lllyasviel/Annotators`` weight files:

* ``hed`` — ``HEDdetector`` on ``ControlNetHED.pth`` (AUTOMATIC1111's ``softedge_hed``);
* ``lineart`` — ``LineartDetector`` on ``sk_model.pth`` (and ``sk_model2.pth``, which it loads
  for its coarse variant; AUTOMATIC1111's ``lineart_realistic``), white lines on black;
* ``openpose`` — ``OpenposeDetector`` on ``body_pose_model.pth``, ``hand_pose_model.pth`` and
  ``facenet.pth`` (it loads all three), the body skeleton only (AUTOMATIC1111's ``openpose``).

A preprocessor is offered only when the library is installed and its files are found, in the
annotators folder (``<data-dir>/models/annotators``, or ``--annotators-dir`` / the setting) or in
the Hugging Face cache's copy of ``lllyasviel/Annotators``; otherwise :func:`unavailable` says in
a line what to install or which files to put where. Nothing here downloads.

Each detector runs at AUTOMATIC1111's preprocessor resolution (512 on the short side) and its
output is given at the picture's size. Importing this module loads neither torch nor the library.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from PIL import Image

from sd21_desktop.errors import UserFacingError

ANNOTATOR_REPO = "lllyasviel/Annotators"
LIBRARY = "controlnet_aux"
INSTALL_HINT = "pip install 'sd21-desktop[annotators]' (controlnet-aux 0.0.10)"
DETECT_RESOLUTION = 512
"""AUTOMATIC1111's default "Preprocessor resolution"."""


@dataclass(frozen=True)
class Annotator:
    name: str
    label: str
    files: tuple[str, ...]
    """What its detector's ``from_pretrained`` reads from one folder."""
    module: str
    detector: str
    needs: tuple[str, ...] = ()
    """Modules besides controlnet_aux its code imports (checked without importing them)."""


ANNOTATORS: dict[str, Annotator] = {
    a.name: a
    for a in (
        Annotator("hed", "HED soft edges", ("ControlNetHED.pth",), "hed", "HEDdetector"),
        Annotator(
            "lineart", "Line art", ("sk_model.pth", "sk_model2.pth"), "lineart", "LineartDetector"
        ),
        Annotator(
            "openpose",
            "OpenPose",
            ("body_pose_model.pth", "hand_pose_model.pth", "facenet.pth"),
            "open_pose",
            "OpenposeDetector",
            needs=("torchvision", "skimage"),
        ),
    )
}
_DETECTORS: dict[tuple[str, str], Any] = {}
"""The last detector used (OpenPose's three models hold 500 MB: one is kept, not all)."""


def weights_folder(name: str, folder: Path | None) -> Path | None:
    """The folder holding all of ``name``'s files: ``folder``, else the hub cache's copy."""
    files = ANNOTATORS[name].files
    if folder is not None and all((folder / file).is_file() for file in files):
        return folder
    from sd21_desktop.engine.models import local_snapshot

    cached = local_snapshot(ANNOTATOR_REPO, files)
    if cached is not None and all((cached / file).is_file() for file in files):
        return cached
    return None


def unavailable(name: str, folder: Path | None) -> str | None:
    """Why ``name`` cannot run here, in a line (None: it can). Imports nothing."""
    annotator = ANNOTATORS[name]
    missing = [m for m in (LIBRARY, *annotator.needs) if importlib.util.find_spec(m) is None]
    if missing:
        return (
            f"The {annotator.label} preprocessor needs {', '.join(missing)}, which is not "
            f"installed: {INSTALL_HINT}."
        )
    if weights_folder(name, folder) is None:
        where = folder if folder is not None else "the annotators folder"
        return (
            f"The {annotator.label} preprocessor needs {', '.join(annotator.files)} from "
            f"{ANNOTATOR_REPO}: put them in {where} (or `hf download {ANNOTATOR_REPO} "
            f"{' '.join(annotator.files)}`)."
        )
    return None


def library_module(module: str) -> ModuleType:
    """``controlnet_aux.<module>`` without running ``controlnet_aux/__init__.py``, which imports
    all eighteen of its detectors (timm, torchvision, mediapipe...) where we use three."""
    if LIBRARY not in sys.modules:
        spec = importlib.util.find_spec(LIBRARY)
        if spec is None:
            raise ImportError(f"No module named {LIBRARY!r}")
        sys.modules[LIBRARY] = importlib.util.module_from_spec(spec)  # the package, not run
    with warnings.catch_warnings():  # its scipy.ndimage.filters imports are deprecated
        warnings.simplefilter("ignore", DeprecationWarning)
        return importlib.import_module(f"{LIBRARY}.{module}")


def detector(name: str, folder: Path | None) -> Any:
    """``name``'s controlnet_aux detector (on the CPU), kept until another one is asked for."""
    reason = unavailable(name, folder)
    if reason is not None:
        raise UserFacingError(reason)
    annotator, weights = ANNOTATORS[name], weights_folder(name, folder)
    key = (name, str(weights))
    if key not in _DETECTORS:
        _DETECTORS.clear()
        try:
            detector_class = getattr(library_module(annotator.module), annotator.detector)
            _DETECTORS[key] = detector_class.from_pretrained(str(weights))
        except Exception as error:  # any broken file or library: a message, not a traceback
            first = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise UserFacingError(
                f"The {annotator.label} preprocessor could not be loaded ({first}).",
                f"Check its files in {weights} and that controlnet-aux and torch(vision) "
                f"match: {INSTALL_HINT}.",
            ) from error
    return _DETECTORS[key]


def annotate(name: str, image: Image.Image, folder: Path | None) -> Image.Image:
    """The control image ``name``'s detector makes of ``image`` (RGB, ``image``'s size)."""
    picture = image.convert("RGB")
    made = detector(name, folder)(
        picture,
        detect_resolution=DETECT_RESOLUTION,
        image_resolution=min(picture.size),
        output_type="pil",
    ).convert("RGB")
    if made.size != picture.size:  # controlnet_aux rounds its sizes to multiples of 64
        made = made.resize(picture.size, Image.Resampling.BILINEAR)
    return made
