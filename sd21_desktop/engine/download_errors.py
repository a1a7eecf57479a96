"""What went wrong with a download, in words a person can act on.

Each failure the network or the hub can give (no connection, a timeout, a proxy, 401/403/404,
a server error, a full disk) becomes one :class:`DownloadError` saying what happened and what to
do; every one of them ends with the reminder that the bytes fetched so far are kept.
"""

from __future__ import annotations

import errno
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

from sd21_desktop.errors import ModelNotFoundError

RESUMES = "The download resumes where it stopped."


class DownloadError(ModelNotFoundError):
    """A download failed; the message says what happened and what to do."""


def proxy_for(endpoint: str) -> str | None:
    """The proxy the environment names for ``endpoint`` (HTTPS_PROXY, HTTP_PROXY, NO_PROXY)."""
    parts = urlsplit(endpoint)
    bypass = urllib.request.proxy_bypass_environment  # type: ignore[attr-defined]
    if bypass(parts.hostname or ""):
        return None
    return urllib.request.getproxies_environment().get(parts.scheme or "https")


def _http_error(status: int, repo_id: str, endpoint: str) -> DownloadError:
    if status == 401:
        return DownloadError(
            f"The hub at {endpoint} refused to send {repo_id} (401: not logged in, or the token "
            "is not valid).",
            f"Log in with `hf auth login` or set HF_TOKEN, then try again. {RESUMES}",
        )
    if status == 403:
        return DownloadError(
            f"The hub at {endpoint} refused access to {repo_id} (403 Forbidden).",
            "Check that your token may read this model (some need their licence accepted on "
            f"their page), then try again. {RESUMES}",
        )
    if status == 404:
        return DownloadError(
            f"{repo_id} was not found at {endpoint} (404).",
            "Check the model id (the SD2 models live under sd2-community/) and HF_ENDPOINT.",
        )
    if status == 407:
        proxy = proxy_for(endpoint)
        return DownloadError(
            f"The proxy{' ' + proxy if proxy else ''} asks for a login (407) before it lets the "
            f"download of {repo_id} through.",
            "Put the proxy's user and password in HTTPS_PROXY (http://user:pass@host:port).",
        )
    if status == 429:
        return DownloadError(
            f"The hub at {endpoint} asks to slow down (429: too many requests).",
            f"Wait a few minutes and try again. {RESUMES}",
        )
    return DownloadError(
        f"The hub at {endpoint} answered with an error ({status}) while sending {repo_id}.",
        f"This is usually temporary: try again in a few minutes. {RESUMES}",
    )


def _network_error(
    error: BaseException, repo_id: str, endpoint: str, timeout: float
) -> DownloadError | None:
    import httpx2

    proxy = proxy_for(endpoint)
    if isinstance(error, httpx2.ProxyError):
        return DownloadError(
            f"The proxy{' ' + proxy if proxy else ''} refused the connection to {endpoint} "
            f"({error}).",
            "Check HTTPS_PROXY / HTTP_PROXY (and NO_PROXY), then try again.",
        )
    if isinstance(error, httpx2.TimeoutException):
        return DownloadError(
            f"{endpoint} stopped answering (nothing for {timeout:g} s) while sending {repo_id}.",
            "Check the connection and try again; a slow link can raise "
            f"HF_HUB_DOWNLOAD_TIMEOUT (seconds). {RESUMES}",
        )
    if isinstance(error, httpx2.ConnectError):
        where = f"the proxy {proxy}" if proxy else endpoint
        return DownloadError(
            f"Could not connect to {where} to download {repo_id}: no network connection, or "
            "the address is wrong.",
            f"Check the connection (and HF_ENDPOINT / HTTPS_PROXY), then try again. {RESUMES}",
        )
    if isinstance(error, httpx2.TransportError):
        return DownloadError(
            f"The connection to {endpoint} broke while sending {repo_id} ({type(error).__name__}).",
            f"Try again. {RESUMES}",
        )
    return None


def explain_error(
    error: BaseException, repo_id: str, endpoint: str, timeout: float, storage: Path
) -> DownloadError:
    from huggingface_hub.errors import (
        GatedRepoError,
        HfHubHTTPError,
        OfflineModeIsEnabled,
        RepositoryNotFoundError,
    )

    if isinstance(error, OfflineModeIsEnabled):
        return DownloadError(
            f"{repo_id} cannot be downloaded: downloads are switched off (HF_HUB_OFFLINE).",
            "Unset HF_HUB_OFFLINE and try again.",
        )
    if isinstance(error, GatedRepoError):
        return DownloadError(
            f"{repo_id} needs its licence accepted on the hub before it can be downloaded.",
            "Accept it on the model's page, log in with `hf auth login`, then try again.",
        )
    if isinstance(error, HfHubHTTPError) and error.response is not None:
        status = error.response.status_code
        if isinstance(error, RepositoryNotFoundError) and status == 401:
            status = 404  # the hub answers 401 for repos that do not exist (or are private)
        return _http_error(status, repo_id, endpoint)
    network = _network_error(error, repo_id, endpoint, timeout)
    if network is not None:
        return network
    if isinstance(error, OSError) and error.errno == errno.ENOSPC:
        return DownloadError(
            f"The disk holding {storage.parent} is full; the download of {repo_id} stopped.",
            f"Free some space (or point HF_HOME at a larger disk) and try again. {RESUMES}",
        )
    if isinstance(error, OSError):
        return DownloadError(
            f"Could not write the download of {repo_id} into {storage.parent}: "
            f"{error.strerror or error}.",
            "Check that the folder is writable, or point HF_HOME at another folder.",
        )
    return DownloadError(
        f"The download of {repo_id} failed: {type(error).__name__}: {error}.",
        f"Try again. {RESUMES}",
    )
