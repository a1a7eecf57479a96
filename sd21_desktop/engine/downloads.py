"""Downloading a hub model into the standard Hugging Face cache: progress, cancel, resume, checks.

The files land exactly where ``huggingface_hub`` puts them (``models--owner--name/blobs/<etag>``,
``snapshots/<commit>/<path>`` links, ``refs/main``, ``trees/<commit>.json``), so other tools share
them and ``snapshot_download(local_files_only=True)`` finds them. The hub is asked the way
``huggingface_hub`` asks it (its ``HfApi`` for the revision and file list, ``get_hf_file_metadata``
for each file's ETag and size, its shared HTTP session, so ``HF_ENDPOINT``, ``HF_TOKEN``, proxy
variables and a custom client factory apply), but the transfer itself is ours, because the
installed ``huggingface_hub`` keeps a partial file only within one call (a cancel, a crash or a
dropped connection after its retries throws the bytes away) and checks no hash:

* a partial file keeps a stable name, ``blobs/<etag>.incomplete``, and the next attempt (after a
  cancel, a dropped connection or a restart) asks only for the missing bytes with ``Range``;
* every file is hashed as it arrives and compared with what the hub announced: the sha256 (the
  LFS ETag) for weights, the git blob id for small files. A damaged file is fetched again from
  the start once, and is never moved into place;
* the free space is checked before the first byte (what is still needed vs what is free);
* the whole model reports one progress (bytes, speed, ETA) and stops within one chunk on cancel.

A model counts as installed only when the cache's tree listing names every wanted file and each
is present at its full size (:func:`model_status`).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from sd21_desktop.engine.download_errors import DownloadError, explain_error
from sd21_desktop.engine.model_cache import (
    HUB_ALLOW_PATTERNS,
    human_size,
    link_into_snapshot,
    storage_folder,
    wanted,
    write_ref,
    write_tree,
)

CHUNK_SIZE = 1024 * 1024
"""Bytes read per step: cancel and progress react within one chunk."""
FREE_SPACE_MARGIN = 64 * 1024 * 1024
"""Kept free beyond the download itself (the cache's small files, the file system's own room)."""
DEFAULT_RETRIES = 3
"""Dropped connections resumed automatically within one download, when bytes kept coming."""
REVISION = "main"


class DownloadCancelled(Exception):  # noqa: N818 - a control-flow signal, not an error
    """The user cancelled; what was fetched stays on disk for the next attempt."""


@dataclass(frozen=True)
class DownloadProgress:
    """One report for the whole model."""

    repo_id: str
    done: int
    """Bytes present: complete files, resumed parts and what this run fetched."""
    total: int
    fetched: int
    """Bytes this run received from the network."""
    speed: float
    """Bytes per second over the last few seconds."""
    eta: float | None
    file: str
    phase: Literal["checking", "downloading", "verifying", "done"]


ProgressCallback = Callable[[DownloadProgress], None]


@dataclass(frozen=True)
class RemoteFile:
    path: str
    size: int
    etag: str
    """The blob's name in the cache: the sha256 for LFS files, else the git blob id."""
    url: str
    lfs: bool


# progress --------------------------------------------------------------------------------------
class _Progress:
    """Adds up the whole model's bytes; reports at most every ``interval`` seconds."""

    def __init__(
        self,
        repo_id: str,
        total: int,
        done: int,
        callback: ProgressCallback | None,
        cancel: threading.Event | None,
        interval: float = 0.1,
    ) -> None:
        self.repo_id, self.total, self.done, self.fetched = repo_id, total, done, 0
        self.callback, self.cancel, self.interval = callback, cancel, interval
        self.file = ""
        self._samples: list[tuple[float, int]] = [(time.monotonic(), 0)]
        self._last = 0.0

    def check_cancel(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise DownloadCancelled(f"The download of {self.repo_id} was cancelled.")

    def speed(self) -> float:
        now = time.monotonic()
        self._samples = [s for s in self._samples if now - s[0] <= 3.0] or self._samples[-1:]
        start_time, start_bytes = self._samples[0]
        elapsed = now - start_time
        return (self.fetched - start_bytes) / elapsed if elapsed > 0 else 0.0

    def add(self, count: int) -> None:
        self.done += count
        self.fetched += count
        self.check_cancel()
        now = time.monotonic()
        if now - self._last >= self.interval:
            self._samples.append((now, self.fetched))
            self.report("downloading")

    def report(self, phase: Literal["checking", "downloading", "verifying", "done"]) -> None:
        self._last = time.monotonic()
        if self.callback is None:
            return
        speed = self.speed()
        remaining = max(self.total - self.done, 0)
        eta = remaining / speed if speed > 0 else (0.0 if remaining == 0 else None)
        self.callback(
            DownloadProgress(
                self.repo_id, self.done, self.total, self.fetched, speed, eta, self.file, phase
            )
        )


# what to fetch ---------------------------------------------------------------------------------
def _is_sha256(etag: str) -> bool:
    return len(etag) == 64 and all(c in "0123456789abcdef" for c in etag.lower())


def plan_download(
    repo_id: str,
    endpoint: str | None,
    token: str | bool | None,
    timeout: float,
    patterns: tuple[str, ...] = HUB_ALLOW_PATTERNS,
) -> tuple[str, dict[str, dict[str, Any]], list[RemoteFile]]:
    """The commit, its tree listing and the files to fetch, asked as huggingface_hub asks:
    ``GET /api/models/{repo}/revision/main``, ``GET /api/models/{repo}/tree/{commit}`` and a
    ``HEAD /{repo}/resolve/{commit}/{file}`` per file (ETag / X-Linked-Etag, sizes, redirect)."""
    from huggingface_hub import HfApi, get_hf_file_metadata, hf_hub_url
    from huggingface_hub.hf_api import RepoFile

    api = HfApi(endpoint=endpoint, token=token)
    commit = api.model_info(repo_id, revision=REVISION, timeout=timeout).sha
    if not commit:
        raise DownloadError(f"The hub did not say which revision of {repo_id} to download.")
    tree: dict[str, dict[str, Any]] = {}
    for entry in api.list_repo_tree(repo_id, recursive=True, revision=commit):
        if isinstance(entry, RepoFile):
            info: dict[str, Any] = {"size": entry.size, "blob_id": entry.blob_id}
            if entry.lfs is not None:
                info.update(lfs_sha256=entry.lfs.sha256, lfs_size=entry.lfs.size)
            tree[entry.path] = info
    files = []
    for name in wanted(list(tree), patterns):
        url = hf_hub_url(repo_id, name, revision=commit, endpoint=endpoint)
        meta = get_hf_file_metadata(url, token=token, timeout=timeout, endpoint=endpoint)
        if not meta.etag:
            raise DownloadError(f"The hub announced no checksum (ETag) for {name} of {repo_id}.")
        size = meta.size if meta.size is not None else int(tree[name]["size"])
        files.append(RemoteFile(name, size, meta.etag, meta.location, _is_sha256(meta.etag)))
    index = patterns[0]  # the file that says what the model is (model_index.json, config.json)
    if not any(f.path == index for f in files):
        raise DownloadError(
            f"{repo_id} is not a diffusers model: it has no {index}.",
            "Choose one of the SD2 models listed, or a diffusers repository.",
        )
    return commit, tree, files


# one file --------------------------------------------------------------------------------------
class _Damaged(Exception):  # noqa: N818 - internal signal
    """The bytes received do not have the announced checksum."""


class _ShortBody(Exception):  # noqa: N818 - internal signal
    """The server ended the body before the announced size: treated like a dropped connection."""


class _Part:
    """``blobs/<etag>.incomplete``: the bytes so far, hashed as they are written."""

    def __init__(self, remote: RemoteFile, path: Path) -> None:
        self.remote, self.path = remote, path
        self.written = 0
        self.hasher: Any = None

    def open_existing(self) -> int:
        """Keep the bytes already there (hashing them), unless there are too many."""
        self.reset(keep=True)
        size = self.path.stat().st_size if self.path.is_file() else 0
        if size > self.remote.size:
            self.path.unlink()
            size = 0
        if size:
            with self.path.open("rb") as existing:
                while block := existing.read(CHUNK_SIZE):
                    self.hasher.update(block)
        self.written = size
        return size

    def reset(self, keep: bool = False) -> None:
        if self.remote.lfs:
            self.hasher = hashlib.sha256()
        else:  # the git blob id of a small file: sha1 over "blob <size>\0" + content
            self.hasher = hashlib.sha1(usedforsecurity=False)
            self.hasher.update(b"blob %d\0" % self.remote.size)
        if not keep:
            self.path.unlink(missing_ok=True)
            self.written = 0

    def matches(self) -> bool:
        return self.written == self.remote.size and self.hasher.hexdigest() == self.remote.etag


def _stream_into(part: _Part, headers: dict[str, str], progress: _Progress, timeout: float) -> None:
    """One GET of the missing bytes (``Range`` when resuming) appended to the part."""
    from huggingface_hub.utils import get_session, hf_raise_for_status

    request_headers = {**headers, "Accept-Encoding": "identity"}
    start = part.written
    if start:
        request_headers["Range"] = f"bytes={start}-"
    session = get_session()
    with session.stream("GET", part.remote.url, headers=request_headers, timeout=timeout) as reply:
        if reply.status_code == 416:  # the server has fewer bytes than we kept: start over
            progress.done -= start
            part.reset()
            raise _ShortBody("range not satisfiable")
        hf_raise_for_status(reply)
        if start and reply.status_code != 206:  # Range ignored: the body is the whole file
            progress.done -= start
            part.reset()
        with part.path.open("ab") as out:
            for chunk in reply.iter_bytes():  # as it arrives: a cut loses nothing received
                out.write(chunk)
                part.hasher.update(chunk)
                part.written += len(chunk)
                progress.add(len(chunk))
    if part.written < part.remote.size:
        raise _ShortBody(f"{part.written} of {part.remote.size} bytes")


def _fetch(
    part: _Part, headers: dict[str, str], progress: _Progress, timeout: float, retries: int
) -> None:
    """Bring the part to its full size; a connection that drops after sending bytes is
    resumed up to ``retries`` times (one that sends nothing fails at once)."""
    import httpx2

    attempts = 0
    while part.written < part.remote.size:
        before = part.written
        try:
            _stream_into(part, headers, progress, timeout)
        except (httpx2.TransportError, _ShortBody):
            if part.written == before or attempts >= retries:
                raise
            attempts += 1
            time.sleep(min(0.5 * attempts, 2.0))


def _download_file(
    remote: RemoteFile,
    storage: Path,
    commit: str,
    headers: dict[str, str],
    progress: _Progress,
    timeout: float,
    retries: int,
) -> None:
    blob = storage / "blobs" / remote.etag
    if blob.is_file() and blob.stat().st_size == remote.size:
        link_into_snapshot(storage, commit, remote.path, blob)
        return
    blob.parent.mkdir(parents=True, exist_ok=True)
    part = _Part(remote, blob.with_name(blob.name + ".incomplete"))
    if blob.is_file():  # a truncated blob (a crash, a full disk): its bytes are a start
        os.replace(blob, part.path)
    progress.file = remote.path
    for _attempt in range(2):
        part.open_existing()
        _fetch(part, headers, progress, timeout, retries)
        progress.report("verifying")
        if part.matches():
            os.replace(part.path, blob)
            link_into_snapshot(storage, commit, remote.path, blob)
            return
        progress.done -= part.written  # damaged: fetched again from the first byte
        part.reset()
    raise DownloadError(
        f"{remote.path} of the model arrived damaged twice (its checksum does not match the "
        "one the hub announced), so it was not kept.",
        "Try again later; if it keeps failing, the copy on the server or a proxy is broken.",
    )


# the whole model -------------------------------------------------------------------------------
def _present(remote: RemoteFile, storage: Path) -> int:
    """Bytes of this file already on disk that the download will keep."""
    blob = storage / "blobs" / remote.etag
    for path in (blob, blob.with_name(blob.name + ".incomplete")):
        if path.is_file():
            size = path.stat().st_size
            return size if size <= remote.size else 0
    return 0


def free_bytes(folder: Path) -> int:
    """Free space on the disk that holds ``folder`` (or its nearest existing parent)."""
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return shutil.disk_usage(folder).free


def check_free_space(
    repo_id: str, needed: int, folder: Path, free_space: Callable[[Path], int] = free_bytes
) -> None:
    free = free_space(folder)
    if needed + FREE_SPACE_MARGIN > free:
        raise DownloadError(
            f"Not enough free disk space to download {repo_id}: it needs {human_size(needed)} "
            f"more and {folder} has {human_size(free)} free.",
            "Free some space, or point HF_HOME (or HF_HUB_CACHE) at a larger disk.",
        )


def _lock(storage: Path, repo_id: str) -> Any:
    """One download of a model at a time, across windows and processes."""
    from filelock import FileLock, Timeout

    lock_path = storage.parent / ".locks" / storage.name / "sd21-desktop-download.lock"
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(lock_path), timeout=0)
    try:
        lock.acquire()
    except Timeout as error:
        raise DownloadError(
            f"{repo_id} is already being downloaded by another window or command.",
            "Wait for that download to finish (or cancel it), then try again.",
        ) from error
    return lock


def download_model(
    repo_id: str,
    on_progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    *,
    endpoint: str | None = None,
    cache_dir: str | Path | None = None,
    token: str | bool | None = None,
    timeout: float | None = None,
    retries: int = DEFAULT_RETRIES,
    free_space: Callable[[Path], int] = free_bytes,
    patterns: tuple[str, ...] = HUB_ALLOW_PATTERNS,
) -> Path:
    """Download (or finish downloading) a hub model into the cache; its snapshot folder.

    Raises :class:`DownloadCancelled` when ``cancel`` is set (the bytes so far are kept) and
    :class:`DownloadError` with a message a person can act on for everything else.
    """
    from huggingface_hub import constants
    from huggingface_hub.utils import build_hf_headers

    if constants.is_offline_mode():
        raise DownloadError(
            f"{repo_id} cannot be downloaded: downloads are switched off (HF_HUB_OFFLINE is set).",
            "Unset HF_HUB_OFFLINE (or set it to 0) and try again.",
        )
    endpoint = (endpoint or constants.ENDPOINT).rstrip("/")
    timeout = float(timeout if timeout is not None else constants.HF_HUB_DOWNLOAD_TIMEOUT)
    storage = storage_folder(repo_id, cache_dir)
    progress = _Progress(repo_id, 0, 0, on_progress, cancel)
    try:
        commit, tree, files = plan_download(repo_id, endpoint, token, timeout, patterns)
        progress.total = sum(f.size for f in files)
        progress.done = sum(_present(f, storage) for f in files)
        check_free_space(repo_id, progress.total - progress.done, storage, free_space)
        storage.mkdir(parents=True, exist_ok=True)
        lock = _lock(storage, repo_id)
        try:
            write_ref(storage, commit)
            write_tree(storage, commit, tree)
            progress.report("checking")
            headers = build_hf_headers(token=token)
            for remote in sorted(files, key=lambda f: f.size):
                progress.check_cancel()
                _download_file(remote, storage, commit, headers, progress, timeout, retries)
        finally:
            lock.release()
    except (DownloadCancelled, DownloadError):
        raise
    except Exception as error:
        raise explain_error(error, repo_id, endpoint, timeout, storage) from error
    progress.report("done")
    return storage / "snapshots" / commit


class tqdm_reporter:  # noqa: N801 - used like a function
    """A progress callback that drives one tqdm bar for the whole model (bytes, speed, ETA)."""

    def __init__(self, tqdm_class: Any | None = None, file: Any = None) -> None:
        self.tqdm_class, self.file = tqdm_class, file
        self.bar: Any = None

    def __call__(self, event: DownloadProgress) -> None:
        if self.bar is None:
            if self.tqdm_class is None:
                from tqdm.auto import tqdm

                self.tqdm_class = tqdm
            self.bar = self.tqdm_class(
                total=event.total,
                initial=event.done,
                unit="B",
                unit_scale=True,
                desc=f"Downloading {event.repo_id}",
                file=self.file,
                leave=False,
            )
        self.bar.total = event.total
        self.bar.update(event.done - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
