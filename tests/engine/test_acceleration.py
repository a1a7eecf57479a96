"""--accelerate: every choice runs every mode within float noise of eager, falls back to eager
with a notice, records its path, and a second process reuses the saved conversion."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from sd21_desktop.engine import acceleration
from sd21_desktop.engine.acceleration import openvino_backend, recorded_path, resolve_path
from sd21_desktop.engine.acceleration.gpu import OverflowSafeDecoder
from sd21_desktop.engine.acceleration.openvino_backend import read_hit_log
from sd21_desktop.engine.acceleration.parts import Inputs, Part, Runner
from sd21_desktop.engine.device import RuntimeOptions
from sd21_desktop.engine.inputs import InputImages
from sd21_desktop.engine.networks import NetworkFolders
from sd21_desktop.engine.request import GenerationRequest
from sd21_desktop.engine.runner import Engine, GenerationResult
from sd21_desktop.engine.synthetic_networks import (
    lora_layers,
    random_vectors,
    save_embedding,
    save_lora,
)
from sd21_desktop.errors import UserFacingError

REPO_ROOT = Path(__file__).resolve().parents[2]
MODES = ("txt2img", "img2img", "inpaint", "depth", "upscale")
MODEL_FIXTURES = {
    "txt2img": "tiny_model_dir",
    "img2img": "tiny_model_dir",
    "inpaint": "tiny_inpaint_model_dir",
    "depth": "tiny_depth_model_dir",
    "upscale": "tiny_upscale_model_dir",
}


def psnr(a: Image.Image, b: Image.Image) -> float:
    diff = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    mse = float(np.mean(diff**2))
    return float("inf") if mse == 0 else 10 * float(np.log10(255.0**2 / mse))


def picture(side: int) -> Image.Image:
    y, x = np.mgrid[0:side, 0:side]
    pixels = np.stack([x * 255 / side, y * 255 / side, (x + y) * 127 / side], -1)
    return Image.fromarray(pixels.astype(np.uint8), "RGB")


def mode_request(mode: str, model: Path, store: InputImages) -> GenerationRequest:
    values: dict[str, Any] = {"prompt": "a red fox", "model": str(model), "mode": mode}
    values.update(seed=5, steps=2, width=64, height=64, batch_size=1)
    if mode != "txt2img":
        values["init_image"] = store.put(picture(32 if mode == "upscale" else 64))
    if mode == "inpaint":
        mask = np.zeros((64, 64), dtype=np.uint8)
        mask[16:48, 16:48] = 255
        values["mask_image"] = store.put(Image.fromarray(mask, "L"))
    if mode in ("img2img", "inpaint", "depth"):
        values["strength"] = 1.0
    return GenerationRequest(**values)


@pytest.fixture(scope="session")
def accelerate_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One conversion cache for the session: each tiny model/shape is converted once."""
    return tmp_path_factory.mktemp("accelerate-cache")


def run(
    mode: str,
    model: Path,
    store: InputImages,
    choice: str,
    cache: Path,
    on_status: Callable[[str], None] | None = None,
) -> GenerationResult:
    options = RuntimeOptions(device="cpu", accelerate=choice, cache_dir=str(cache))
    return Engine(options).generate(
        mode_request(mode, model, store), inputs=store, on_status=on_status
    )


class TorchGraphBackend:
    """A backend that runs the part's conversion graph in PyTorch: tests the drop-in plumbing
    (argument adaptation, timestep vector, output types) in every mode, in milliseconds."""

    name = "graph"

    def __init__(self) -> None:
        self.prepared: list[str] = []

    def prepare(self, part: Part, module: Any, inputs: Inputs) -> Runner:
        graph = part.graph(module, inputs)
        self.prepared.append(part.name)
        return lambda tensors: graph(*tensors)


class FrozenGraphBackend:
    """Like OpenVINO, a prepared graph keeps the weights the module had when it was prepared
    (a deep copy): what a LoRA or an embedding added later is missing from it."""

    name = "frozen"

    def __init__(self) -> None:
        self.prepared: list[str] = []

    def prepare(self, part: Part, module: Any, inputs: Inputs) -> Runner:
        import copy

        graph = copy.deepcopy(part.graph(module, inputs))
        self.prepared.append(part.name)
        return lambda tensors: graph(*tensors)


class FailingBackend:
    name = "openvino"

    def __init__(self, when: str) -> None:
        self.when = when

    def prepare(self, part: Part, module: Any, inputs: Inputs) -> Runner:
        if self.when == "prepare":
            raise RuntimeError("simulated conversion failure")

        def run(tensors: Inputs) -> Any:
            if self.when == "nan":  # a miscompiled graph: runs, but its numbers are garbage
                return tensors[0].new_full(tensors[0].shape[:1] + (4, 8, 8), float("nan"))
            raise RuntimeError("simulated inference failure")

        return run


def use_backend(monkeypatch: pytest.MonkeyPatch, backend: Any) -> None:
    monkeypatch.setattr(acceleration, "_backend", lambda *args: backend)


# --- choosing a path ---------------------------------------------------------------------------


def test_none_and_compile_are_taken_as_asked() -> None:
    assert resolve_path("none", "cpu", "float32") == ("none", None)
    assert resolve_path("compile", "cuda", "float16") == ("compile", None)


@pytest.mark.parametrize("bf16_units", [True, False])
def test_auto_picks_f32_openvino_on_a_cpu_when_installed_else_eager(
    bf16_units: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("openvino")
    monkeypatch.setattr(openvino_backend, "cpu_has_bf16", lambda: bf16_units)
    assert resolve_path("auto", "cpu", "float32") == ("openvino", None)  # bf16: not float noise
    assert resolve_path("auto", "cuda", "float16") == ("none", None)
    monkeypatch.setitem(sys.modules, "openvino", None)  # import openvino now fails
    assert resolve_path("auto", "cpu", "float32") == ("none", None)


def test_openvino_off_the_cpu_or_missing_runs_eager_with_a_notice(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    path, notice = resolve_path("openvino", "cuda", "float16")
    assert path == "none"
    assert notice is not None
    assert "CPU in float32 only" in notice
    monkeypatch.setitem(sys.modules, "openvino", None)
    path, notice = resolve_path("openvino", "cpu", "float32")
    assert path == "none"
    assert notice is not None
    assert "not installed" in notice
    assert "pip install openvino" in notice


def test_bf16_on_a_cpu_without_bf16_units_runs_openvino_f32_with_a_notice(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    pytest.importorskip("openvino")
    monkeypatch.setattr(openvino_backend, "cpu_has_bf16", lambda: False)
    path, notice = resolve_path("openvino-bf16", "cpu", "float32")
    assert path == "openvino"
    assert notice is not None
    assert "no bf16 units" in notice
    monkeypatch.setattr(openvino_backend, "cpu_has_bf16", lambda: True)
    assert resolve_path("openvino-bf16", "cpu", "float32") == ("openvino-bf16", None)
    path, notice = resolve_path("openvino-bf16", "cuda", "float16")
    assert path == "none"
    assert notice is not None


def test_the_cpu_capability_is_read_from_openvino() -> None:
    openvino = pytest.importorskip("openvino")
    reported = openvino.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    assert openvino_backend.cpu_has_bf16() == ("BF16" in reported)


def test_an_unknown_choice_is_refused_with_the_valid_ones() -> None:
    with pytest.raises(UserFacingError, match="Unknown accelerate choice 'fast'") as caught:
        RuntimeOptions(accelerate="fast")
    assert "none, compile, openvino, openvino-bf16, auto" in caught.value.hint


@pytest.mark.parametrize(
    ("recorded", "choice"),
    [
        ({"accelerate": "openvino"}, "openvino"),
        ({"accelerate": "openvino-bf16"}, "openvino-bf16"),
        ({"accelerate": "none,openvino"}, "openvino"),
        ({"accelerate": "compile"}, "compile"),
        ({"accelerate": "none"}, "none"),
        ({}, "none"),  # an image from before --accelerate
        ({"accelerate": "warp-drive"}, "none"),
    ],
)
def test_a_re_run_asks_for_the_recorded_path(recorded: dict[str, str], choice: str) -> None:
    assert recorded_path(recorded) == choice


# --- the drop-in parts, every mode ---------------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_the_accelerated_parts_are_drop_in_in_every_mode(
    mode: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    model = request.getfixturevalue(MODEL_FIXTURES[mode])
    store = InputImages(tmp_path / "inputs")
    eager = run(mode, model, store, "none", tmp_path / "cache")
    backend = TorchGraphBackend()
    use_backend(monkeypatch, backend)
    through = run(mode, model, store, "openvino", tmp_path / "cache")
    assert {"unet", "vae_decoder", "text_encoder"} <= set(backend.prepared)
    if mode in ("img2img", "inpaint", "depth"):
        assert "vae_encoder" in backend.prepared
    assert through.runtime.accelerate == "graph"
    assert eager.runtime.accelerate == "none"
    assert psnr(through.images[0], eager.images[0]) >= 60.0


@pytest.mark.parametrize(
    ("when", "reason"),
    [
        ("prepare", "simulated conversion failure"),
        ("run", "simulated inference failure"),
        ("nan", "its output had NaN or infinite values, its input none"),
    ],
)
def test_a_failing_backend_falls_back_to_eager_with_a_notice(
    when: str,
    reason: str,
    tiny_model_dir: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    store = InputImages(tmp_path / "inputs")
    eager = run("txt2img", tiny_model_dir, store, "none", tmp_path / "cache")
    use_backend(monkeypatch, FailingBackend(when))
    statuses: list[str] = []
    result = run("txt2img", tiny_model_dir, store, "openvino", tmp_path / "cache", statuses.append)
    assert np.array_equal(np.asarray(result.images[0]), np.asarray(eager.images[0]))
    assert result.runtime.accelerate == "none"
    failure = [n for n in result.notices if "could not run the unet at 64x64, batch 2" in n]
    assert failure
    assert reason in failure[0]
    assert "plain PyTorch" in failure[0]
    assert failure[0] in statuses  # the GUI's status line says it as it happens


def test_a_missing_backend_runs_eager_with_a_notice_on_every_result(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = InputImages(tmp_path / "inputs")
    eager = run("txt2img", tiny_model_dir, store, "none", tmp_path / "cache")
    monkeypatch.setitem(sys.modules, "openvino", None)
    options = RuntimeOptions(device="cpu", accelerate="openvino", cache_dir=str(tmp_path))
    engine = Engine(options)
    job = mode_request("txt2img", tiny_model_dir, store)
    for _ in range(2):
        result = engine.generate(job)
        assert np.array_equal(np.asarray(result.images[0]), np.asarray(eager.images[0]))
        assert result.runtime.accelerate == "none"
        assert any("OpenVINO is not installed" in notice for notice in result.notices)


def test_a_call_with_arguments_the_graph_lacks_runs_eager(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    use_backend(monkeypatch, TorchGraphBackend())
    options = RuntimeOptions(device="cpu", accelerate="openvino", cache_dir=str(tmp_path))
    loaded = Engine(options).load(str(tiny_model_dir))
    unet = loaded.pipeline.unet
    sample = torch.randn(1, 4, 8, 8)
    context = torch.randn(1, 77, unet.config.cross_attention_dim)
    with torch.no_grad():
        plain = unet(sample, 10, context, cross_attention_kwargs={"scale": 1.0}).sample
        fast = unet(sample, 10, encoder_hidden_states=context, return_dict=False)[0]
    assert loaded.acceleration.used["unet"] == {"none", "graph"}
    assert torch.allclose(plain, fast, atol=1e-5)


def control_request(model: Path, controlnet: Path, store: InputImages) -> GenerationRequest:
    """txt2img with one ControlNet unit (a window, so some steps get zero-scaled residuals)."""
    from sd21_desktop.engine.control_units import ControlUnit

    unit = ControlUnit(str(controlnet), store.put(picture(64)), 0.8, 0.0, 0.5)
    return mode_request("txt2img", model, store).replace(controls=(unit,))


def test_controlnet_steps_run_the_accelerated_unet_with_the_residuals(
    tiny_model_dir: Path, tiny_controlnet_dir: Path, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    store = InputImages(tmp_path / "inputs")
    job = control_request(tiny_model_dir, tiny_controlnet_dir, store)
    eager = Engine(RuntimeOptions(device="cpu")).generate(job, inputs=store)
    plain = Engine(RuntimeOptions(device="cpu")).generate(job.replace(controls=()), inputs=store)
    backend = TorchGraphBackend()
    use_backend(monkeypatch, backend)
    options = RuntimeOptions(device="cpu", accelerate="openvino", cache_dir=str(tmp_path))
    engine = Engine(options)
    through = engine.generate(job, inputs=store)
    assert engine.cache.loaded is not None
    assert engine.cache.loaded.acceleration.used["unet"] == {"graph"}  # no step ran eager
    assert through.runtime.accelerate == "graph"
    assert psnr(through.images[0], eager.images[0]) >= 60.0
    assert psnr(through.images[0], plain.images[0]) < 40.0  # the residuals were applied


def _networks_engine(tmp_path: Path, choice: str) -> Engine:
    folders = NetworkFolders(tmp_path / "embeddings", tmp_path / "lora")
    options = RuntimeOptions(device="cpu", accelerate=choice, cache_dir=str(tmp_path / "cache"))
    return Engine(options, networks=folders)


def test_a_lora_or_embedding_is_never_left_out_of_an_accelerated_graph(
    tiny_model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sd21_desktop.engine.synthetic import build_components

    parts = build_components()
    save_lora(tmp_path / "lora" / "ink.safetensors", lora_layers(
        parts["unet"], parts["text_encoder"], rank=4, seed=1), "diffusers")  # fmt: skip
    save_embedding(tmp_path / "embeddings" / "mystyle.pt", random_vectors(2, 32, seed=5),
                   "a1111_pt")  # fmt: skip
    prompts = ("a cat", "a cat <lora:ink:0.8>", "a photo of mystyle cat", "a cat")
    eager = _networks_engine(tmp_path, "none")
    expected = [np.asarray(eager.generate(_job(tiny_model_dir, p)).images[0]) for p in prompts]
    use_backend(monkeypatch, FrozenGraphBackend())
    fast = _networks_engine(tmp_path, "openvino")
    results = [fast.generate(_job(tiny_model_dir, p)) for p in prompts]
    for result, pixels in zip(results, expected, strict=True):
        assert psnr(result.images[0], Image.fromarray(pixels)) >= 60.0
    lora, embedding, plain = results[1], results[2], results[3]
    assert lora.runtime.accelerate == "none"
    assert any("A LoRA is active, so the unet ran in plain PyTorch" in n for n in lora.notices)
    assert any("the text encoder ran in plain PyTorch" in n for n in embedding.notices)
    assert plain.runtime.accelerate == "frozen"
    assert not any("plain PyTorch" in n for n in plain.notices)  # said for its own job only


def _job(model: Path, prompt: str) -> GenerationRequest:
    return GenerationRequest(prompt=prompt, model=str(model), seed=3, steps=2, width=64, height=64)


def test_a_half_precision_decode_that_overflows_is_repeated_in_float32() -> None:
    import torch

    class Decoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.scale = torch.nn.Parameter(torch.tensor(1000.0))

        def forward(self, sample: Any) -> Any:
            big = sample * self.scale * self.scale  # 1e6 * x: inf in fp16, fine in fp32
            return big / (self.scale * self.scale)

    decoder = Decoder().to(torch.float16)
    guard = OverflowSafeDecoder(decoder)
    decoder.forward = guard  # type: ignore[method-assign]
    out = decoder(torch.full((1, 4), 0.5, dtype=torch.float16))
    assert out.dtype == torch.float16
    assert bool(torch.isfinite(out).all())
    assert torch.allclose(out.float(), torch.full((1, 4), 0.5))
    assert guard.upcasts == 1
    assert decoder.scale.dtype == torch.float16
    decoder(torch.full((1, 4), 0.0, dtype=torch.float16))
    assert guard.upcasts == 1  # a finite decode is not repeated


# --- real OpenVINO and torch.compile -------------------------------------------------------------


OPENVINO_FLOORS = {"openvino": 60.0, "openvino-bf16": 36.0}
"""PSNR against eager. f32 is float noise (~84 dB measured). bf16 rounds the UNet's matrix
inputs to 8 significant bits, which is not float noise: the tiny random model measured 39-48 dB
(img2img 39.4), the full-size architecture 43.0-43.2 dB at 512² and 4 steps and 48.6 at 20. That
is why it is an explicit choice and never ``auto``'s; its floor here catches a broken bf16 path (a
wrong precision on the VAE too gave 38.5 dB in img2img; noise gives ~10), not the precision."""


@pytest.mark.parametrize("choice", list(OPENVINO_FLOORS))
@pytest.mark.parametrize("mode", MODES)
def test_openvino_is_within_float_noise_of_eager_in_every_mode(
    mode: str, choice: str, request: pytest.FixtureRequest, tmp_path: Path, accelerate_cache: Path
) -> None:
    pytest.importorskip("openvino")
    if choice == "openvino-bf16" and not openvino_backend.cpu_has_bf16():
        pytest.skip("this CPU has no bf16 units (OpenVINO reports no BF16 capability)")
    model = request.getfixturevalue(MODEL_FIXTURES[mode])
    store = InputImages(tmp_path / "inputs")
    eager = run(mode, model, store, "none", accelerate_cache)
    statuses: list[str] = []
    fast = run(mode, model, store, choice, accelerate_cache, statuses.append)
    assert fast.runtime.accelerate == choice, fast.notices
    assert fast.notices == eager.notices
    assert psnr(fast.images[0], eager.images[0]) >= OPENVINO_FLOORS[choice]
    assert any(
        s.startswith(("Optimising for this size (first time only): the unet at ",
                      "Loading the optimised model for the unet at "))
        for s in statuses
    )  # fmt: skip


SECOND_PROCESS = """
import json, sys
from sd21_desktop.engine.device import RuntimeOptions
from sd21_desktop.engine.request import GenerationRequest
from sd21_desktop.engine.runner import Engine
engine = Engine(RuntimeOptions(device="cpu", accelerate="openvino", cache_dir=sys.argv[2]))
job = GenerationRequest(prompt="a red fox", model=sys.argv[1], seed=5, steps=2, width=64, height=64)
result = engine.generate(job)
state = engine.cache.loaded.acceleration
print(json.dumps({"prepared": state.prepared, "reused": state.reused,
                  "ran": result.runtime.accelerate}))
"""


def test_a_second_process_reuses_the_saved_conversion(
    tiny_model_dir: Path, tmp_path: Path, accelerate_cache: Path
) -> None:
    pytest.importorskip("openvino")
    store = InputImages(tmp_path / "inputs")
    first = Engine(
        RuntimeOptions(device="cpu", accelerate="openvino", cache_dir=str(accelerate_cache))
    )
    first.generate(mode_request("txt2img", tiny_model_dir, store))  # converts, or reuses
    before = read_hit_log(accelerate_cache / "accelerate" / "openvino")
    done = subprocess.run(
        [sys.executable, "-c", SECOND_PROCESS, str(tiny_model_dir), str(accelerate_cache)],
        capture_output=True, text=True, check=False, cwd=REPO_ROOT, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    second = json.loads(done.stdout.strip().splitlines()[-1])
    assert second == {"prepared": 0, "reused": 3, "ran": "openvino"}
    after = read_hit_log(accelerate_cache / "accelerate" / "openvino")[len(before) :]
    assert [event["event"] for event in after] == ["hit", "hit", "hit"]
    assert {event["part"] for event in after} == {"text_encoder", "unet", "vae_decoder"}


@pytest.mark.parametrize(
    "choice", ["openvino", pytest.param("compile", marks=pytest.mark.slow)]
)  # compile: about a minute of inductor work on this CPU
def test_controlnet_steps_run_accelerated_within_float_noise_of_eager(
    choice: str,
    tiny_model_dir: Path,
    tiny_controlnet_dir: Path,
    tmp_path: Path,
    accelerate_cache: Path,
) -> None:
    if choice == "openvino":
        pytest.importorskip("openvino")
    store = InputImages(tmp_path / "inputs")
    job = control_request(tiny_model_dir, tiny_controlnet_dir, store)
    eager = Engine(RuntimeOptions(device="cpu")).generate(job, inputs=store)
    options = RuntimeOptions(device="cpu", accelerate=choice, cache_dir=str(accelerate_cache))
    engine = Engine(options)
    fast = engine.generate(job, inputs=store)
    assert fast.runtime.accelerate == choice, fast.notices
    assert engine.cache.loaded is not None
    assert engine.cache.loaded.acceleration.used["unet"] == {choice}
    assert psnr(fast.images[0], eager.images[0]) >= 40.0


def test_torch_compile_is_within_float_noise_of_eager(
    tiny_model_dir: Path, tmp_path: Path, accelerate_cache: Path
) -> None:
    store = InputImages(tmp_path / "inputs")
    eager = run("txt2img", tiny_model_dir, store, "none", accelerate_cache)
    fast = run("txt2img", tiny_model_dir, store, "compile", accelerate_cache)
    assert fast.runtime.accelerate == "compile", fast.notices
    assert psnr(fast.images[0], eager.images[0]) >= 40.0


def test_f32_and_bf16_compiles_of_one_model_alive_together_stay_correct(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    """OpenVINO 2026.4's CPU plugin gave NaN (4 runs in 6, full-size UNet at 512²) when a bf16
    compile was read from the same ``CACHE_DIR`` as a live f32 compile of the same model; each
    precision keeps its compiled blobs in its own folder (0 in 6 then). The tiny model does not
    show the NaN, so the folders are checked too; the images check that both paths still run."""
    pytest.importorskip("openvino")
    if not openvino_backend.cpu_has_bf16():
        pytest.skip("this CPU has no bf16 units (OpenVINO reports no BF16 capability)")
    store = InputImages(tmp_path / "inputs")
    cache = tmp_path / "cache"
    eager = run("txt2img", tiny_model_dir, store, "none", cache)
    job = mode_request("txt2img", tiny_model_dir, store)
    for _ in range(2):  # the first round writes the blobs, the second reads them back
        engines = [
            Engine(RuntimeOptions(device="cpu", accelerate=choice, cache_dir=str(cache)))
            for choice in OPENVINO_FLOORS
        ]
        for engine, (choice, floor) in zip(engines, OPENVINO_FLOORS.items(), strict=True):
            result = engine.generate(job)
            assert result.runtime.accelerate == choice, result.notices
            assert psnr(result.images[0], eager.images[0]) >= floor
    folders = {
        openvino_backend.OpenVINOBackend(
            cache, "model", acceleration.Acceleration(), name
        ).core.get_property("CACHE_DIR")
        for name in OPENVINO_FLOORS
    }
    assert len(folders) == 2


def test_a_conversion_says_what_it_optimises_and_how_long_the_earlier_ones_took(
    tiny_model_dir: Path, tmp_path: Path
) -> None:
    pytest.importorskip("openvino")
    store = InputImages(tmp_path / "inputs")
    options = RuntimeOptions(device="cpu", accelerate="openvino", cache_dir=str(tmp_path))
    engine = Engine(options)
    statuses: list[str] = []
    job = mode_request("txt2img", tiny_model_dir, store)
    engine.generate(job, inputs=store, on_status=statuses.append)
    assert "Optimising for this size (first time only): the unet at 64x64, batch 2…" in statuses
    statuses.clear()
    engine.generate(job.replace(width=128, height=128), inputs=store, on_status=statuses.append)
    unet = [s for s in statuses if "the unet at 128x128, batch 2" in s]
    assert len(unet) == 1
    assert re.fullmatch(r"Optimising .*, about \d+ s…", unet[0]), unet[0]
    converted = [e for e in read_hit_log(tmp_path / "accelerate" / "openvino")
                 if e["event"] == "convert" and e["part"] == "unet"]  # fmt: skip
    assert [e["elements"] for e in converted] == [2 * 4 * 8 * 8, 2 * 4 * 16 * 16]
    assert all(e["seconds"] > 0 for e in converted)


def test_the_estimate_scales_earlier_conversions_by_size() -> None:
    import torch

    events = [
        {"event": "convert", "part": "unet", "seconds": 100.0, "elements": 1000},
        {"event": "convert", "part": "unet", "seconds": 300.0, "elements": 1000},
        {"event": "convert", "part": "vae_decoder", "seconds": 1.0, "elements": 1000},
        {"event": "hit", "part": "unet"},
    ]
    bigger = (torch.zeros(4000),)
    assert openvino_backend.estimate_s(events, "unet", bigger) == pytest.approx(800.0)
    assert openvino_backend.estimate_s(events, "text_encoder", bigger) is None
    spoken = openvino_backend.spoken_duration
    assert (spoken(2), spoken(42), spoken(200), spoken(729)) == ("5 s", "40 s", "3 min", "12 min")
