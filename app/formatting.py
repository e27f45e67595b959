"""How the app writes durations, for the window and the command line alike (no Qt here)."""

from __future__ import annotations

import math


def format_clock(seconds: float | None) -> str:
    """``m:ss`` under an hour, ``h:mm:ss`` from an hour on; ``--:--`` when unknown."""
    if seconds is None or not math.isfinite(seconds):
        return "--:--"
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"
