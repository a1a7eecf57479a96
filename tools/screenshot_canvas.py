"""Screenshots of the canvas with a painted mask, and of the inpainted result (run under Xvfb).

    xvfb-run -s "-screen 0 1600x1000x24" python tools/screenshot_canvas.py MASK.png RESULT.png

The model is a tiny random-weight SD2 (no real weights exist on these machines), so the masked
area fills with noise; what the pictures show is the workflow, and that every unmasked pixel
stays exactly as it was.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
FIXTURES = ROOT / "tests" / "fixtures" / "metadata-images"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mask_shot")
    parser.add_argument("result_shot")
    parser.add_argument("--image", default=str(FIXTURES / "a1111" / "kongha__SD.png"))
    args = parser.parse_args()

    import numpy as np
    from PySide6.QtCore import QObject, QTimer, Slot

    from sd21_desktop.app import create_app
    from sd21_desktop.engine.synthetic import save_synthetic_model

    work = Path(tempfile.mkdtemp())
    model = str(save_synthetic_model(work / "tiny-sd21"))
    app, window = create_app(["--model", model, "--data-dir", str(work / "data")])
    window.setGeometry(0, 0, 1600, 1000)  # the README's size; dark unless the system says light
    window.show()
    window.prompt_editor.set_prompts("a glowing blue crystal held in the hand", "blurry")
    window.parameters.steps_spin.setValue(12)
    tab = window.canvas_tab
    window.tabs.setCurrentWidget(tab)
    tab.open_file(args.image)

    def paint() -> None:
        canvas = tab.canvas
        height, width = canvas.image_size().height(), canvas.image_size().width()
        y, x = np.mgrid[0:height, 0:width]
        mask = (((x - 330) / 70) ** 2 + ((y - 330) / 55) ** 2 <= 1).astype(np.uint8) * 255
        canvas.set_mask_array(mask)
        tab.feather.setValue(6)
        canvas.fit_to_view()
        window.parameters.set_mode("inpaint")
        QTimer.singleShot(800, shoot_mask)

    def shoot_mask() -> None:
        subprocess.run(["import", "-window", "root", args.mask_shot], check=True)
        window.generate()

    class Shooter(QObject):
        @Slot(str, list)
        def on_finished(self, job: str, images: list) -> None:  # type: ignore[type-arg]
            window.tabs.setCurrentWidget(window.result_view)
            QTimer.singleShot(800, self.shoot)

        @Slot()
        def shoot(self) -> None:
            subprocess.run(["import", "-window", "root", args.result_shot], check=True)
            print("wrote", args.mask_shot, args.result_shot)
            window.close()
            app.quit()

    shooter = Shooter()
    window.controller.worker.finished.connect(shooter.on_finished)  # type: ignore[attr-defined]
    QTimer.singleShot(1500, paint)
    app.exec()


if __name__ == "__main__":
    main()
