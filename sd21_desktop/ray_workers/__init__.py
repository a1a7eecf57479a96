"""Running jobs on Ray workers: one actor per GPU (or N CPU actors), each holding our engine.

The window and the ``batch`` command stay where the user is; the denoising runs in actors of a
Ray cluster (one machine or many). What goes over the network: the request (JSON-sized), each
input image once per worker (PNG bytes, by content id), one small event per denoising step (with
the first image's latents when a preview is wanted) and, at the end, the PNG bytes of each image
with both metadata chunks. The gallery stays local.

Modules: :mod:`.cluster` connects (loopback only when it starts Ray itself), :mod:`.actor` is the
worker process's side, :mod:`.pool` the client's side (scheduling, inputs, retry, cancel),
:mod:`.events` what travels between them.

Ray is optional (``pip install sd21-desktop[ray]``): importing this package does not import it.
"""

from __future__ import annotations

from types import ModuleType

from sd21_desktop.errors import UserFacingError

ENGINES = ("local", "ray")
"""Where jobs run: this machine's engine, or the actors of a Ray cluster."""
INSTALL_HINT = "Install it with `pip install 'sd21-desktop[ray]'` (or `pip install ray`)."


def ray_installed() -> bool:
    """Whether Ray can be imported (without importing it)."""
    import importlib.util

    return importlib.util.find_spec("ray") is not None


def import_ray() -> ModuleType:
    """The ``ray`` module, or a clear message saying how to install it."""
    try:
        import ray
    except ImportError:
        raise UserFacingError(
            "The Ray engine needs Ray, which is not installed.", INSTALL_HINT
        ) from None
    return ray
