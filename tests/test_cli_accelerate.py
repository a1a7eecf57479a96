"""--accelerate on the command line: generate records the path that ran, a re-run asks for the
image's own path and says so when it is missing here, and the GPU suite refuses without CUDA."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from sd21_desktop.cli import main
from sd21_desktop.engine.request import GenerationRequest
from sd21_desktop.gallery.metadata import ImageRecord
from sd21_desktop.gallery.store import GalleryStore
from sd21_desktop.settings import AppSettings, _coerce
from tests.gallery.test_store_support import image

REPO_ROOT = Path(__file__).resolve().parent.parent


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


def test_an_unknown_accelerate_choice_is_one_line_and_status_2() -> None:
    status, _, err = run_cli("generate", "--prompt", "x", "--accelerate", "turbo")
    assert status == 2
    assert "invalid choice: 'turbo'" in err
    assert len(err.strip().splitlines()) <= 2


def test_generate_records_the_path_in_the_gallery(tiny_model_dir: Path) -> None:
    status, out, err = run_cli(
        "generate", "--prompt", "a boat", "--model", str(tiny_model_dir), "--steps", "1",
        "--width", "64", "--height", "64", "--device", "cpu", "--json",
    )  # fmt: skip
    assert status == 0, err
    made = json.loads(out.splitlines()[0])
    with GalleryStore.open() as store:
        assert store.get(made["id"]).runtime["accelerate"] == "none"


def test_a_re_run_of_an_openvino_image_without_openvino_says_so_and_runs_eager(
    tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    request = GenerationRequest(
        prompt="a boat", model=str(tiny_model_dir), seed=3, steps=1, width=64, height=64
    )
    with GalleryStore.open() as store:
        entry = store.add_image(image(3), ImageRecord(request, 3, 0, {"accelerate": "openvino"}))
    monkeypatch.setitem(sys.modules, "openvino", None)  # not installed here
    status, out, err = run_cli("rerun", str(entry.id), "--device", "cpu", "--json")
    assert status == 0, err
    assert "OpenVINO is not installed, so the denoiser ran in plain PyTorch" in err
    rerun = json.loads(out.splitlines()[0])
    with GalleryStore.open() as store:
        assert store.get(rerun["id"]).runtime["accelerate"] == "none"


def test_settings_keep_a_valid_accelerate_choice_and_pass_it_on(tmp_path: Path) -> None:
    assert _coerce(AppSettings(), {"accelerate": "openvino"}).accelerate == "openvino"
    assert _coerce(AppSettings(), {"accelerate": "warp"}).accelerate == "none"
    options = AppSettings(accelerate="auto").runtime_options(str(tmp_path))
    assert (options.accelerate, options.cache_dir) == ("auto", str(tmp_path))


def test_the_gpu_suite_refuses_politely_without_cuda() -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: the suite would run for minutes")
    done = subprocess.run(
        [sys.executable, str(REPO_ROOT / "bench" / "gpu_suite.py")],
        capture_output=True, text=True, check=False, cwd=REPO_ROOT, timeout=300,
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "gpu_suite: this PyTorch sees no CUDA GPU; run it on a machine with an NVIDIA GPU and "
        "the CUDA build of torch (or use --dry-run to check the script on the CPU)."
    )


def test_the_gpu_suite_dry_run_writes_its_figures_and_keeps_to_its_budget(tmp_path: Path) -> None:
    out = tmp_path / "gpu.json"
    done = subprocess.run(
        [sys.executable, str(REPO_ROOT / "bench" / "gpu_suite.py"), "--dry-run", "--quick",
         "--budget-s", "0", "--out", str(out)],
        capture_output=True, text=True, check=False, cwd=REPO_ROOT, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(out.read_text())
    case = report["cases"]["512x1"]
    assert case["raw_diffusers"]["it_s"] > 0
    skipped = "skipped: the time budget was spent"
    assert case["engine_none"] == skipped
    assert case["engine_compile:default"] == skipped


def test_the_detail_pane_names_an_accelerated_path_only(tiny_model_dir: Path) -> None:
    from sd21_desktop.ui.gallery_details import describe

    request = GenerationRequest(prompt="a boat", model=str(tiny_model_dir), seed=3, steps=1)
    with GalleryStore.open() as store:
        fast = store.add_image(image(3), ImageRecord(request, 3, 0, {"accelerate": "openvino"}))
        plain = store.add_image(image(4), ImageRecord(request, 3, 0, {"accelerate": "none"}))
    assert "<b>Accelerated with</b></td><td>openvino" in describe(fast)
    assert "Accelerated with" not in describe(plain)
