"""Screenshot of the gallery with a search in use, for the README (run under Xvfb).

    xvfb-run -s "-screen 0 1400x900x24" python tools/screenshot_gallery.py OUT.png [--search WORD]

Imports the real images from other SD tools in tests/fixtures (with their metadata) into a
fresh data folder, opens the window on the Gallery tab and types the search.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--search", default="miku")
    parser.add_argument("--fixtures", default=str(ROOT / "tests" / "fixtures" / "metadata-images"))
    args = parser.parse_args()

    from PySide6.QtCore import QTimer

    from sd21_desktop.app import create_app
    from sd21_desktop.gallery.store import GalleryStore
    from sd21_desktop.paths import resolve_paths

    data = Path(tempfile.mkdtemp()) / "data"
    files = [
        str(path) for path in sorted(Path(args.fixtures).glob("*/*"))
        if path.is_file() and "_negative" not in str(path) and path.stat().st_size > 20_000
    ]
    with GalleryStore(resolve_paths(data)) as store:
        report = store.import_files(files)
        print(f"imported {len(report.imported)} images")
    app, window = create_app(["--data-dir", str(data)])
    window.resize(1380, 860)
    window.move(10, 10)
    window.show()
    window.tabs.setCurrentWidget(window.gallery_panel)
    panel = window.gallery_panel

    def search() -> None:
        panel.search_edit.setText(args.search)
        QTimer.singleShot(1500, select)

    def select() -> None:
        panel.view.setCurrentIndex(panel.model.index(0))
        QTimer.singleShot(2500, shoot)

    def shoot() -> None:
        subprocess.run(["import", "-window", "root", args.out], check=True)
        print(f"wrote {args.out} ({panel.model.rowCount()} results)")
        window.close()
        app.quit()

    QTimer.singleShot(1500, search)
    app.exec()


if __name__ == "__main__":
    main()
