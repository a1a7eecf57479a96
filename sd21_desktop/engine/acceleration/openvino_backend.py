"""OpenVINO on the CPU: convert a part once per shape, keep the conversion on disk.

``openvino.convert_model`` traces the part's graph with example inputs of the real shapes (static
shapes run fastest on the CPU plugin); the result is saved with ``openvino.save_model`` under the
cache folder, keyed by the model's files, the part, the shapes/dtypes and the library versions,
so the next start reads it in seconds instead of converting again. OpenVINO's own ``CACHE_DIR``
keeps the compiled blob beside it, one folder per precision (:func:`compiled_folder`).

Two precisions, recorded as two paths so a re-run uses the same one: ``openvino`` pins inference
to f32 (``INFERENCE_PRECISION_HINT``; the image is within float noise of eager, ~83 dB), and
``openvino-bf16`` runs the UNet's matrix work in bf16 on CPUs with bf16 units (AVX-512 BF16,
AMX): 2.44x eager per step at 512² here against f32's 1.22x, but the final image is 40-49 dB
from eager (full-size SD 2.1 architecture, random weights: 43.0-43.2 dB at 512² and 4 steps
over three seeds, 48.6 at 20 steps, 40.4 at 768² and 2 steps) and 39.4 dB in the tiny model's
img2img, so only the user picks it. The text encoder and the VAE stay f32: they run once per
image, and the VAE's output is the pixels themselves (in bf16 the tiny model's img2img fell to
38.5 dB). Both paths read the same converted f32 models; only the compile differs.
"""

from __future__ import annotations

import functools
import hashlib
import json
import statistics
import time
from pathlib import Path
from typing import Any

from sd21_desktop.engine.acceleration.parts import Inputs, Part, Runner, describe, signature
from sd21_desktop.engine.acceleration.state import Acceleration

NAME = "openvino"
BF16_NAME = "openvino-bf16"
PRECISIONS = {NAME: "f32", BF16_NAME: "bf16"}
HIT_LOG = "hits.log"


def compile_config(precision: str) -> dict[str, str]:
    return {"INFERENCE_PRECISION_HINT": precision, "PERFORMANCE_HINT": "LATENCY"}


def compiled_folder(unet_precision: str) -> str:
    """Where OpenVINO keeps this path's compiled blobs: one folder per precision. With both
    precisions of one UNet read back from one folder and alive in one process, OpenVINO 2026.4's
    CPU plugin gave NaN in 4 runs of 6 (full-size UNet, 512²); with a folder each, in none."""
    return "compiled" if unet_precision == "f32" else f"compiled-{unet_precision}"


@functools.cache
def cpu_has_bf16() -> bool:
    """Whether OpenVINO's CPU plugin runs bf16 natively here (it reports ``BF16`` then)."""
    import openvino

    return "BF16" in openvino.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")


def versions() -> str:
    import diffusers
    import openvino
    import torch

    return f"ov{openvino.__version__}|torch{torch.__version__}|diffusers{diffusers.__version__}"


class OpenVINOBackend:
    """Prepares per-shape OpenVINO models of a part, through the disk cache in ``folder``."""

    def __init__(
        self, folder: Path, model_identity: str, state: Acceleration, name: str = NAME
    ) -> None:
        import openvino

        self.name = name
        self.unet_precision = PRECISIONS[name]
        self.folder = folder
        self.model_identity = model_identity
        self.state = state
        self.core = openvino.Core()
        self.core.set_property({"CACHE_DIR": str(folder / compiled_folder(self.unet_precision))})

    def key(self, part: Part, inputs: Inputs) -> str:
        text = f"{part.name}|{self.model_identity}|{signature(inputs)}|{versions()}"
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]

    def prepare(self, part: Part, module: Any, inputs: Inputs) -> Runner:
        import openvino

        key = self.key(part, inputs)
        path = self.folder / key / "model.xml"
        started = time.perf_counter()
        reused = path.is_file()
        if reused:
            self.state.status(f"Loading the optimised model for {describe(part, inputs)}…")
            model = self.core.read_model(str(path))
        else:
            guess = estimate_s(read_hit_log(self.folder), part.name, inputs)
            self.state.status(
                f"Optimising for this size (first time only): {describe(part, inputs)}"
                f"{'' if guess is None else ', about ' + spoken_duration(guess)}…"
            )
            model = self._convert(part, module, inputs)
            path.parent.mkdir(parents=True, exist_ok=True)
            openvino.save_model(model, str(path), compress_to_fp16=False)
        precision = self.unet_precision if part.name == "unet" else "f32"
        compiled = self.core.compile_model(model, "CPU", compile_config(precision))
        seconds = time.perf_counter() - started
        self.state.prepare_s += seconds
        if reused:
            self.state.reused += 1
            self._log("hit", key, part, inputs)
        else:
            self.state.prepared += 1
            self._log("convert", key, part, inputs, seconds)
        return _runner(compiled)

    def _convert(self, part: Part, module: Any, inputs: Inputs) -> Any:
        import warnings

        import openvino
        import torch

        graph = part.graph(module, inputs)
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the tracer's warnings about Python branches
            return openvino.convert_model(
                graph, example_input=inputs, input=[list(t.shape) for t in inputs]
            )

    def _log(
        self, what: str, key: str, part: Part, inputs: Inputs, seconds: float | None = None
    ) -> None:
        """One line per preparation: the record a second start reads to prove it reused, and
        what a conversion took (the next one's estimate)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        line: dict[str, Any] = {"event": what, "key": key, "part": part.name}
        line["shapes"] = signature(inputs)
        if seconds is not None:
            line.update(seconds=round(seconds, 1), elements=inputs[0].numel())
        with (self.folder / HIT_LOG).open("a", encoding="utf-8") as log:
            log.write(json.dumps(line) + "\n")


def _runner(compiled: Any) -> Runner:
    import torch

    request = compiled.create_infer_request()

    outputs = len(compiled.outputs)

    def run(inputs: Inputs) -> Any:
        arrays = [t.detach().cpu().numpy() for t in inputs]
        request.infer(arrays)
        first = inputs[0]
        # float parts give back their input's dtype; the text encoder (token ids in) gives f32
        dtype = first.dtype if first.is_floating_point() else None
        results = tuple(
            torch.from_numpy(request.get_output_tensor(i).data.copy()).to(
                device=first.device, dtype=dtype
            )
            for i in range(outputs)
        )
        return results[0] if outputs == 1 else results

    return run


def estimate_s(events: list[dict[str, Any]], part: str, inputs: Inputs) -> float | None:
    """How long converting ``part`` for ``inputs`` should take, from this machine's earlier
    conversions of that part (their seconds per element of the first input, median); None
    before the first."""
    rates = [
        e["seconds"] / e["elements"]
        for e in events
        if e.get("event") == "convert" and e.get("part") == part and e.get("elements")
    ]
    return statistics.median(rates) * inputs[0].numel() if rates else None


def spoken_duration(seconds: float) -> str:
    return f"{max(5, round(seconds / 5) * 5)} s" if seconds < 90 else f"{round(seconds / 60)} min"


def read_hit_log(folder: Path) -> list[dict[str, Any]]:
    """The events of the hit log (empty when nothing was prepared yet)."""
    log = folder / HIT_LOG
    if not log.is_file():
        return []
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines() if line]
