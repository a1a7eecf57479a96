"""Widgets only: main window, prompt editor, mask canvas, gallery view, dialogs."""
