"""The engine: Stable Diffusion 2.x through diffusers and torch, with no Qt.

Import the submodules directly; ``request``, ``models`` and ``schedulers`` import no torch, so the
GUI can build requests before the heavy libraries load.
"""
