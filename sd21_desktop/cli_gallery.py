"""Gallery commands of the CLI: ``gallery list``, ``gallery import``, ``rerun``.

(Being written: the gallery store lands with the Gallery issue.)
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any, TextIO


def add_commands(commands: Any, add_runtime_options: Callable[[argparse.ArgumentParser], None]) -> None:
    """Register the gallery sub-commands on the CLI's sub-parser collection."""


def run(args: argparse.Namespace, stdout: TextIO, stderr: TextIO) -> int:
    raise NotImplementedError(args.command)
