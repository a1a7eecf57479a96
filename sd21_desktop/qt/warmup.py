"""Loading torch and diffusers after start-up without freezing the window.

The first job used to import torch on the worker thread, and the GUI thread froze for ~0.3-0.5 s:
an extension module's ``dlopen`` (libtorch_cpu's static initialisers) runs with the GIL held,
and ``ctypes.CDLL`` holds it too. Here the same libraries are opened through libc's ``dlopen``
called as a ctypes *function* — ctypes releases the GIL around foreign calls — so the GUI thread
keeps running while they load; the later ``import torch`` finds them loaded.

The longest holds after that were not the imports themselves but the cyclic garbage collector:
a full collection walks every tracked object with the GIL held, and the imports allocate enough
to start several while the heap grows to ~450k objects (0.1-0.3 s each, finding next to nothing
to free). So the stages run with the collector paused and then ``gc.freeze()`` what they made:
modules live as long as the process, and later collections no longer walk them. What is left
holding the GIL in one piece is extension-module init (torch._C, ~40 ms of CPU).

``WarmUp`` runs the imports as separate stages on the worker thread, each only once the user has
left mouse and keyboard alone for a moment, so the first Generate finds everything imported; a
Generate before that runs the stages first, the same way (``warm_everything``).
"""

from __future__ import annotations

import _imp
import contextlib
import ctypes
import gc
import importlib.util
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QEvent, QObject, QTimer, Signal, Slot

STAGES = ("native", "torch", "diffusers")
IDLE_S = 0.4
"""How long mouse and keyboard must rest before a stage that holds the GIL starts."""

_lock = threading.Lock()
_loaded: list[str] = []
_imported: set[str] = set()


def torch_library_folder() -> Path | None:
    """torch's ``lib`` folder, found without importing torch (None when torch is absent)."""
    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.submodule_search_locations:
        return None
    folder = Path(list(spec.submodule_search_locations)[0]) / "lib"
    return folder if folder.is_dir() else None


def _libc_dlopen() -> ctypes._CFuncPtr | None:  # type: ignore[name-defined]
    """libc's dlopen as a ctypes function (called without the GIL), or None (Windows)."""
    if sys.platform == "win32":
        return None
    dlopen = ctypes.CDLL(None).dlopen
    dlopen.restype = ctypes.c_void_p
    dlopen.argtypes = [ctypes.c_char_p, ctypes.c_int]
    return dlopen


def preload_native_libraries() -> list[str]:
    """Open torch's shared libraries with the GIL released; returns the ones opened.

    Mirrors what ``import torch`` does: ``libtorch_global_deps`` with RTLD_GLOBAL (torch's own
    first step), then ``libtorch_python``, which pulls in libtorch, libtorch_cpu, c10 and, on
    CUDA builds, the CUDA libraries. Safe to call again; does nothing where torch is already
    imported, is absent, or on Windows (torch loads its DLLs itself there).
    """
    with _lock:
        if _loaded or "torch" in sys.modules:
            return list(_loaded)
        folder = torch_library_folder()
        dlopen = _libc_dlopen()
        if folder is None or dlopen is None:
            return []
        suffix = ".dylib" if sys.platform == "darwin" else ".so"
        for name, mode in (
            ("libtorch_global_deps", os.RTLD_NOW | os.RTLD_GLOBAL),
            ("libtorch_python", os.RTLD_NOW | os.RTLD_LOCAL),
        ):
            path = folder / f"{name}{suffix}"
            with _imports_waiting():
                if path.exists() and dlopen(str(path).encode(), mode):
                    _loaded.append(str(path))
        return list(_loaded)


@contextlib.contextmanager
def _imports_waiting() -> Iterator[None]:
    """Hold Python's import lock while ``dlopen`` holds the dynamic loader's.

    The loader's lock is held for as long as libtorch's static initialisers run. A thread that
    imports an extension module meanwhile (the Models scan at start-up does) would wait for it
    inside its own ``dlopen`` *with the GIL held*, and the GUI thread with it. Holding the import
    lock makes such a thread wait at the start of its import instead, where it lets the GIL go.
    """
    _imp.acquire_lock()
    try:
        yield
    finally:
        _imp.release_lock()


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Run imports without the cyclic collector, then freeze what they made (see above).

    Only for imports: freezing a model's objects would keep them (and their memory) for good
    if they ever formed a cycle.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()


def run_stage(stage: str) -> None:
    """One slice of the warm-up (on the worker thread); raises ValueError for an unknown one.

    A stage that has run once does nothing again (the next engine after a restart of the
    worker, or the next test, finds the imports done and freezes nothing more).
    """
    if stage not in STAGES:
        raise ValueError(f"unknown warm-up stage {stage!r}")
    preload_native_libraries()
    if stage == "native" or stage in _imported:
        return
    with collector_paused():
        if stage == "torch":
            import torch  # noqa: F401 - the import is the point
        else:
            _import_engine()
    _imported.add(stage)


def _import_engine() -> None:
    """What the first txt2img job imports: the engine, the SD pipeline, CLIP, the schedulers."""
    import diffusers
    import diffusers.guiders  # noqa: F401 - the pipeline's loader imports it
    from diffusers import AutoencoderKL, StableDiffusionPipeline, UNet2DConditionModel  # noqa: F401
    from transformers import CLIPTextModel, CLIPTokenizer  # noqa: F401

    from sd21_desktop.engine import prompt_encoding  # noqa: F401
    from sd21_desktop.engine.runner import Engine  # noqa: F401
    from sd21_desktop.engine.schedulers import SCHEDULERS

    for spec in SCHEDULERS:
        getattr(diffusers, spec.class_name)


def warm_everything() -> None:
    """Every stage at once (the first job, when it comes before the warm-up has finished)."""
    for stage in STAGES:
        run_stage(stage)


_INPUT_EVENTS = frozenset(
    {
        QEvent.Type.KeyPress,
        QEvent.Type.KeyRelease,
        QEvent.Type.MouseButtonPress,
        QEvent.Type.MouseButtonRelease,
        QEvent.Type.MouseMove,
        QEvent.Type.Wheel,
        QEvent.Type.TabletMove,
        QEvent.Type.TouchUpdate,
    }
)


class WarmUp(QObject):
    """GUI side: requests each stage in turn once the user has been idle for ``idle_s``."""

    stage_requested = Signal(str)  # → EngineWorker.warm_up (queued to the worker thread)
    finished = Signal()  # every stage done and the user idle again: time to load the model

    def __init__(self, idle_s: float = IDLE_S, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.idle_s = idle_s
        self.last_input = time.monotonic()
        self.pending = list(STAGES)
        self.running: str | None = None
        self.done: list[str] = []
        self._timer = QTimer(self)
        self._timer.setInterval(50)
        self._timer.timeout.connect(self._maybe_next)

    def start(self) -> None:
        if self._timer.isActive() or not self.pending:
            return
        app = QCoreApplication.instance()
        if app is not None:
            app.installEventFilter(self)
        self._timer.start()
        self._maybe_next()

    def idle_for(self) -> float:
        return time.monotonic() - self.last_input

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if event.type() in _INPUT_EVENTS:
            self.last_input = time.monotonic()
        return False

    @Slot()
    def _maybe_next(self) -> None:
        if self.running is not None:
            return
        stage = self.pending[0] if self.pending else "finished"
        # Opening the libraries releases the GIL: it need not wait for a pause. What follows
        # ``finished`` (loading the model) holds it in places too, so it waits for one as well.
        if stage != "native" and self.idle_for() < self.idle_s:
            return
        if not self.pending:
            self._stop()
            return
        self.running = self.pending.pop(0)
        self.stage_requested.emit(stage)

    @Slot(str)
    def on_stage_done(self, stage: str) -> None:
        self.done.append(stage)
        self.running = None
        self._maybe_next()

    def _stop(self) -> None:
        if not self._timer.isActive():
            return
        self._timer.stop()
        app = QCoreApplication.instance()
        if app is not None:
            app.removeEventFilter(self)
        self.finished.emit()
