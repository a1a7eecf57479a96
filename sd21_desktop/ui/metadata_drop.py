"""Reading another tool's image metadata into the editor: off the GUI thread, never failing."""

from __future__ import annotations

import contextlib

from PySide6.QtCore import QObject, QRunnable, Signal

from sd21_desktop.engine.request import DEFAULT_MODEL


class MetadataRead(QObject):
    done = Signal(str, object, str)  # path, GenerationRequest | None, message


class ReadMetadata(QRunnable):
    def __init__(self, path: str, model: str, relay: MetadataRead) -> None:
        super().__init__()
        self.path, self.model, self.relay = path, model or DEFAULT_MODEL, relay

    def run(self) -> None:
        from sd21_desktop.errors import UserFacingError
        from sd21_desktop.gallery.importers import read_image_metadata

        request, message = None, ""
        try:
            found = read_image_metadata(self.path)
            if found.record is not None:
                request = found.record.request.replace(seed=found.record.seed, batch_size=1)
                message = "Loaded the settings of an SD21 Desktop image."
            elif found.found:
                # A known SD 2.x checkpoint selects its model; an unknown one keeps the editor's.
                request = found.to_request(self.model)
                note = found.checkpoint_choice(self.model).note
                message = (
                    f"Loaded the settings of a {found.source} image"
                    + (f" ({note})." if note else ".")
                    if request
                    else (f"The {found.source} image has no prompt to load.")
                )
            else:
                message = f"No generation settings found in this image ({found.problem})."
        except UserFacingError as error:
            message = str(error)
        except Exception as error:  # the parsers never raise, but a dropped file is untrusted
            message = f"Could not read the image's settings: {type(error).__name__}: {error}"
        with contextlib.suppress(RuntimeError):
            self.relay.done.emit(self.path, request, message)
