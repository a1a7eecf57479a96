"""Tooltips of the gallery, canvas, queue and grid controls, by object name, in one table.

Each says what the control does and, where the command line can do the same, its CLI name, the
way the parameter controls do (a test checks every ``--flag`` named here against the parser).
One table rather than a line beside each widget: those panels change often, and their object
names are the stable part. ``apply_tooltips`` fills only controls left without a tooltip, so a
panel's own (or a changing one, set as its state changes) wins.
"""

from __future__ import annotations

from PySide6.QtWidgets import QTabWidget, QWidget

TOOLTIPS: dict[str, str] = {
    # gallery: filters
    "gallerySearchEdit": "Show images whose prompt has these words; prefixes match "
    "(CLI: sd21-desktop gallery list --search)",
    "galleryModelFilter": "Show only images made with this model",
    "galleryModeFilter": "Show only images of this mode (txt2img, img2img, inpaint, …)",
    "galleryDateFilter": "Show only images made in this period",
    "gallerySizeFilter": "Show only images of this size",
    "galleryFavouritesCheck": "Show only favourites (CLI: sd21-desktop gallery list --favourites)",
    "galleryTrashCheck": "Show the trash: deleted images, which can be restored "
    "(CLI: sd21-desktop gallery list --trash)",
    "galleryView": "The gallery's images: double-click one to load its settings, drag it to the "
    "canvas, right-click for more",
    "galleryImportButton": "Copy image files into the gallery, reading their settings "
    "(ours, AUTOMATIC1111, ComfyUI, InvokeAI, …) (CLI: sd21-desktop gallery import PATH)",
    "galleryImportFolderButton": "Copy a folder's images into the gallery "
    "(CLI: sd21-desktop gallery import FOLDER)",
    "galleryUndoDeleteButton": "Bring back the images deleted last",
    # gallery: the selected image
    "galleryDetailText": "The selected image's settings, as stored in its PNG",
    "galleryRerunButton": "Make this image again with its stored settings and seed "
    "(CLI: sd21-desktop rerun ID)",
    "galleryRerunNewSeedButton": "Make it again with the same settings and a new seed "
    "(CLI: sd21-desktop rerun ID --seed N)",
    "galleryVariationsButton": "Make images near this one: same seed, a little of another "
    "(CLI: --variation-seed, --variation-strength)",
    "galleryLoadButton": "Put this image's prompt and settings into the editor",
    "gallerySendToCanvasButton": "Open this image on the canvas, to inpaint or change it "
    "(CLI: --init-image)",
    "galleryFavouriteButton": "Mark or unmark this image as a favourite",
    "galleryDeleteButton": "Move the selected images to the trash (Undo delete brings them back)",
    "galleryRevealButton": "Show the PNG file in the file manager",
    "galleryRerunModelCombo": "The model an imported image re-runs with, when the one it names "
    "is not here (CLI: --model)",
    # canvas
    "brushHardnessSlider": "Brush hardness: soft edges at the left, hard at the right",
    "eraserCheck": "Paint away the mask instead of adding to it (X)",
    "maskGrowSpin": "Grow the mask by this many pixels, or shrink it below 0 (CLI: --mask-grow)",
    "overlayOpacitySlider": "How strongly the mask shows over the picture (display only)",
    "outpaintPixelsSpin": "How far the side buttons extend the canvas, in pixels",
    "brushToolCombo": "What the brush paints: the mask, or colour into the picture",
    "paintOpacitySlider": "Opacity of the colour the brush paints",
    "hidePaintCheck": "Hide the painted colour (it is not sent while hidden)",
    "paintClearButton": "Remove all painted colour",
    "paintSaveButton": "Save the painted colour as a PNG layer",
    "maskPaddingSpin": "Context around the mask's box when only the masked area is rendered "
    "(CLI: --mask-padding)",
    "maskedContentCombo": "What the masked area starts from: the picture, its fill, noise or "
    "nothing (CLI: --masked-content)",
    "estimateDepthButton": "Estimate a depth map from the picture, as depth mode would",
    "loadDepthButton": "Use a greyscale depth map of your own, white = near (CLI: --depth-map)",
    "clearDepthButton": "Forget the depth map: depth mode estimates one",
    # grid, queue, first run
    "gridRunButton": "Make one image per combination of the axes' values, then the labelled "
    "grid (CLI: sd21-desktop grid --x KEY=V1,V2)",
    "recoveryResumeButton": "Run the jobs the last session left unfinished",
    "recoveryReviewButton": "Look at those jobs in the queue before running them",
    "recoveryDiscardButton": "Forget the jobs the last session left unfinished",
    "saveAgainButton": "Try again to save the images the disk refused",
    "saveAsButton": "Save the images the disk refused into another folder",
    "firstRunDownloadButton": "Download Stable Diffusion 2.1 into the Hugging Face cache "
    "(CLI: sd21-desktop models download ID)",
    "firstRunUseFileButton": "Use a .safetensors / .ckpt file or diffusers folder you have "
    "(CLI: --model PATH)",
}

TAB_TOOLTIPS: dict[str, str] = {
    "Result": "The image being made and the last results",
    "Canvas": "A picture to change: img2img, inpaint, outpaint, depth, upscale",
    "Gallery": "Every image made or imported, with its settings",
    "Grid": "X/Y/Z grids: the same prompt across values of the settings",
}


def apply_tooltips(root: QWidget) -> None:
    """Give the named controls and the tabs under ``root`` their tooltips, where none is set."""
    for widget in root.findChildren(QWidget):
        tip = TOOLTIPS.get(widget.objectName())
        if tip and not widget.toolTip():
            widget.setToolTip(tip)
        if isinstance(widget, QTabWidget):
            for index in range(widget.count()):
                tab_tip = TAB_TOOLTIPS.get(widget.tabText(index).replace("&", ""))
                if tab_tip and not widget.tabToolTip(index):
                    widget.setTabToolTip(index, tab_tip)
