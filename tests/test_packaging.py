"""Fast checks of the installer files in packaging/ (no PyInstaller run).

The full build (PyInstaller, the frozen program's smoke test and generation, the .deb round
trip) takes many minutes and gigabytes: it runs only with ``SD21_PACKAGING_TESTS=1``.
"""

from __future__ import annotations

import configparser
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGING = REPO_ROOT / "packaging"
SPEC = PACKAGING / "sd21_desktop.spec"
DESKTOP_FILE = PACKAGING / "linux" / "sd21-desktop.desktop"
ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
FULL_BUILD = os.environ.get("SD21_PACKAGING_TESTS") == "1"


def _load(path: Path, name: str) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# Which library links to which, for the spec's "drop what only dropped plugins needed" step.
_FAKE_LINKS = {
    "libqgtk3.so": ("libgtk-3.so.0", "libfontconfig.so.1"),
    "libgtk-3.so.0": ("libcairo.so.2",),
    "libqxcb.so": ("libfontconfig.so.1",),
}


class _Recorder:
    """Stands in for PyInstaller's Analysis/PYZ/EXE/COLLECT/BUNDLE: keeps what it was given."""

    calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    def __init__(self, kind: str, *args: Any, **kwargs: Any) -> None:
        self.kind, self.args, self.kwargs = kind, args, kwargs
        self.binaries: list[tuple[str, str, str]] = [
            ("torch/lib/libtorch_cpu.so", "/x/libtorch_cpu.so", "BINARY"),
            ("torch/lib/libtorchbind_test.so", "/x/libtorchbind_test.so", "BINARY"),
            ("torch/lib/libfoo.a", "/x/libfoo.a", "BINARY"),
            ("libcudart.so", "/usr/local/cuda/lib/libcudart.so", "BINARY"),
            ("PySide6/Qt/plugins/platforms/libqxcb.so", "/x/libqxcb.so", "BINARY"),
            ("PySide6/Qt/plugins/platformthemes/libqgtk3.so", "/x/libqgtk3.so", "BINARY"),
            ("libgtk-3.so.0", "/x/libgtk-3.so.0", "BINARY"),
            ("libcairo.so.2", "/x/libcairo.so.2", "BINARY"),
            ("libcairo.so", "libcairo.so.2", "SYMLINK"),
            ("libfontconfig.so.1", "/x/libfontconfig.so.1", "BINARY"),
        ]
        self.datas: list[tuple[str, str, str]] = [
            ("torch/include/ATen/ATen.h", "/x/ATen.h", "DATA"),
            ("torch/bin/protoc", "/x/protoc", "DATA"),
            ("scipy/stats/tests/data/x.npz", "/x/x.npz", "DATA"),
            ("resources/clip_tokenizer/vocab.json", "/x/vocab.json", "DATA"),
            ("diffusers/schedulers/scheduling_lms_discrete.py", "/x/lms.py", "DATA"),
        ]
        self.pure: list[Any] = []
        self.scripts: list[Any] = []
        _Recorder.calls.append((kind, args, kwargs))


@pytest.fixture
def spec_namespace(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> tuple[dict[str, Any], list[tuple[str, tuple[Any, ...], dict[str, Any]]]]:
    """Run the spec with PyInstaller's build classes and hook helpers replaced by recorders."""
    metadata_calls: list[tuple[str, bool]] = []
    submodule_calls: list[str] = []

    def copy_metadata(dist: str, recursive: bool = False) -> list[tuple[str, str]]:
        metadata_calls.append((dist, recursive))
        return [(f"/site-packages/{dist}.dist-info", f"{dist}.dist-info")]

    def collect_submodules(package: str, filter: Any = None) -> list[str]:  # noqa: A002
        submodule_calls.append(package)
        names = [package, f"{package}.sub", f"{package}.pipeline_flax_x", f"{package}.onnx_y"]
        return [n for n in names if filter is None or filter(n)]

    hooks = types.ModuleType("PyInstaller.utils.hooks")
    hooks.copy_metadata = copy_metadata  # type: ignore[attr-defined]
    hooks.collect_submodules = collect_submodules  # type: ignore[attr-defined]
    bindepend = types.ModuleType("PyInstaller.depend.bindepend")
    bindepend.get_imports = lambda source: {  # type: ignore[attr-defined]
        (name, None) for name in _FAKE_LINKS.get(Path(source).name, ())
    }
    for name, module in (
        ("PyInstaller", types.ModuleType("PyInstaller")),
        ("PyInstaller.utils", types.ModuleType("PyInstaller.utils")),
        ("PyInstaller.utils.hooks", hooks),
        ("PyInstaller.depend", types.ModuleType("PyInstaller.depend")),
        ("PyInstaller.depend.bindepend", bindepend),
    ):
        monkeypatch.setitem(sys.modules, name, module)
    _Recorder.calls = []
    dist = tmp_path / "dist"
    (dist / "sd21-desktop").mkdir(parents=True)
    namespace: dict[str, Any] = {
        "__name__": "__main__",
        "__file__": str(SPEC),
        "SPECPATH": str(PACKAGING),
        "DISTPATH": str(dist),
        "workpath": str(tmp_path / "work"),
        "metadata_calls": metadata_calls,
        "submodule_calls": submodule_calls,
    }
    for kind in ("Analysis", "PYZ", "EXE", "COLLECT", "BUNDLE"):
        namespace[kind] = lambda *a, _kind=kind, **k: _Recorder(_kind, *a, **k)
    exec(compile(SPEC.read_text(encoding="utf-8"), str(SPEC), "exec"), namespace)  # noqa: S102
    return namespace, _Recorder.calls


def _call(calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]], kind: str) -> list[Any]:
    return [(args, kwargs) for k, args, kwargs in calls if k == kind]


def test_spec_collects_resources_metadata_and_two_programs(spec_namespace: Any) -> None:
    namespace, calls = spec_namespace
    ((_args, analysis),) = _call(calls, "Analysis")
    assert (str(REPO_ROOT / "resources"), "resources") in analysis["datas"]
    fonts = [Path(src) for src, target in analysis["datas"] if target == "fonticon_mdi7/fonts"]
    assert fonts
    assert list(fonts[0].glob("*.ttf"))  # the icons' font travels with the frozen app
    assert str(REPO_ROOT) in analysis["pathex"]
    metadata = dict(namespace["metadata_calls"])
    assert metadata["sd21-desktop"] is True  # every requirement's metadata, recursively
    for dist in (
        "torch",
        "diffusers",
        "transformers",
        "huggingface_hub",
        "tokenizers",
        "safetensors",
        "accelerate",
        "scipy",
    ):
        assert dist in metadata, dist
    exes = [kwargs for _args, kwargs in _call(calls, "EXE")]
    expected = {("sd21-desktop", False)}
    if sys.platform == "win32":  # a console program too; elsewhere a symlink serves
        expected.add(("sd21-desktop-cli", True))
    else:
        link = Path(namespace["DISTPATH"]) / "sd21-desktop" / "sd21-desktop-cli"
        assert os.readlink(link) == "sd21-desktop"
    assert {(e["name"], e["console"]) for e in exes} == expected
    assert all(e["upx"] is False for e in exes)
    ((collect_args, collect_kwargs),) = _call(calls, "COLLECT")
    assert collect_kwargs["name"] == "sd21-desktop"
    assert sum(isinstance(a, _Recorder) and a.kind == "EXE" for a in collect_args) == len(exes)
    bundles = _call(calls, "BUNDLE")
    assert len(bundles) == (1 if sys.platform == "darwin" else 0)


def test_spec_hidden_imports_cover_every_scheduler(spec_namespace: Any) -> None:
    from sd21_desktop.engine.schedulers import SCHEDULERS

    namespace, calls = spec_namespace
    ((_args, analysis),) = _call(calls, "Analysis")
    hidden = set(analysis["hiddenimports"])
    schedulers_dir = Path(importlib.util.find_spec("diffusers").origin).parent / "schedulers"
    for spec in SCHEDULERS:
        defining = [
            name
            for name in namespace["SCHEDULER_MODULES"]
            if re.search(
                rf"^class {spec.class_name}\b",
                (schedulers_dir / f"{name}.py").read_text(encoding="utf-8"),
                re.M,
            )
        ]
        assert defining, f"no hidden import defines {spec.class_name} ({spec.name})"
        assert f"diffusers.schedulers.{defining[0]}" in hidden
    assert "diffusers.pipelines.stable_diffusion.pipeline_stable_diffusion" in hidden
    assert "diffusers.pipelines.stable_diffusion" in namespace["submodule_calls"]
    assert "scipy.integrate" in hidden  # the LMS scheduler
    pipelines = [n for n in hidden if n.startswith("diffusers.pipelines.stable_diffusion.")]
    assert pipelines
    assert not any("flax" in name or "onnx" in name for name in pipelines)


def test_spec_hidden_imports_exist() -> None:
    """Every module the spec names explicitly is importable from this environment."""
    text = SPEC.read_text(encoding="utf-8")
    names = set(re.findall(r'"((?:diffusers|transformers|scipy)\.[\w.]+)"', text))
    names |= {f"diffusers.schedulers.{m}" for m in re.findall(r'"(scheduling_\w+)"', text)}
    assert len(names) > 10

    def exists(name: str) -> bool:  # without importing the parents (diffusers' import torch)
        top, *rest = name.split(".")
        origin = importlib.util.find_spec(top).origin  # type: ignore[union-attr]
        path = Path(origin).parent.joinpath(*rest)  # type: ignore[arg-type]
        return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()

    missing = [name for name in sorted(names) if not exists(name)]
    assert not missing


def test_spec_excludes_nothing_the_app_imports(spec_namespace: Any) -> None:
    _namespace, calls = spec_namespace
    ((_args, analysis),) = _call(calls, "Analysis")
    excludes = set(analysis["excludes"])
    for needed in (
        "PySide6.QtCore",
        "PySide6.QtGui",
        "PySide6.QtWidgets",
        "scipy",
        "torch",
        "diffusers",
        "transformers",
        "sympy",
        "numpy",
        "PIL",
        "sd21_desktop",
        "fonticon_mdi7",
        "cv2",
    ):
        assert needed not in excludes
    for unused in (
        "tkinter",
        "IPython",
        "matplotlib",
        "torchvision",
        "pytest",
        "transformers.models.bert",
        "transformers.models.llama",
    ):
        assert unused in excludes
    for used in ("clip", "auto", "dpt"):
        assert f"transformers.models.{used}" not in excludes
    imported = set()
    for path in (REPO_ROOT / "sd21_desktop").rglob("*.py"):
        imported |= set(
            re.findall(
                r"^\s*(?:from|import) (PySide6\.\w+)", path.read_text(encoding="utf-8"), re.M
            )
        )
    assert imported
    assert not imported & excludes


_BLOCKED_IMPORT_CHECK = """
import importlib, importlib.abc, json, sys
keep = set(json.loads(sys.argv[1]))
blocked = set()

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        parts = name.split(".")
        if parts[:2] == ["transformers", "models"] and len(parts) > 2 and parts[2] not in keep:
            blocked.add(parts[2])
            raise ModuleNotFoundError(f"{name} is not in the bundle")
        return None

sys.meta_path.insert(0, Block())
import diffusers, transformers
for module in json.loads(sys.argv[2]):
    importlib.import_module(module)
for name in ("StableDiffusionPipeline", "StableDiffusionInpaintPipeline",
             "StableDiffusionDepth2ImgPipeline", "StableDiffusionUpscalePipeline",
             "StableDiffusionControlNetPipeline", "StableDiffusionControlNetImg2ImgPipeline",
             "StableDiffusionControlNetInpaintPipeline", "ControlNetModel",
             "DPMSolverMultistepScheduler", "LMSDiscreteScheduler", "DDPMScheduler"):
    getattr(diffusers, name)
for name in ("CLIPTextModel", "CLIPTokenizer", "CLIPImageProcessor", "AutoTokenizer",
             "AutoImageProcessor", "DPTForDepthEstimation", "DPTImageProcessor", "BitBackbone"):
    getattr(transformers, name)
transformers.DPTConfig(is_hybrid=True)  # SD2-depth's DPT-hybrid: a BiT backbone config
print("ok", sorted(blocked))
"""


def test_spec_keeps_every_transformers_family_the_pipelines_import(spec_namespace: Any) -> None:
    """The pipelines import with every transformers model family the spec leaves out blocked."""
    import json

    namespace, calls = spec_namespace
    ((_args, analysis),) = _call(calls, "Analysis")
    modules = [
        name
        for name in analysis["hiddenimports"]
        if name.startswith(("diffusers.pipelines.stable_diffusion.", "diffusers.loaders."))
        and not name.endswith((".sub", "_x", "_y"))  # the recorder's made-up submodules
    ]
    assert "diffusers.pipelines.stable_diffusion.pipeline_stable_diffusion" in modules
    assert "diffusers.loaders.single_file" in modules
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            _BLOCKED_IMPORT_CHECK,
            json.dumps(sorted(namespace["TRANSFORMERS_FAMILIES_USED"])),
            json.dumps(modules),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith("ok")


def test_spec_trims_headers_static_and_test_libraries(spec_namespace: Any) -> None:
    namespace, _calls = spec_namespace
    keep = namespace["_keep"]
    assert keep(("torch/lib/libtorch_cpu.so", "", "BINARY"))
    assert keep(("resources/clip_tokenizer/vocab.json", "", "DATA"))
    assert keep(("diffusers/schedulers/scheduling_lms_discrete.py", "", "DATA"))
    assert keep(("torch/bin/torch_shm_manager", "", "BINARY"))
    assert keep(("torch/testing/_internal/logging_tensor.py", "", "DATA"))  # torch imports it
    assert keep(("PySide6/Qt/plugins/platforms/libqxcb.so", "", "BINARY"))
    assert keep(("PySide6/Qt/plugins/platforms/libqwayland.so", "", "BINARY"))
    for dropped in (
        "torch/include/ATen/ATen.h",
        "torch/bin/protoc",
        "torch/lib/libfoo.a",
        "torch/lib/libtorchbind_test.so",
        "scipy/stats/tests/data/x.npz",
        "libcudart.so",
        "PySide6/Qt/plugins/platformthemes/libqgtk3.so",
        "PySide6/Qt/plugins/platforms/libqeglfs.so",
    ):
        assert not keep((dropped, "", "DATA")), dropped
    binaries = {entry[0] for entry in namespace["a"].binaries}
    assert "torch/lib/libtorch_cpu.so" in binaries
    if sys.platform.startswith("linux"):  # libraries only the GTK theme plugin linked to go too
        assert not binaries & {"libgtk-3.so.0", "libcairo.so.2", "libcairo.so"}
        assert "libfontconfig.so.1" in binaries  # the xcb plugin still links to it
    datas = [entry[0] for entry in namespace["a"].datas]
    assert "build_info.json" in datas
    icon = REPO_ROOT / "resources" / "icons" / "sd21-desktop.png"
    assert icon.exists() or "resources/icons/sd21-desktop.png" in datas


# readelf -d NEEDED of PyTorch 2.14.1's CUDA 13 wheel (torch/lib), for the pruning test below.
_TORCH_CUDA_NEEDED = {
    "libtorch_cuda.so": "libcudart.so.13 libcusparse.so.12 libcufft.so.12 libcufile.so.0 "
    "libcusparseLt.so.0 libnccl.so.2 libcurand.so.10 libcublas.so.13 libcublasLt.so.13 "
    "libcudnn.so.9 libnvrtc.so.13 libtorch_nvshmem.so",
    "libtorch_cpu.so": "libcupti.so.13 libcudart.so.13",
    "libtorch_cuda_linalg.so": "libcusolver.so.12 libcublas.so.13 libcusparse.so.12",
    "libcusparse.so.12": "libnvJitLink.so.13",
    "libtorch_nvshmem.so": "libnvshmem_host.so.3",
}


def test_spec_prunes_only_cuda_libraries_nothing_links(spec_namespace: Any) -> None:
    namespace, _calls = spec_namespace
    keep = namespace["_keep"]
    linked = {name for names in _TORCH_CUDA_NEEDED.values() for name in names.split()}
    for name in sorted(linked):  # whatever torch links must stay, whichever wheel folder
        for folder in ("cu13", "cudnn", "nccl", "cusparselt", "nvshmem"):
            assert keep((f"nvidia/{folder}/lib/{name}", "", "BINARY")), name
    for dlopened in ("libnvrtc-builtins.so.13.0", "libcudnn_cnn.so.9", "libcudnn_adv.so.9"):
        assert keep((f"nvidia/cu13/lib/{dlopened}", "", "BINARY")), dlopened
    for pruned in (
        "cu13/lib/libnvrtc.alt.so.13",
        "cu13/lib/libnvrtc-builtins.alt.so.13.0",
        "cu13/lib/libcusolverMg.so.12",
        "cu13/lib/libnvblas.so.13",
        "cu13/lib/libcufftw.so.12",
        "cu13/lib/libnvperf_host.so",
        "cu13/lib/libcufile_rdma.so.1",
        "nvshmem/lib/nvshmem_transport_ucx.so.3",
        "nvshmem/lib/nvshmem_bootstrap_mpi.so.3",
    ):
        assert not keep((f"nvidia/{pruned}", "", "BINARY")), pruned
        assert Path(pruned).name not in linked
    # only inside the nvidia wheels: a same-named library elsewhere is not touched
    assert keep(("somewhere/libnvblas.so.13", "", "BINARY"))


def test_spec_adds_nvrtcs_builtins_which_nvrtc_opens_by_name(
    spec_namespace: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    namespace, _calls = spec_namespace
    lib = tmp_path / "site-packages" / "nvidia" / "cu13" / "lib"
    lib.mkdir(parents=True)
    for name in ("libnvrtc.so.13", "libnvrtc-builtins.so.13.0", "libnvrtc-builtins.alt.so.13.0"):
        (lib / name).write_bytes(b"")
    fake = types.SimpleNamespace(submodule_search_locations=[str(lib.parent.parent)])
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name: fake if name == "nvidia" else real(name)
    )
    found = namespace["_nvrtc_builtins"]()
    assert found == [
        (
            "nvidia/cu13/lib/libnvrtc-builtins.so.13.0",
            str(lib / "libnvrtc-builtins.so.13.0"),
            "BINARY",
        )
    ]
    assert namespace["_keep"](found[0])


def test_spec_records_the_flavour_in_build_info(spec_namespace: Any, tmp_path: Path) -> None:
    import json

    import torch

    info = json.loads((tmp_path / "work" / "build_info.json").read_text(encoding="utf-8"))
    assert info["flavour"] == ("cuda" if torch.version.cuda else "cpu")


def test_icons_exist_in_every_size() -> None:
    from PIL import Image

    icons = PACKAGING / "icons"
    for size in ICON_SIZES:
        with Image.open(icons / f"sd21-desktop-{size}.png") as image:
            assert image.size == (size, size)
            assert image.mode == "RGBA"
    assert (icons / "sd21-desktop.ico").stat().st_size > 0
    assert (icons / "sd21-desktop.icns").read_bytes()[:4] == b"icns"


def test_desktop_file_entries() -> None:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # type: ignore[assignment, method-assign]
    parser.read(DESKTOP_FILE, encoding="utf-8")
    entry = parser["Desktop Entry"]
    assert entry["Type"] == "Application"
    assert entry["Icon"] == "sd21-desktop"
    assert entry["Exec"].split()[0] == "/opt/sd21-desktop/sd21-desktop"
    assert entry["Terminal"] == "false"
    assert entry["Categories"].endswith(";")


@pytest.mark.skipif(
    shutil.which("desktop-file-validate") is None,
    reason="desktop-file-validate is not installed (apt-get install desktop-file-utils); "
    "test_desktop_file_entries still checks the keys",
)
def test_desktop_file_passes_desktop_file_validate() -> None:
    validator = shutil.which("desktop-file-validate")
    assert validator is not None
    done = subprocess.run([validator, str(DESKTOP_FILE)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def _fake_bundle(folder: Path, flavour: str | None = None) -> Path:
    bundle = folder / "sd21-desktop"
    (bundle / "_internal" / "resources").mkdir(parents=True)
    if flavour is not None:
        info = bundle / "_internal" / "build_info.json"
        info.write_text(f'{{"flavour": "{flavour}"}}', encoding="utf-8")
    for program in ("sd21-desktop", "sd21-desktop-cli"):
        path = bundle / program
        path.write_text("#!/bin/sh\necho fake\n", encoding="utf-8")
        path.chmod(0o755)
    (bundle / "_internal" / "resources" / "x.json").write_text("{}", encoding="utf-8")
    return bundle


@pytest.mark.skipif(shutil.which("dpkg-deb") is None, reason="dpkg-deb is not installed")
@pytest.mark.parametrize("flavour", ["cpu", "cuda"])
def test_deb_layout_control_and_scripts(tmp_path: Path, flavour: str) -> None:
    build_deb = _load(PACKAGING / "linux" / "build_deb.py", "build_deb_under_test")
    bundle = _fake_bundle(tmp_path, flavour)
    deb = build_deb.build_deb(bundle, tmp_path / "out", compression="none")
    assert deb.name.startswith(f"sd21-desktop-{flavour}_")  # the file name says which build
    assert deb.suffix == ".deb"

    def dpkg_deb(*args: str) -> str:
        return subprocess.run(
            ["dpkg-deb", *args, str(deb)], capture_output=True, text=True, check=True
        ).stdout

    control = dpkg_deb("--field")
    assert re.search(rf"^Package: sd21-desktop-{flavour}$", control, re.M)
    for field in ("Provides", "Conflicts", "Replaces"):  # one flavour at a time, either swaps
        assert re.search(rf"^{field}: sd21-desktop$", control, re.M), field
    assert ("CUDA build" in control) == (flavour == "cuda")
    assert re.search(r"^Depends: libc6.*libxcb-cursor0", control, re.M)
    assert re.search(r"^Installed-Size: \d+$", control, re.M)
    assert re.search(r"^Recommends: .*libwayland-egl1", control, re.M)
    contents = dpkg_deb("--contents")
    for expected in (
        "./opt/sd21-desktop/sd21-desktop",
        "./opt/sd21-desktop/sd21-desktop-cli",
        "./opt/sd21-desktop/_internal/resources/x.json",
        "./usr/share/applications/sd21-desktop.desktop",
        "./usr/share/icons/hicolor/256x256/apps/sd21-desktop.png",
        "./usr/share/icons/hicolor/16x16/apps/sd21-desktop.png",
        "./usr/share/doc/sd21-desktop/copyright",
        "./usr/bin/sd21-desktop -> /opt/sd21-desktop/sd21-desktop",
        "./usr/bin/sd21-desktop-cli -> /opt/sd21-desktop/sd21-desktop-cli",
    ):
        assert expected in contents, expected
    assert re.search(r"^-rwxr-xr-x root/root .* ./opt/sd21-desktop/sd21-desktop$", contents, re.M)
    scripts = tmp_path / "control"
    subprocess.run(["dpkg-deb", "--control", str(deb), str(scripts)], check=True)
    for name in ("postinst", "postrm"):
        script = scripts / name
        assert script.stat().st_mode & 0o111
        assert subprocess.run(["sh", "-n", str(script)]).returncode == 0
    assert "update-desktop-database" in (scripts / "postinst").read_text(encoding="utf-8")
    assert "gtk-update-icon-cache" in (scripts / "postrm").read_text(encoding="utf-8")
    assert (scripts / "md5sums").read_text(encoding="utf-8").count("\n") >= 10


@pytest.mark.parametrize("script", ["build.py", "linux/build_deb.py"])
def test_build_scripts_help(script: str) -> None:
    done = subprocess.run(
        [sys.executable, str(PACKAGING / script), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert "usage:" in done.stdout


def test_deb_flavour_falls_back_to_torchs_libraries(tmp_path: Path) -> None:
    build_deb = _load(PACKAGING / "linux" / "build_deb.py", "build_deb_flavour")
    bundle = _fake_bundle(tmp_path)  # no build_info.json
    assert build_deb.bundle_flavour(bundle) == "cpu"
    lib = bundle / "_internal" / "torch" / "lib"
    lib.mkdir(parents=True)
    (lib / "libtorch_cuda.so").write_bytes(b"")
    assert build_deb.bundle_flavour(bundle) == "cuda"


@pytest.mark.skipif(
    shutil.which("dpkg-deb") is None or shutil.which("zstd") is None,
    reason="dpkg-deb with zstd is not installed",
)
def test_build_py_builds_one_deb_per_compression(tmp_path: Path) -> None:
    build = _load(PACKAGING / "build.py", "packaging_build_debs")
    builds = build.build_debs(_fake_bundle(tmp_path, "cuda"), tmp_path / "out", ["zstd:3", "xz"])
    assert [b["compression"] for b in builds] == ["zstd:3", "xz"]
    folders = [Path(str(b["deb"])).parent.name for b in builds]
    assert folders == ["zstd-3", "xz"]
    for record in builds:
        deb = Path(str(record["deb"]))
        assert deb.name.startswith("sd21-desktop-cuda_")
        members = subprocess.run(["ar", "t", str(deb)], capture_output=True, text=True).stdout
        suffix = "zst" if record["compression"].startswith("zstd") else "xz"
        assert f"data.tar.{suffix}" in members


def test_build_py_flavours_choose_torch_and_check_version_output() -> None:
    build = _load(PACKAGING / "build.py", "packaging_build_flavours")
    assert build.FLAVOUR_TORCH == {"cpu": "torch==2.13.0", "cuda": "torch==2.14.1"}
    args = build.parse_args(["--flavour", "cuda"])
    assert args.flavour == "cuda"
    assert args.torch_spec is None
    build.check_version("sd21-desktop 0.1.0\nCPU build, running on CPU", "cpu")
    with pytest.raises(build.BuildError):
        build.check_version("sd21-desktop 0.1.0\nCPU build, running on CPU", "cuda")
    if sys.platform.startswith("linux") and not Path("/proc/driver/nvidia/gpus").exists():
        build.check_version(f"sd21-desktop 0.1.0\n{build.CUDA_ON_CPU}", "cuda")
        with pytest.raises(build.BuildError):  # a CUDA build here must say it runs on the CPU
            build.check_version("sd21-desktop 0.1.0\nCUDA build, NVIDIA GPU found: X", "cuda")


def test_build_py_checks_the_venvs_torch_is_the_flavour_asked_for() -> None:
    build = _load(PACKAGING / "build.py", "packaging_build_check_flavour")
    import torch

    have = "cuda" if torch.version.cuda else "cpu"
    other = "cpu" if have == "cuda" else "cuda"
    assert build.check_flavour(Path(sys.executable), have) == have
    with pytest.raises(build.BuildError, match=f"has the {have} build"):
        build.check_flavour(Path(sys.executable), other)


def test_build_py_reference_programs(tmp_path: Path) -> None:
    build = _load(PACKAGING / "build.py", "packaging_build_reference")
    bundle = _fake_bundle(tmp_path)
    assert build.reference_command(bundle) == [str(bundle / "sd21-desktop-cli")]
    relative = Path(os.path.relpath(bundle))  # the tests run elsewhere: the path is made absolute
    assert build.reference_command(relative) == [str(bundle / "sd21-desktop-cli")]
    python = Path(sys.executable)
    if python.name.startswith("python"):
        assert build.reference_command(python) == [str(python), "-m", "sd21_desktop"]


@pytest.mark.skipif(
    not sys.platform.startswith("linux") or not (shutil.which("gcc") and shutil.which("ldd")),
    reason="needs Linux with gcc and ldd",
)
def test_build_py_finds_a_library_the_bundle_links_to_but_lacks(tmp_path: Path) -> None:
    build = _load(PACKAGING / "build.py", "packaging_build_missing")
    bundle = _fake_bundle(tmp_path)
    lib = bundle / "_internal" / "nvidia" / "cu13" / "lib"
    lib.mkdir(parents=True)
    source = tmp_path / "x.c"
    source.write_text("int x(void) { return 1; }\n", encoding="utf-8")
    pruned = tmp_path / "libsd21pruned.so.1"
    subprocess.run(
        ["gcc", "-shared", "-fPIC", "-Wl,-soname,libsd21pruned.so.1", "-o", pruned, source],
        check=True,
    )
    subprocess.run(  # a library that links the first, as libtorch_cuda links cuFFT
        [
            "gcc",
            "-shared",
            "-fPIC",
            "-o",
            lib / "libuser.so",
            source,
            "-L",
            tmp_path,
            "-Wl,--no-as-needed",  # keep the NEEDED entry although nothing calls into it
            "-l:libsd21pruned.so.1",
        ],
        check=True,
    )
    assert build.missing_libraries(bundle) == ["libsd21pruned.so.1"]
    shutil.copy(pruned, lib / pruned.name)
    assert build.missing_libraries(bundle) == []


def test_build_py_reads_png_text_chunks(tmp_path: Path) -> None:
    from PIL import Image, PngImagePlugin

    build = _load(PACKAGING / "build.py", "packaging_build_under_test")
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", "a lighthouse\nSteps: 2")
    info.add_text("sd21-desktop", '{"prompt": "a lighthouse ✓"}', zip=True)
    info.add_itxt("comment", "ünïcode", zip=False)
    path = tmp_path / "x.png"
    Image.new("RGB", (8, 8)).save(path, pnginfo=info)
    chunks = build.png_text_chunks(path)
    assert chunks["parameters"] == "a lighthouse\nSteps: 2"
    assert chunks["sd21-desktop"] == '{"prompt": "a lighthouse ✓"}'
    assert chunks["comment"] == "ünïcode"


def test_build_py_compares_pixels_not_metadata(tmp_path: Path) -> None:
    from PIL import Image, PngImagePlugin

    build = _load(PACKAGING / "build.py", "packaging_build_pixels")
    image = Image.new("RGB", (8, 8), (10, 20, 30))
    paths = []
    for index, text in enumerate(("one", "two")):
        info = PngImagePlugin.PngInfo()
        info.add_text("parameters", text)
        paths.append(tmp_path / f"{index}.png")
        image.save(paths[-1], pnginfo=info)
    Image.new("RGB", (8, 8), (10, 20, 31)).save(tmp_path / "other.png")
    assert build.png_pixels(paths[0]) == build.png_pixels(paths[1])
    assert build.png_pixels(paths[0]) != build.png_pixels(tmp_path / "other.png")


def test_inno_setup_script_points_at_the_bundle_and_icon() -> None:
    iss = PACKAGING / "windows" / "sd21-desktop.iss"
    text = iss.read_text(encoding="utf-8")
    assert re.search(r"^AppId=\{\{[0-9A-F-]{36}\}$", text, re.M)
    assert r'#define SourceDir "..\..\build\dist\sd21-desktop"' in text
    assert "sd21-desktop.exe" in text
    assert "sd21-desktop-cli.exe" in text
    icon = re.search(r"^SetupIconFile=(.+)$", text, re.M)
    assert icon
    assert (iss.parent / icon.group(1).replace("\\", "/")).is_file()


def test_macos_script_and_workflow() -> None:
    script = PACKAGING / "macos" / "build_dmg.sh"
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    assert "hdiutil create" in script.read_text(encoding="utf-8")
    yaml = pytest.importorskip("yaml")
    workflow = yaml.safe_load(
        (REPO_ROOT / ".github" / "workflows" / "build-installers.yml").read_text(encoding="utf-8")
    )
    jobs = workflow["jobs"]
    assert {"linux", "windows", "macos"} <= set(jobs)
    assert jobs["windows"]["runs-on"] == "windows-latest"
    assert jobs["macos"]["runs-on"] == "macos-latest"
    for name in ("linux", "windows", "macos"):
        runs = " ".join(str(s.get("run", "")) for s in jobs[name]["steps"])
        assert "packaging/build.py" in runs, name


@pytest.mark.slow
@pytest.mark.skipif(
    not FULL_BUILD,
    reason="a full PyInstaller build takes many minutes and "
    "several GB; set SD21_PACKAGING_TESTS=1 to run it",
)
def test_full_build_smoke_generate_and_deb(tmp_path: Path) -> None:
    command = [
        sys.executable,
        str(PACKAGING / "build.py"),
        "--skip-venv",
        "--python",
        sys.executable,
        "--report",
        str(tmp_path / "report.json"),
    ]
    if sys.platform.startswith("linux") and os.geteuid() == 0 and shutil.which("dpkg-deb"):
        command += ["--deb", "--deb-compression", "zstd"]
    done = subprocess.run(command, cwd=REPO_ROOT, timeout=3600)
    assert done.returncode == 0
