"""Take a screenshot of the real window under Xvfb, mid-generation, for the README.

    xvfb-run -s "-screen 0 1400x900x24" python tools/screenshot.py OUT.png [--model DIR]

Uses ImageMagick's ``import -window root`` so the picture is what a user's screen shows.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--model", default=None)
    parser.add_argument("--at-step", type=int, default=12)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--size", type=int, default=512)
    args = parser.parse_args()

    from PySide6.QtCore import QObject, QTimer, Slot

    from sd21_desktop.app import create_app
    from sd21_desktop.engine.synthetic import save_synthetic_model

    work = Path(tempfile.mkdtemp())
    model = args.model or str(save_synthetic_model(work / "tiny-sd21"))
    app, window = create_app(["--model", model, "--data-dir", str(work / "data")])
    window.resize(1380, 860)
    window.move(10, 10)
    window.prompt_editor.set_prompts(
        "a lighthouse on a rocky cliff at dawn, dramatic clouds, oil painting, highly detailed",
        "blurry, low quality, watermark",
    )
    params = window.parameters
    params.steps_spin.setValue(args.steps)
    params.set_size(args.size, args.size)
    params.batch_count_spin.setValue(2)
    window.show()
    worker = window.controller.worker  # type: ignore[attr-defined]

    class Shooter(QObject):
        """Lives in the GUI thread, so the worker's signal reaches it queued, after the window."""

        @Slot(str, int, int, float, float)
        def on_progress(self, job: str, step: int, total: int, rate: float, eta: float) -> None:
            if step == args.at_step:
                QTimer.singleShot(400, self.shoot)

        @Slot()
        def shoot(self) -> None:
            subprocess.run(["import", "-window", "root", args.out], check=True)
            print(f"wrote {args.out}")
            window.close()
            app.quit()

    shooter = Shooter()
    worker.progress.connect(shooter.on_progress)
    QTimer.singleShot(500, window.generate)
    app.exec()


if __name__ == "__main__":
    main()
