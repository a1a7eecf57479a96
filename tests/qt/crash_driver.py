"""The real app, offscreen, narrating what it does on stdout, for the crash tests to SIGKILL.

``python -m tests.qt.crash_driver DATA_DIR MODEL`` builds the window exactly as ``main()`` does,
prints the recovery question it shows (``RECOVERY <text>``), answers Resume, and prints one line
per event at the moment it happens, from the thread where it happens: ``STEP`` (worker, each
denoising step), ``SAVE`` / ``SAVED`` (worker, around each image's save), ``STATE`` (GUI, each
job state change) and ``IDLE`` when nothing is left, then quits.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from PySide6.QtCore import Qt, QTimer


def say(*parts: object) -> None:
    # One write per line: atomic on a pipe, whichever thread writes.
    os.write(1, (" ".join(str(part) for part in parts) + "\n").encode())


def main(data_dir: str, model: str) -> int:
    from sd21_desktop.app import create_app

    app, window = create_app(["--model", model, "--data-dir", data_dir])
    controller: Any = window.controller  # type: ignore[attr-defined]
    worker, queue = controller.worker, controller.queue
    original_save = worker._save_image

    def save(image: Any, record: Any) -> Any:
        say("SAVE", record.runtime.get("job_id"), record.batch_index)
        saved = original_save(image, record)
        say("SAVED", record.runtime.get("job_id"), record.batch_index)
        return saved

    worker._save_image = save
    worker.progress.connect(
        lambda job, step, total, rate, eta: say("STEP", job, step),
        Qt.ConnectionType.DirectConnection,
    )
    queue.job_state_changed.connect(lambda job, state: say("STATE", job, state))

    def idle_check() -> None:
        if not queue.is_busy() and queue.recovery is not None:
            say("IDLE")
            window.close()
            app.quit()

    queue.busy_changed.connect(lambda busy: None if busy else QTimer.singleShot(0, idle_check))
    window.show()
    strip = window.queue_panel.recovery_strip  # type: ignore[attr-defined]
    say("RECOVERY", strip.label.text() if not strip.isHidden() else "none")
    if not strip.isHidden():
        strip.buttons["recoveryResumeButton"].click()
    QTimer.singleShot(0, idle_check)
    return int(app.exec())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
