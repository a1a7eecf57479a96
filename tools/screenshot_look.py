"""README screenshots of the dark window at 1600×1000: generating (with the filmstrip and a
queued job), the canvas with a mask, and the gallery. Run under Xvfb:

    xvfb-run -s "-screen 0 1600x1000x24" python tools/screenshot_look.py docs/screenshots \\
        [--fixtures DIR] [--scale 1.0]

The model is a tiny random-weight SD2 (no real weights exist on these machines), so the images
are noise; the pictures show the window. ``--fixtures`` imports other tools' images (with their
metadata) into the gallery first, so the gallery shows real pictures. ``--prefix`` names the
files (e.g. ``scaled-`` for checks at ``QT_SCALE_FACTOR``).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PROMPT = "a lighthouse on a rocky cliff at dawn, dramatic clouds, oil painting, highly detailed"


def _shoot(path: Path) -> None:
    subprocess.run(["import", "-window", "root", str(path)], check=True)
    print(f"wrote {path}")


def _import_fixtures(data: Path, fixtures: str | None) -> None:
    if not fixtures or not Path(fixtures).is_dir():
        return
    from sd21_desktop.gallery.store import GalleryStore
    from sd21_desktop.paths import resolve_paths

    files = [
        str(path) for path in sorted(Path(fixtures).glob("*/*"))
        if path.is_file() and "_negative" not in str(path) and path.stat().st_size > 20_000
    ]
    with GalleryStore(resolve_paths(data)) as store:
        print(f"imported {len(store.import_files(files).imported)} images")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out_dir")
    parser.add_argument("--fixtures", default=None)
    parser.add_argument("--prefix", default="")
    args = parser.parse_args()

    import numpy as np
    from PySide6.QtCore import QObject, QTimer, Slot
    from PySide6.QtGui import QGuiApplication

    from sd21_desktop.app import create_app
    from sd21_desktop.engine.synthetic import save_synthetic_model
    from sd21_desktop.ui.filmstrip import saved_image

    out = Path(args.out_dir)
    work = Path(tempfile.mkdtemp())
    _import_fixtures(work / "data", args.fixtures)
    model = str(save_synthetic_model(work / "tiny-sd21"))
    app, window = create_app(["--model", model, "--data-dir", str(work / "data")])
    screen = QGuiApplication.primaryScreen().availableGeometry()
    window.setGeometry(screen)
    window.prompt_editor.set_prompts(PROMPT, "blurry, low quality, watermark")
    params = window.parameters
    params.steps_spin.setValue(3)
    params.set_size(256, 256)
    params.batch_count_spin.setValue(5)
    window.show()
    worker: Any = window.controller.worker  # type: ignore[attr-defined]

    class Director(QObject):
        finished_jobs = 0
        shot_generating = False

        @Slot(str, list)
        def on_finished(self, job: str, images: list) -> None:  # type: ignore[type-arg]
            self.finished_jobs += 1
            if self.finished_jobs == 5:  # the filmstrip has five images: start the long job
                params.steps_spin.setValue(40)
                params.batch_count_spin.setValue(2)
                QTimer.singleShot(300, window.generate)

        @Slot(str, int, int, float, float)
        def on_progress(self, job: str, step: int, total: int, rate: float, eta: float) -> None:
            if total == 40 and step == 4 and not self.shot_generating:
                self.shot_generating = True
                QTimer.singleShot(400, self.generating)

        @Slot()
        def generating(self) -> None:
            _shoot(out / f"{args.prefix}main-window-generating.png")
            window.queue.cancel_all()
            QTimer.singleShot(1500, self.canvas)

        @Slot()
        def canvas(self) -> None:
            strip = window.recent_view
            strip.setCurrentRow(1)
            saved = saved_image(strip.item(1))
            assert saved is not None
            dict(strip.actions_for(saved))["Send to canvas"]()
            QTimer.singleShot(500, self.mask)

        @Slot()
        def mask(self) -> None:
            canvas = window.canvas_tab.canvas
            if canvas.image() is None:  # the file is still being read
                QTimer.singleShot(200, self.mask)
                return
            size = canvas.image_size()
            y, x = np.mgrid[0:size.height(), 0:size.width()]
            cx, cy = size.width() * 0.55, size.height() * 0.45
            a, b = size.width() * 0.22, size.height() * 0.16
            inside = ((x - cx) / a) ** 2 + ((y - cy) / b) ** 2 <= 1
            canvas.set_mask_array(inside.astype(np.uint8) * 255)
            params.set_mode("inpaint")
            QTimer.singleShot(1000, self.canvas_shot)

        @Slot()
        def canvas_shot(self) -> None:
            _shoot(out / f"{args.prefix}canvas.png")
            window.tabs.setCurrentWidget(window.gallery_panel)
            QTimer.singleShot(2500, self.gallery)

        @Slot()
        def gallery(self) -> None:
            view = window.gallery_view
            view.setCurrentIndex(view.model().index(0, 0))
            QTimer.singleShot(800, self.gallery_shot)

        @Slot()
        def gallery_shot(self) -> None:
            _shoot(out / f"{args.prefix}gallery.png")
            window.close()
            app.quit()

    director = Director()
    worker.finished.connect(director.on_finished)
    worker.progress.connect(director.on_progress)
    QTimer.singleShot(800, window.generate)
    app.exec()


if __name__ == "__main__":
    main()
