"""Building blocks of :class:`sd21_desktop.ui.mask_canvas.MaskCanvas` (brush, mask maths, undo,
overlay cache, view transform, image reading). Only ``image_io``, ``overlay`` and ``undo`` import
Qt (QtGui); none imports torch."""
