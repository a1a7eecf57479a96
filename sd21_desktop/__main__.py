"""``python -m sd21_desktop``: the same entry point as the ``sd21-desktop`` command."""

from __future__ import annotations

import sys

from sd21_desktop.cli import main

sys.exit(main())
