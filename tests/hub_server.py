"""A local Hugging Face hub on 127.0.0.1 for download tests and the download benchmark.

It answers the requests ``huggingface_hub`` makes for a model, the way the real hub does:

* ``GET /api/models/{repo}/revision/{rev}``: the repo info with its commit (``sha``) and files;
* ``GET /api/models/{repo}/tree/{rev}?recursive=…``: every file with size, git blob id and, for
  LFS files (weights), the sha256 and size under ``lfs``;
* ``HEAD``/``GET /{repo}/resolve/{rev}/{path}``: ``X-Repo-Commit``, ``ETag`` (the git blob id),
  for LFS files ``X-Linked-Etag`` (the sha256) and ``X-Linked-Size``, ``Content-Length``,
  ``Accept-Ranges``; a ``Range: bytes=N-`` GET gets ``206`` with ``Content-Range``;
* 404 with ``X-Error-Code: RepoNotFound`` / ``EntryNotFound`` for unknown repos and files.

Rules make it misbehave like a real network: cut a transfer after N bytes (the connection just
closes), wait before answering, answer with an error status, or flip bytes of the body after the
checksum was announced. Each rule applies to the next ``times`` GETs of the files it matches.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal

LFS_SUFFIXES = (".safetensors", ".bin", ".ckpt")
RuleKind = Literal["cut", "delay", "status", "corrupt", "slow"]
_RESOLVE = re.compile(r"^/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<path>.+)$")
_API = re.compile(r"^/api/models/(?P<repo>[^/]+/[^/]+)/(?P<what>revision|tree)/(?P<rev>[^/?]+)")


@dataclass
class HubFile:
    path: str
    source: Path
    size: int
    git_oid: str
    sha256: str | None
    """Set for LFS files (weights)."""


@dataclass
class Rule:
    kind: RuleKind
    pattern: str = "*"
    value: float = 0
    """cut: bytes sent before closing; delay: seconds; status: the HTTP status; slow: bytes
    per second."""
    times: int = 1


@dataclass
class HubRepo:
    repo_id: str
    commit: str
    files: dict[str, HubFile]


def _digests(path: Path, lfs: bool) -> tuple[str, str | None]:
    size = path.stat().st_size
    git = hashlib.sha1(b"blob %d\0" % size, usedforsecurity=False)
    sha = hashlib.sha256() if lfs else None
    with path.open("rb") as handle:
        while block := handle.read(4 * 1024 * 1024):
            git.update(block)
            if sha is not None:
                sha.update(block)
    return git.hexdigest(), sha.hexdigest() if sha is not None else None


def repo_from_folder(repo_id: str, folder: Path) -> HubRepo:
    files = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        name = path.relative_to(folder).as_posix()
        git, sha = _digests(path, name.endswith(LFS_SUFFIXES))
        files[name] = HubFile(name, path, path.stat().st_size, git, sha)
    commit = hashlib.sha1(
        "".join(f"{n}:{f.git_oid}" for n, f in files.items()).encode(), usedforsecurity=False
    ).hexdigest()
    return HubRepo(repo_id, commit, files)


@dataclass
class HubState:
    repos: dict[str, HubRepo] = field(default_factory=dict)
    rules: list[Rule] = field(default_factory=list)
    log: list[tuple[str, str, str]] = field(default_factory=list)
    """(method, path, Range header) of every request."""
    body_bytes: dict[str, int] = field(default_factory=dict)
    """Bytes of file bodies sent, per file path."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take_rule(self, path: str) -> Rule | None:
        with self.lock:
            for rule in self.rules:
                if rule.times > 0 and fnmatch.fnmatch(path, rule.pattern):
                    rule.times -= 1
                    return rule
        return None

    def count(self, path: str, sent: int) -> None:
        with self.lock:
            self.body_bytes[path] = self.body_bytes.get(path, 0) + sent


class _Handler(BaseHTTPRequestHandler):
    server: _HubHTTPServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        """Quiet: tests read ``state.log`` instead."""

    def _reply(self, status: int, headers: dict[str, str], body: bytes = b"") -> None:
        self.send_response(status)
        for key, value in {**headers, "Content-Length": str(len(body))}.items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, data: Any, status: int = 200, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(data).encode()
        self._reply(status, {"Content-Type": "application/json", **(headers or {})}, body)

    def _not_found(self, code: str, commit: str | None = None) -> None:
        headers = {"X-Error-Code": code}
        if commit:
            headers["X-Repo-Commit"] = commit
        self._json({"error": code}, 404, headers)

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        state = self.server.state
        state.log.append((self.command, self.path, self.headers.get("Range", "")))
        api = _API.match(self.path)
        if api:
            self._api(api)
            return
        resolve = _RESOLVE.match(self.path.split("?")[0])
        if resolve is None:
            self._not_found("RepoNotFound")
            return
        self._file(resolve["repo"], resolve["path"])

    do_HEAD = do_GET  # noqa: N815

    def _api(self, match: re.Match[str]) -> None:
        repo = self.server.state.repos.get(match["repo"])
        if repo is None:
            self._not_found("RepoNotFound")
            return
        if match["what"] == "revision":
            siblings = [{"rfilename": name} for name in repo.files]
            self._json({"id": repo.repo_id, "sha": repo.commit, "siblings": siblings})
            return
        entries: list[dict[str, Any]] = []
        for name, hub_file in repo.files.items():
            entry: dict[str, Any] = {
                "type": "file",
                "path": name,
                "size": hub_file.size,
                "oid": hub_file.git_oid,
            }
            if hub_file.sha256 is not None:
                entry["lfs"] = {"oid": hub_file.sha256, "size": hub_file.size, "pointerSize": 134}
            entries.append(entry)
        self._json(entries)

    def _file(self, repo_id: str, name: str) -> None:
        repo = self.server.state.repos.get(repo_id)
        if repo is None:
            self._not_found("RepoNotFound")
            return
        hub_file = repo.files.get(name)
        if hub_file is None:
            self._not_found("EntryNotFound", repo.commit)
            return
        headers = {
            "X-Repo-Commit": repo.commit,
            "ETag": f'"{hub_file.git_oid}"',
            "Accept-Ranges": "bytes",
            "Content-Type": "application/octet-stream",
        }
        if hub_file.sha256 is not None:
            headers["X-Linked-Etag"] = f'"{hub_file.sha256}"'
            headers["X-Linked-Size"] = str(hub_file.size)
        if self.command == "HEAD":
            self.send_response(200)
            for key, value in {**headers, "Content-Length": str(hub_file.size)}.items():
                self.send_header(key, value)
            self.end_headers()
            return
        rule = self.server.state.take_rule(name)
        if rule is not None and rule.kind == "delay":
            time.sleep(rule.value)
        if rule is not None and rule.kind == "status":
            self._json({"error": "injected"}, int(rule.value))
            return
        self._send_body(hub_file, headers, rule)

    def _send_body(self, hub_file: HubFile, headers: dict[str, str], rule: Rule | None) -> None:
        start = 0
        range_header = self.headers.get("Range", "")
        match = re.fullmatch(r"bytes=(\d+)-", range_header.strip())
        if match:
            start = int(match[1])
            if start >= hub_file.size:
                self._reply(416, {"Content-Range": f"bytes */{hub_file.size}"})
                return
            self.send_response(206)
            headers["Content-Range"] = f"bytes {start}-{hub_file.size - 1}/{hub_file.size}"
        else:
            self.send_response(200)
        length = hub_file.size - start
        for key, value in {**headers, "Content-Length": str(length)}.items():
            self.send_header(key, value)
        self.end_headers()
        limit = int(rule.value) if rule is not None and rule.kind == "cut" else length
        sent = self._copy(hub_file.source, start, min(limit, length), rule)
        self.server.state.count(hub_file.path, sent)
        if sent < length:  # a dropped connection: no more bytes, the socket closes
            self.close_connection = True
            self.wfile.flush()
            self.connection.shutdown(2)

    def _copy(self, source: Path, start: int, count: int, rule: Rule | None) -> int:
        corrupt = rule is not None and rule.kind == "corrupt"
        with source.open("rb") as handle:
            if rule is not None and rule.kind == "slow":
                return self._trickle(handle, start, count, rule.value)
            if not corrupt:
                self.wfile.flush()
                return int(self.connection.sendfile(handle, start, count) or 0)
            handle.seek(start)
            body = bytearray(handle.read(count))
            if body:
                body[len(body) // 2] ^= 0xFF  # one byte flipped after the checksum was sent
            self.wfile.write(bytes(body))
            return len(body)

    def _trickle(self, handle: Any, start: int, count: int, rate: float) -> int:
        """At most ``rate`` bytes a second, in tenths of a second; stops if the client left."""
        handle.seek(start)
        sent = 0
        step = max(int(rate / 10), 1)
        while sent < count:
            block = handle.read(min(step, count - sent))
            try:
                self.wfile.write(block)
            except OSError:
                break
            sent += len(block)
            time.sleep(0.1)
        return sent


class _HubHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    state: HubState


class LocalHub:
    """``with LocalHub() as hub: hub.add_repo(...)``; ``hub.endpoint`` is its URL."""

    def __init__(self) -> None:
        self.state = HubState()
        self._server = _HubHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.state = self.state
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def add_repo(self, repo_id: str, folder: Path) -> HubRepo:
        repo = repo_from_folder(repo_id, folder)
        self.state.repos[repo_id] = repo
        return repo

    def add_rule(
        self, kind: RuleKind, pattern: str = "*", value: float = 0, times: int = 1
    ) -> Rule:
        rule = Rule(kind, pattern, value, times)
        self.state.rules.append(rule)
        return rule

    def requests(self, method: str = "GET", contains: str = "") -> list[tuple[str, str, str]]:
        return [r for r in self.state.log if r[0] == method and contains in r[1]]

    def __enter__(self) -> LocalHub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
