"""The CPU/CUDA build and NVIDIA GPU probe behind --version, Help → About and the window's
start-up hint, on faked torch folders and a faked /proc (no GPU is needed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sd21_desktop.engine import flavour
from sd21_desktop.engine.flavour import BuildReport, build_report, nvidia_gpu, torch_flavour

RTX = "NVIDIA GeForce RTX 4090"


def fake_torch(folder: Path, cuda: bool) -> Path:
    lib = folder / "torch" / "lib"
    lib.mkdir(parents=True)
    (lib / "libtorch_cpu.so").write_bytes(b"")
    if cuda:
        (lib / "libtorch_cuda.so").write_bytes(b"")
    return folder / "torch"


def fake_proc(folder: Path, models: list[str | None]) -> Path:
    """/proc/driver/nvidia/gpus/<bus id>/information as the NVIDIA driver writes it."""
    gpus = folder / "proc" / "driver" / "nvidia" / "gpus"
    gpus.mkdir(parents=True)
    for index, model in enumerate(models):
        gpu = gpus / f"0000:0{index + 1}:00.0"
        gpu.mkdir()
        lines = [f"Model: \t\t {model}"] if model else []
        lines += ["IRQ:   \t\t 160", "GPU UUID: \t GPU-1234", "Bus Type: \t PCIe"]
        (gpu / "information").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return folder / "proc"


def test_the_build_is_told_by_torchs_libraries(tmp_path: Path) -> None:
    assert torch_flavour(fake_torch(tmp_path / "a", cuda=True)) == "cuda"
    assert torch_flavour(fake_torch(tmp_path / "b", cuda=False)) == "cpu"
    assert torch_flavour(tmp_path / "missing") == "none"


def test_the_file_check_agrees_with_the_installed_torch() -> None:
    import torch

    assert torch_flavour() == ("cuda" if torch.version.cuda else "cpu")


def test_a_frozen_bundle_is_read_from_its_own_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_torch(tmp_path, cuda=True)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path), raising=False)
    assert torch_flavour() == "cuda"


def test_the_gpu_probe_reads_the_drivers_proc_files(tmp_path: Path) -> None:
    assert nvidia_gpu(fake_proc(tmp_path / "one", [RTX, "NVIDIA A100"])) == RTX
    assert nvidia_gpu(fake_proc(tmp_path / "unnamed", [None])) == "NVIDIA GPU"
    assert nvidia_gpu(fake_proc(tmp_path / "none", [])) is None
    assert nvidia_gpu(tmp_path / "no-driver") is None


def test_without_proc_files_nvidia_smi_on_the_path_means_a_gpu(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "platform", "win32")
    found = {"nvidia-smi": r"C:\Windows\System32\nvidia-smi.exe"}
    assert nvidia_gpu(tmp_path, which=found.get) == "NVIDIA GPU"
    assert nvidia_gpu(tmp_path, which={}.get) is None


def test_summaries_say_which_build_and_where_it_runs() -> None:
    assert BuildReport("cuda", None).summary() == "CUDA build, running on CPU: no NVIDIA GPU found"
    assert BuildReport("cuda", None).summary("CPU (2 threads)") == (
        "CUDA build, running on CPU: no NVIDIA GPU found"
    )
    assert BuildReport("cuda", RTX).summary() == f"CUDA build, NVIDIA GPU found: {RTX}"
    on_gpu = BuildReport("cuda", RTX).summary(f"CUDA: {RTX} (CUDA 13.0)")
    assert on_gpu == f"CUDA build, running on the GPU (CUDA: {RTX} (CUDA 13.0))"
    unusable = BuildReport("cuda", RTX).summary("CPU (16 threads)")
    assert unusable.startswith("CUDA build, running on CPU")
    assert "driver" in unusable
    assert BuildReport("none", None).summary() == "no PyTorch installed"


@pytest.mark.skipif(sys.platform == "darwin", reason="macOS builds are CPU/MPS builds")
def test_only_a_cpu_build_beside_an_nvidia_gpu_points_at_the_cuda_build() -> None:
    assert BuildReport("cpu", None).summary() == "CPU build, running on CPU"
    hint = BuildReport("cpu", RTX).cuda_hint()
    assert hint is not None
    assert "\n" not in hint
    assert RTX in hint
    assert "CUDA build" in hint
    assert "seconds per image instead of minutes on the CPU" in hint  # why it is faster
    assert BuildReport("cpu", None).cuda_hint() is None
    assert BuildReport("cuda", RTX).cuda_hint() is None
    assert BuildReport("cuda", None).cuda_hint() is None


def test_build_report_combines_both_probes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(flavour, "PROC", fake_proc(tmp_path, [RTX]))
    report = build_report(fake_torch(tmp_path / "t", cuda=False))
    assert report == BuildReport("cpu", RTX)


def test_probing_imports_no_torch() -> None:
    code = (
        "import sys\nfrom sd21_desktop.engine.flavour import build_report\n"
        "print(build_report().summary())\nassert 'torch' not in sys.modules, 'torch imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "build" in done.stdout


def _version(capsys: pytest.CaptureFixture[str]) -> list[str]:
    from sd21_desktop.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code in (0, None)
    return capsys.readouterr().out.splitlines()


def test_version_of_a_cuda_bundle_on_a_machine_without_a_gpu(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_torch(tmp_path / "bundle", cuda=True)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path / "bundle"), raising=False)
    monkeypatch.setattr(flavour, "PROC", tmp_path / "proc")  # no NVIDIA driver
    lines = _version(capsys)
    assert lines[0].startswith("sd21-desktop ")
    assert lines[1:] == ["CUDA build, running on CPU: no NVIDIA GPU found"]


@pytest.mark.skipif(sys.platform == "darwin", reason="macOS builds are CPU/MPS builds")
def test_version_of_a_cpu_bundle_beside_an_nvidia_gpu_names_the_cuda_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_torch(tmp_path / "bundle", cuda=False)
    monkeypatch.setattr(sys, "_MEIPASS", str(tmp_path / "bundle"), raising=False)
    monkeypatch.setattr(flavour, "PROC", fake_proc(tmp_path, [RTX]))
    lines = _version(capsys)
    assert lines[1] == "CPU build, running on CPU"
    assert lines[2] == BuildReport("cpu", RTX).cuda_hint()
