"""Downloads against the local hub: the real huggingface_hub requests, a network that misbehaves."""

from __future__ import annotations

import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from sd21_desktop.engine.downloads import DownloadCancelled, DownloadProgress, download_model
from sd21_desktop.engine.model_cache import model_status, storage_folder
from sd21_desktop.engine.models import HUB_ALLOW_PATTERNS, cached_snapshot
from sd21_desktop.errors import UserFacingError
from tests.conftest import HUB_TEST_REPO

UNET = "unet/diffusion_pytorch_model.safetensors"


def _wanted_sizes(folder: Path) -> dict[str, int]:
    from huggingface_hub.utils import filter_repo_objects

    names = [p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()]
    chosen = filter_repo_objects(names, allow_patterns=list(HUB_ALLOW_PATTERNS))
    return {name: (folder / name).stat().st_size for name in chosen}


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_download_adds_up_lands_in_the_hf_cache_and_loads_offline(
    local_hub: Any, tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from huggingface_hub import constants, snapshot_download

    events: list[DownloadProgress] = []
    folder = download_model(HUB_TEST_REPO, events.append)

    sizes = _wanted_sizes(tiny_model_dir)
    assert events[-1].phase == "done"
    assert events[-1].done == events[-1].total == sum(sizes.values()) == events[-1].fetched
    assert all(e.total == events[-1].total for e in events)
    done = [e.done for e in events]
    assert done == sorted(done), "progress never goes back on a clean download"
    # huggingface_hub's layout: refs/main → commit, blobs named by ETag, relative links
    repo = local_hub.state.repos[HUB_TEST_REPO]
    storage = storage_folder(HUB_TEST_REPO)
    assert (storage / "refs" / "main").read_text() == repo.commit == folder.name
    unet_link = folder / UNET
    assert unet_link.is_symlink()
    assert unet_link.resolve() == storage / "blobs" / repo.files[UNET].sha256
    assert (folder / "model_index.json").resolve().name == repo.files["model_index.json"].git_oid
    for name, size in sizes.items():
        assert (folder / name).read_bytes() == (tiny_model_dir / name).read_bytes()
        assert (folder / name).stat().st_size == size
    assert sorted(p.name for p in (storage / "blobs").iterdir() if "incomplete" in p.name) == []
    # huggingface_hub itself finds it, offline; our state says installed; the model loads
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    found = snapshot_download(
        HUB_TEST_REPO, allow_patterns=list(HUB_ALLOW_PATTERNS), local_files_only=True
    )
    assert Path(found) == folder
    status = model_status(HUB_TEST_REPO)
    assert status.state == "installed"
    assert status.path == folder
    assert status.total_bytes == sum(sizes.values())
    from sd21_desktop.engine.device import RuntimeOptions
    from sd21_desktop.engine.loader import build_pipeline
    from sd21_desktop.engine.models import identify

    loaded = build_pipeline(identify(HUB_TEST_REPO), RuntimeOptions(), allow_download=False)
    assert loaded.local_path == folder
    assert loaded.native_size == 64


def test_cut_connection_resumes_with_range_on_the_next_attempt(
    local_hub: Any, tiny_model_dir: Path
) -> None:
    size = (tiny_model_dir / UNET).stat().st_size
    half = size // 2
    local_hub.add_rule("cut", UNET, half)
    with pytest.raises(UserFacingError, match="connection .* broke|resumes where it stopped"):
        download_model(HUB_TEST_REPO, retries=0)
    assert model_status(HUB_TEST_REPO).state == "partial"
    assert cached_snapshot(HUB_TEST_REPO) is None
    sent_first = local_hub.state.body_bytes[UNET]
    assert sent_first == half

    folder = download_model(HUB_TEST_REPO)
    fetched_again = local_hub.state.body_bytes[UNET] - sent_first
    assert fetched_again == size - half < size
    assert ("GET", f"/{HUB_TEST_REPO}/resolve/", f"bytes={half}-") in [
        (m, p[: len(HUB_TEST_REPO) + 10], r) for m, p, r in local_hub.state.log
    ]
    assert (folder / UNET).read_bytes() == (tiny_model_dir / UNET).read_bytes()
    assert model_status(HUB_TEST_REPO).state == "installed"


def test_a_dropped_connection_is_resumed_within_the_same_download(
    local_hub: Any, tiny_model_dir: Path
) -> None:
    size = (tiny_model_dir / UNET).stat().st_size
    local_hub.add_rule("cut", UNET, size // 3)
    folder = download_model(HUB_TEST_REPO)
    assert local_hub.state.body_bytes[UNET] == size  # nothing fetched twice
    assert _sha256(folder / UNET) == local_hub.state.repos[HUB_TEST_REPO].files[UNET].sha256


def test_cancel_keeps_the_bytes_but_marks_nothing_installed(local_hub: Any) -> None:
    cancel = threading.Event()

    def cancel_after_first_file(event: DownloadProgress) -> None:
        if event.phase == "verifying":
            cancel.set()

    with pytest.raises(DownloadCancelled):
        download_model(HUB_TEST_REPO, cancel_after_first_file, cancel)
    status = model_status(HUB_TEST_REPO)
    assert status.state == "partial"
    assert status.path is None
    assert cached_snapshot(HUB_TEST_REPO) is None
    first_bytes = sum(local_hub.state.body_bytes.values())
    assert first_bytes > 0

    download_model(HUB_TEST_REPO)
    assert model_status(HUB_TEST_REPO).state == "installed"
    # the file finished before the cancel was not fetched again
    assert sum(local_hub.state.body_bytes.values()) == status.total_bytes


def test_corrupted_bytes_are_detected_and_fetched_again(
    local_hub: Any, tiny_model_dir: Path
) -> None:
    size = (tiny_model_dir / UNET).stat().st_size
    local_hub.add_rule("corrupt", UNET)
    folder = download_model(HUB_TEST_REPO)
    assert local_hub.state.body_bytes[UNET] == 2 * size
    assert (folder / UNET).read_bytes() == (tiny_model_dir / UNET).read_bytes()


def test_a_file_damaged_every_time_is_never_kept(local_hub: Any) -> None:
    local_hub.add_rule("corrupt", UNET, times=5)
    with pytest.raises(UserFacingError, match="arrived damaged twice"):
        download_model(HUB_TEST_REPO)
    storage = storage_folder(HUB_TEST_REPO)
    sha = local_hub.state.repos[HUB_TEST_REPO].files[UNET].sha256
    assert not (storage / "blobs" / sha).exists()
    assert not (storage / "blobs" / f"{sha}.incomplete").exists()
    assert model_status(HUB_TEST_REPO).state != "installed"


def test_a_truncated_installed_file_is_not_loaded_and_is_completed(
    local_hub: Any, tiny_model_dir: Path
) -> None:
    folder = download_model(HUB_TEST_REPO)
    blob = (folder / UNET).resolve()
    size = blob.stat().st_size
    with blob.open("r+b") as handle:
        handle.truncate(size - 1000)
    assert model_status(HUB_TEST_REPO).state == "partial"
    assert cached_snapshot(HUB_TEST_REPO) is None  # the loader will not read it
    before = local_hub.state.body_bytes[UNET]
    download_model(HUB_TEST_REPO)
    assert local_hub.state.body_bytes[UNET] - before == 1000
    assert (folder / UNET).read_bytes() == (tiny_model_dir / UNET).read_bytes()


@pytest.mark.parametrize(
    ("status", "message"),
    [
        (500, r"answered with an error \(500\).*try again in a few minutes"),
        (503, r"answered with an error \(503\)"),
        (401, r"401: not logged in.*hf auth login"),
        (403, r"403 Forbidden.*token may read this model"),
        (404, r"was not found at .* \(404\)"),
    ],
)
def test_http_failures_say_what_happened(local_hub: Any, status: int, message: str) -> None:
    local_hub.add_rule("status", UNET, status)
    with pytest.raises(UserFacingError, match=message):
        download_model(HUB_TEST_REPO)
    assert model_status(HUB_TEST_REPO).state == "partial"


def test_unknown_repo_is_not_found(local_hub: Any) -> None:
    with pytest.raises(UserFacingError, match=r"sd2-community/nope was not found at .*\(404\)"):
        download_model("sd2-community/nope")


def test_a_stalled_server_times_out_with_a_message(local_hub: Any) -> None:
    local_hub.add_rule("delay", UNET, 3.0)
    with pytest.raises(UserFacingError, match=r"stopped answering \(nothing for 0.5 s\)"):
        download_model(HUB_TEST_REPO, timeout=0.5)


def test_no_network_says_so(local_hub: Any) -> None:
    with pytest.raises(UserFacingError, match="Could not connect to http://127.0.0.1:9 .*network"):
        download_model(HUB_TEST_REPO, endpoint="http://127.0.0.1:9")


def test_offline_mode_is_honoured(local_hub: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(UserFacingError, match="HF_HUB_OFFLINE"):
        download_model(HUB_TEST_REPO)
    assert local_hub.state.log == []


class _AuthProxy(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        self.send_response(407)
        self.send_header("Proxy-Authenticate", 'Basic realm="proxy"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        pass


def test_proxy_variables_are_used_and_a_proxy_refusal_explained(
    local_hub: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from huggingface_hub import close_session

    proxy = ThreadingHTTPServer(("127.0.0.1", 0), _AuthProxy)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        address = f"http://127.0.0.1:{proxy.server_address[1]}"
        monkeypatch.setenv("HTTP_PROXY", address)
        monkeypatch.setenv("NO_PROXY", "")
        monkeypatch.delenv("no_proxy", raising=False)
        close_session()
        with pytest.raises(UserFacingError, match=f"proxy {address} asks for a login \\(407\\)"):
            download_model(HUB_TEST_REPO)
        assert local_hub.state.log == []  # nothing reached the hub around the proxy
    finally:
        close_session()
        proxy.shutdown()
        proxy.server_close()


def test_not_enough_free_space_stops_before_any_byte(local_hub: Any) -> None:
    with pytest.raises(UserFacingError, match=r"Not enough free disk space.*needs .* more and"):
        download_model(HUB_TEST_REPO, free_space=lambda folder: 1_000_000)
    assert local_hub.requests("GET", "/resolve/") == []
    assert model_status(HUB_TEST_REPO).state == "missing"
