"""Errors a person can act on.

Every failure that comes from the user's input or environment (a bad value, a missing model, an
unreadable file) is a :class:`UserFacingError`: its message says what was wrong and what to do.
The CLI prints it as one line and exits with status 2; the GUI shows it in a dialog.
"""

from __future__ import annotations


class UserFacingError(Exception):
    """A problem the user can fix; ``str(error)`` is the whole message."""

    exit_status = 2

    def __init__(self, message: str, hint: str = "") -> None:
        self.message = message
        self.hint = hint
        super().__init__(f"{message} {hint}".strip())


class InvalidRequestError(UserFacingError):
    """A generation setting is out of range or inconsistent."""

    def __init__(self, field: str, message: str, hint: str = "") -> None:
        self.field = field
        super().__init__(message, hint)


class ModelNotFoundError(UserFacingError):
    """A model could not be found locally nor downloaded."""


class ModelLoadError(UserFacingError):
    """A model was found but could not be read (corrupt, wrong format, unsafe)."""


class GenerationFailedError(UserFacingError):
    """The pipeline ran but gave no usable image (NaN output, out of memory...)."""


class OutOfMemoryError(GenerationFailedError):
    """The device ran out of memory; the worker retries once with lower-memory options."""


class GenerationCancelled(Exception):  # noqa: N818 - a control-flow signal, not an error
    """Raised inside a pipeline step when the user cancelled; the result is discarded."""
