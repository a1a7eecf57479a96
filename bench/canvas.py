"""Mask canvas latency: time from a mouse-move event to its repaint being done.

Builds a 2048 x 2048 image in an offscreen QApplication, presses the left button, then sends
mouse-move events along a wavy stroke. For each move it times ``sendEvent(move)`` followed by
``processEvents()`` (which delivers the update request and paints only the dirty rectangle),
checking with an event filter that a paint really happened. It prints p50 / p99 / max per
scenario; the target is p99 <= 16 ms (one frame at 60 Hz).

    python bench/canvas.py [--size 2048] [--moves 400] [--brush 48] [--check]

Scenarios: 100 % zoom hard brush, 100 % soft brush, fit-to-view zoom (smooth scaling),
effective-mask preview with grow 8 + feather 6, colour on the paint layer (hard and soft, 70 %
opacity), a mask stroke with the "only masked" crop-box outline growing, and for comparison a
full-widget ``repaint()`` after each move. Also times the stroke commit (release: diff +
compressed undo patch) and undo.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


from PySide6.QtCore import QEvent, QObject, QPointF, Qt
from PySide6.QtGui import QColor, QImage, QLinearGradient, QMouseEvent, QPainter  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from sd21_desktop.ui.mask_canvas import MaskCanvas  # noqa: E402
from sd21_desktop.ui.paint_canvas import PaintCanvas  # noqa: E402
from sd21_desktop.ui.region_panel import RegionPanel  # noqa: E402

TARGET_P99_MS = 16.0


class PaintCounter(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt override
        if event.type() == QEvent.Type.Paint:
            self.count += 1
        return False


@dataclass
class Result:
    name: str
    samples_ms: list[float]
    paints: int

    def line(self) -> str:
        data = sorted(self.samples_ms)
        p50 = statistics.median(data)
        p99 = data[min(len(data) - 1, math.ceil(0.99 * len(data)) - 1)]
        flag = "ok" if p99 <= TARGET_P99_MS else "OVER"
        return (
            f"{self.name:<38} n={len(data):4d} paints={self.paints:4d}  p50={p50:6.2f} ms  "
            f"p99={p99:6.2f} ms  max={data[-1]:6.2f} ms  [{flag}]"
        )

    @property
    def p99(self) -> float:
        data = sorted(self.samples_ms)
        return data[min(len(data) - 1, math.ceil(0.99 * len(data)) - 1)]


def make_image(size: int) -> QImage:
    image = QImage(size, size, QImage.Format.Format_RGB888)
    painter = QPainter(image)
    gradient = QLinearGradient(0, 0, size, size)
    gradient.setColorAt(0.0, QColor(30, 80, 160))
    gradient.setColorAt(1.0, QColor(230, 190, 90))
    painter.fillRect(0, 0, size, size, gradient)
    painter.end()
    return image


def send_mouse(canvas: MaskCanvas, kind: QEvent.Type, pos: QPointF, button: Qt.MouseButton) -> None:
    buttons = (
        Qt.MouseButton.LeftButton
        if kind != QEvent.Type.MouseButtonRelease
        else (Qt.MouseButton.NoButton)
    )
    event = QMouseEvent(
        kind, pos, canvas.mapToGlobal(pos), button, buttons, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(canvas, event)


def stroke_points(canvas: MaskCanvas, moves: int, image_size: int) -> list[QPointF]:
    """A wavy stroke across the image (in widget coordinates), a few px per move."""
    points = []
    for i in range(moves + 1):
        t = i / moves
        x = image_size * (0.1 + 0.8 * t)
        y = image_size * (0.5 + 0.3 * math.sin(t * 6 * math.pi))
        widget = canvas.map_from_image(QPointF(x, y))
        visible_x = min(max(widget.x(), 2.0), canvas.width() - 3.0)
        visible_y = min(max(widget.y(), 2.0), canvas.height() - 3.0)
        points.append(QPointF(visible_x, visible_y))
    return points


def run_stroke(
    app: QApplication,
    canvas: MaskCanvas,
    counter: PaintCounter,
    name: str,
    moves: int,
    image_size: int,
    after_move: Callable[[], None],
) -> Result:
    points = stroke_points(canvas, moves, image_size)
    app.processEvents()
    send_mouse(canvas, QEvent.Type.MouseButtonPress, points[0], Qt.MouseButton.LeftButton)
    app.processEvents()
    counter.count = 0
    samples = []
    for point in points[1:]:
        start = time.perf_counter()
        send_mouse(canvas, QEvent.Type.MouseMove, point, Qt.MouseButton.NoButton)
        after_move()
        samples.append((time.perf_counter() - start) * 1000.0)
    paints = counter.count
    send_mouse(canvas, QEvent.Type.MouseButtonRelease, points[-1], Qt.MouseButton.LeftButton)
    app.processEvents()
    return Result(name, samples, paints)


def paint_layer_strokes(
    app: QApplication,
    canvas: PaintCanvas,
    counter: PaintCounter,
    moves: int,
    size: int,
    process: Callable[[], None],
) -> list[Result]:
    """Colour strokes on the paint layer, then a mask stroke with the crop box drawn."""
    results = []
    canvas.set_grow(0)
    canvas.set_feather(0.0)
    canvas.set_tool("paint")
    canvas.set_paint_colour(QColor(200, 40, 40))
    canvas.set_paint_opacity(0.7)
    for hardness in (1.0, 0.3):
        canvas.set_brush_hardness(hardness)
        name = f"zoom 100%, paint layer, hardness {hardness:g}"
        results.append(run_stroke(app, canvas, counter, name, moves, size, process))
    canvas.set_brush_hardness(1.0)
    canvas.set_tool("mask")
    panel = RegionPanel(canvas)
    panel.area.setCurrentIndex(panel.area.findData("masked"))
    name = "zoom 100%, mask + crop-box outline"
    results.append(run_stroke(app, canvas, counter, name, moves, size, process))
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=2048, help="image side in px")
    parser.add_argument("--moves", type=int, default=400, help="mouse moves per stroke")
    parser.add_argument("--brush", type=int, default=48, help="brush diameter in px")
    parser.add_argument("--width", type=int, default=1600, help="widget width")
    parser.add_argument("--height", type=int, default=1000, help="widget height")
    parser.add_argument("--check", action="store_true", help="exit 1 if a p99 is over 16 ms")
    args = parser.parse_args()

    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    canvas = PaintCanvas()  # a MaskCanvas plus the paint layer and crop box
    canvas.resize(args.width, args.height)
    canvas.show()
    counter = PaintCounter()
    canvas.installEventFilter(counter)
    start = time.perf_counter()
    canvas.set_image(make_image(args.size))
    load_ms = (time.perf_counter() - start) * 1000.0
    canvas.set_brush_size(args.brush)
    app.processEvents()

    print(
        f"image {args.size}x{args.size}, widget {args.width}x{args.height}, brush {args.brush} px, "
        f"{args.moves} moves per stroke, Qt platform {QApplication.platformName()}"
    )
    print(f"set_image: {load_ms:.1f} ms")

    def process() -> None:
        app.processEvents()

    def full_repaint() -> None:
        canvas.repaint()

    results: list[Result] = []
    canvas.set_view(1.0, QPointF(-args.size * 0.05, -(args.size - args.height) / 2.0))
    results.append(
        run_stroke(
            app, canvas, counter, "zoom 100%, hard, dirty rect", args.moves, args.size, process
        )
    )
    canvas.set_brush_hardness(0.3)
    results.append(
        run_stroke(
            app, canvas, counter, "zoom 100%, soft 0.3, dirty rect", args.moves, args.size, process
        )
    )
    canvas.set_brush_hardness(1.0)
    canvas.set_zoom(4.0, QPointF(args.width / 2, args.height / 2))
    results.append(
        run_stroke(
            app, canvas, counter, "zoom 400%, hard, dirty rect", args.moves, args.size, process
        )
    )
    canvas.fit_to_view()
    app.processEvents()
    results.append(
        run_stroke(
            app,
            canvas,
            counter,
            f"fit ({canvas.zoom() * 100:.0f}%), smooth, dirty rect",
            args.moves,
            args.size,
            process,
        )
    )
    canvas.set_view(1.0, QPointF(-args.size * 0.05, -(args.size - args.height) / 2.0))
    canvas.set_grow(8)
    canvas.set_feather(6.0)
    canvas.set_show_effective_mask(True)
    results.append(
        run_stroke(
            app,
            canvas,
            counter,
            "zoom 100%, effective preview g8 f6",
            args.moves,
            args.size,
            process,
        )
    )
    canvas.set_show_effective_mask(False)
    results += paint_layer_strokes(app, canvas, counter, args.moves, args.size, process)
    results.append(
        run_stroke(
            app,
            canvas,
            counter,
            "zoom 100%, full repaint() (reference)",
            args.moves,
            args.size,
            full_repaint,
        )
    )
    for result in results:
        print(result.line())

    # Commit and undo costs of one long stroke on the full-size mask.
    canvas.clear_mask()
    points = stroke_points(canvas, args.moves, args.size)
    send_mouse(canvas, QEvent.Type.MouseButtonPress, points[0], Qt.MouseButton.LeftButton)
    for point in points[1:]:
        send_mouse(canvas, QEvent.Type.MouseMove, point, Qt.MouseButton.NoButton)
    start = time.perf_counter()
    send_mouse(canvas, QEvent.Type.MouseButtonRelease, points[-1], Qt.MouseButton.LeftButton)
    release_ms = (time.perf_counter() - start) * 1000.0
    start = time.perf_counter()
    canvas.undo()
    undo_ms = (time.perf_counter() - start) * 1000.0
    start = time.perf_counter()
    effective = canvas.effective_mask()
    effective_ms = (time.perf_counter() - start) * 1000.0
    print(
        f"stroke release (commit undo patch): {release_ms:.1f} ms; undo: {undo_ms:.1f} ms; "
        f"effective_mask() g8 f6 on an empty mask: {effective_ms:.1f} ms ({effective.shape})"
    )
    canvas.redo()
    start = time.perf_counter()
    canvas.effective_mask()
    print(f"effective_mask() g8 f6 after one stroke: {(time.perf_counter() - start) * 1000:.1f} ms")
    print(f"undo history: {canvas.undo_stack().count()} steps, {canvas.undo_memory_bytes()} bytes")

    over = [r for r in results[:-1] if r.p99 > TARGET_P99_MS]
    canvas.close()
    return 1 if args.check and over else 0


if __name__ == "__main__":
    sys.exit(main())
