"""Command-line entry point."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Optional


def main(argv: Optional[Sequence[str]] = None) -> int:
    return 0
