"""Before Qt starts on Linux: are the system libraries of Qt's xcb (X11) platform plugin there?

Without them Qt aborts with a core dump and "Could not load the Qt platform plugin xcb" (the
missing library named only with ``QT_DEBUG_PLUGINS=1``). A bare Debian or Ubuntu lacks
libxcb-cursor0, libxcb-icccm4 and libxcb-keysyms1. This module names what is missing and the
packages to install, in one line, and never imports Qt.
"""

from __future__ import annotations

import ctypes
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

# The shared libraries Qt 6.11's libqxcb.so and libQt6XcbQpa.so.6 need beyond those QtGui itself
# needs (read with `readelf -d`), with the package that holds each on Debian/Ubuntu and Fedora.
XCB_LIBRARIES: dict[str, tuple[str, str]] = {
    "libxcb.so.1": ("libxcb1", "libxcb"),
    "libX11-xcb.so.1": ("libx11-xcb1", "libX11-xcb"),
    "libxkbcommon-x11.so.0": ("libxkbcommon-x11-0", "libxkbcommon-x11"),
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor"),
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image"),
    "libxcb-render-util.so.0": ("libxcb-render-util0", "xcb-util-renderutil"),
    "libxcb-util.so.1": ("libxcb-util1", "xcb-util"),
    "libxcb-randr.so.0": ("libxcb-randr0", "libxcb"),
    "libxcb-render.so.0": ("libxcb-render0", "libxcb"),
    "libxcb-shape.so.0": ("libxcb-shape0", "libxcb"),
    "libxcb-shm.so.0": ("libxcb-shm0", "libxcb"),
    "libxcb-sync.so.1": ("libxcb-sync1", "libxcb"),
    "libxcb-xfixes.so.0": ("libxcb-xfixes0", "libxcb"),
    "libxcb-xkb.so.1": ("libxcb-xkb1", "libxcb"),
}


def uses_xcb(environ: Mapping[str, str] = os.environ, platform: str = sys.platform) -> bool:
    """Whether Qt will start its xcb plugin: on Linux, unless ``QT_QPA_PLATFORM`` names another
    platform first (offscreen, wayland, ...) or this is a Wayland session (Qt then tries Wayland
    first; the app passes Qt no ``-platform`` argument)."""
    if not platform.startswith("linux"):
        return False
    requested = environ.get("QT_QPA_PLATFORM", "").strip()
    if requested:
        return requested.split(";")[0].split(":")[0].strip() == "xcb"
    return environ.get("XDG_SESSION_TYPE", "").lower() != "wayland"


def can_load(soname: str) -> bool:
    """Whether the dynamic loader finds and loads ``soname``: the bundle's own copy first (a
    PyInstaller build carries most of them), else the system's."""
    bundled = getattr(sys, "_MEIPASS", None)
    candidates = [str(Path(bundled) / soname)] if bundled and (Path(bundled) / soname).is_file() else []
    for name in [*candidates, soname]:
        try:
            ctypes.CDLL(name)
        except OSError:
            continue
        return True
    return False


def missing_xcb_libraries(load: Callable[[str], bool] | None = None) -> list[str]:
    """The xcb plugin's libraries that ``load`` (default :func:`can_load`) cannot load."""
    load = load or can_load
    return [soname for soname in XCB_LIBRARIES if not load(soname)]


def missing_libraries_message(missing: list[str]) -> str:
    """One line: what is missing and the commands that install it."""
    debian = sorted({XCB_LIBRARIES[name][0] for name in missing})
    fedora = sorted({XCB_LIBRARIES[name][1] for name in missing})
    return (f"error: the desktop app cannot start: Qt's X11 (xcb) platform needs {', '.join(missing)}, "
            f"which {'is' if len(missing) == 1 else 'are'} not installed. Install "
            f"{'it' if len(missing) == 1 else 'them'} with `sudo apt install {' '.join(debian)}` "
            f"(Debian/Ubuntu) or `sudo dnf install {' '.join(fedora)}` (Fedora), then start it again "
            f"(or use another platform: QT_QPA_PLATFORM=wayland in a Wayland session).")


def check_platform_libraries(environ: Mapping[str, str] = os.environ, platform: str = sys.platform,
                             load: Callable[[str], bool] | None = None) -> str | None:
    """The readable line to print instead of starting Qt, or None when Qt can start."""
    if not uses_xcb(environ, platform):
        return None
    missing = missing_xcb_libraries(load)
    return missing_libraries_message(missing) if missing else None
