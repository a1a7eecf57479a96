"""Undo commands for mask edits, each storing only the rectangle it changed.

A :class:`MaskPatchCommand` keeps the before and after bytes of the changed bounding rectangle,
zlib-compressed (mask data is mostly runs of 0 and 255, so a stroke's patch shrinks to a few KB).
Undo writes "before" back, redo writes "after". :class:`InvertMaskCommand` stores nothing: inverting
twice is the identity.

Commands act on a :class:`MaskTarget`, so they work on any mask holder (the canvas implements it).
"""

from __future__ import annotations

import zlib
from typing import Protocol

import numpy as np
from PySide6.QtGui import QUndoCommand

from .geometry import PixelRect

_COMPRESSION_LEVEL = 1  # fast; mask patches compress well even at level 1


class MaskTarget(Protocol):
    """What the commands need from the mask's owner."""

    def mask_buffer(self) -> np.ndarray:
        """The live HxW uint8 mask (edited in place)."""
        ...

    def notify_mask_region_changed(self, rect: PixelRect) -> None:
        """Refresh caches and views for ``rect`` and announce the change."""
        ...


def changed_bounds(before: np.ndarray, after: np.ndarray) -> PixelRect | None:
    """The bounding box of the pixels that differ between two equal-shape masks (or layers)."""
    diff = before != after
    if diff.ndim == 3:  # a colour layer: a pixel differs when any channel does
        diff = diff.any(axis=2)
    rows = np.flatnonzero(diff.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(diff[rows[0] : rows[-1] + 1].any(axis=0))
    return PixelRect(int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1)


class MaskPatchCommand(QUndoCommand):
    """Replace one rectangle of the mask: ``before`` on undo, ``after`` on redo.

    Built after the edit already happened (a finished stroke, a fill), so the first ``redo()``
    that ``QUndoStack.push`` calls does nothing.
    """

    def __init__(
        self,
        target: MaskTarget,
        rect: PixelRect,
        before: np.ndarray,
        after: np.ndarray,
        text: str,
    ) -> None:
        super().__init__(text)
        self._target = target
        self._rect = rect
        self._before = zlib.compress(np.ascontiguousarray(before).tobytes(), _COMPRESSION_LEVEL)
        self._after = zlib.compress(np.ascontiguousarray(after).tobytes(), _COMPRESSION_LEVEL)
        self._applied = True

    @classmethod
    def from_masks(
        cls,
        target: MaskTarget,
        before: np.ndarray,
        after: np.ndarray,
        text: str,
        hint: PixelRect | None = None,
    ) -> MaskPatchCommand | None:
        """A command for the difference between two whole masks, or None when they are equal.

        ``hint``, when given, is a box known to hold every change (e.g. a stroke's dirty rect);
        it makes finding the exact changed box cheaper on large images.
        """
        offset_x = offset_y = 0
        if hint is not None:
            hint = hint.intersected(PixelRect.full(before.shape[1], before.shape[0]))
            rows, cols = hint.slices()
            before_view, after_view = before[rows, cols], after[rows, cols]
            offset_x, offset_y = hint.x0, hint.y0
        else:
            before_view, after_view = before, after
        bounds = changed_bounds(before_view, after_view)
        if bounds is None:
            return None
        rect = bounds.translated(offset_x, offset_y)
        rows, cols = rect.slices()
        return cls(target, rect, before[rows, cols], after[rows, cols], text)

    @property
    def rect(self) -> PixelRect:
        return self._rect

    @property
    def stored_bytes(self) -> int:
        """Memory held by this command's pixel data."""
        return len(self._before) + len(self._after)

    def _write(self, data: bytes) -> None:
        rows, cols = self._rect.slices()
        buffer = self._target.mask_buffer()  # HxW, or HxWxC for a colour layer
        patch = np.frombuffer(zlib.decompress(data), dtype=np.uint8).reshape(
            self._rect.height, self._rect.width, *buffer.shape[2:]
        )
        buffer[rows, cols] = patch
        self._target.notify_mask_region_changed(self._rect)

    def undo(self) -> None:
        self._write(self._before)
        self._applied = False

    def redo(self) -> None:
        if self._applied:  # the edit is already on the mask (first push)
            return
        self._write(self._after)
        self._applied = True


class InvertMaskCommand(QUndoCommand):
    """Invert the whole mask (``255 - value``); undo inverts again. Stores no pixels."""

    def __init__(self, target: MaskTarget, text: str = "Invert mask") -> None:
        super().__init__(text)
        self._target = target

    @property
    def stored_bytes(self) -> int:
        return 0

    def _invert(self) -> None:
        mask = self._target.mask_buffer()
        np.subtract(255, mask, out=mask)
        self._target.notify_mask_region_changed(PixelRect.full(mask.shape[1], mask.shape[0]))

    def undo(self) -> None:
        self._invert()

    def redo(self) -> None:
        self._invert()
