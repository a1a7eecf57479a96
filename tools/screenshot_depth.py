"""Screenshot of depth mode: the canvas image with its estimated depth map beside it (Xvfb).

    xvfb-run -s "-screen 0 1600x1000x24" python tools/screenshot_depth.py OUT.png

A tiny random-weight depth model estimates the map, so the map itself is not meaningful; the
picture shows the workflow.
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
    parser.add_argument("out")
    parser.add_argument("--image", default=str(FIXTURES / "a1111" / "kongha__SD.png"))
    args = parser.parse_args()

    from PySide6.QtCore import QTimer

    from sd21_desktop.app import create_app
    from sd21_desktop.engine.synthetic import save_synthetic_model

    work = Path(tempfile.mkdtemp())
    model = str(save_synthetic_model(work / "tiny-depth", mode="depth"))
    app, window = create_app(["--data-dir", str(work / "data")])
    window.setGeometry(0, 0, 1600, 1000)  # the README's size; dark unless the system says light
    window.show()
    window.prompt_editor.set_prompts("the same scene as a stone sculpture", "")
    window.parameters.set_mode("depth")
    window.parameters.model_combo.setEditText(model)
    tab = window.canvas_tab
    window.tabs.setCurrentWidget(tab)
    tab.open_file(args.image)

    def estimate() -> None:
        # Opening a picture picks the mode the canvas suggests (img2img): choose depth after.
        window.parameters.set_mode("depth")
        window.parameters.model_combo.setEditText(model)
        tab.depth_panel.estimate_requested.emit()
        QTimer.singleShot(200, wait)

    def wait() -> None:
        if tab.depth_panel.depth_map is None:
            QTimer.singleShot(200, wait)
            return
        QTimer.singleShot(600, shoot)

    def shoot() -> None:
        subprocess.run(["import", "-window", "root", args.out], check=True)
        print("wrote", args.out)
        window.close()
        app.quit()

    QTimer.singleShot(1500, estimate)
    app.exec()


if __name__ == "__main__":
    main()
