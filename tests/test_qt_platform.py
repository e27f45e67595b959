"""First launch on a bare Linux: a missing xcb library gives one readable line and exit 2, not Qt's abort."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from app import qt_platform
from tests.test_packaging import ROOT


@pytest.mark.parametrize(("environ", "platform", "expected"), [
    ({}, "linux", True),
    ({"XDG_SESSION_TYPE": "x11"}, "linux", True),
    ({"QT_QPA_PLATFORM": "xcb"}, "linux", True),
    ({"QT_QPA_PLATFORM": "xcb:nomitshm"}, "linux", True),
    ({"QT_QPA_PLATFORM": "offscreen"}, "linux", False),
    ({"QT_QPA_PLATFORM": "wayland;xcb"}, "linux", False),
    ({"XDG_SESSION_TYPE": "wayland"}, "linux", False),
    ({"QT_QPA_PLATFORM": "xcb", "XDG_SESSION_TYPE": "wayland"}, "linux", True),
    ({}, "win32", False),
    ({}, "darwin", False),
])
def test_only_an_xcb_start_is_checked(environ, platform, expected):
    assert qt_platform.uses_xcb(environ, platform) is expected


linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Qt uses xcb on Linux only")


@linux_only
def test_the_loader_finds_what_is_there_and_not_what_is_not():
    assert qt_platform.can_load("libc.so.6")
    assert not qt_platform.can_load("libsentiment-studio-no-such-library.so.0")


def test_a_missing_library_names_the_packages_of_both_families():
    missing = {"libxcb-cursor.so.0", "libxcb-icccm.so.4", "libxcb-keysyms.so.1"}
    line = qt_platform.check_platform_libraries({"QT_QPA_PLATFORM": "xcb"}, "linux", lambda name: name not in missing)
    assert line is not None and "\n" not in line
    assert "libxcb-cursor.so.0, libxcb-icccm.so.4, libxcb-keysyms.so.1" in line
    assert "sudo apt install libxcb-cursor0 libxcb-icccm4 libxcb-keysyms1" in line
    assert "sudo dnf install xcb-util-cursor xcb-util-keysyms xcb-util-wm" in line


def test_nothing_is_checked_offscreen_or_when_all_is_there():
    assert qt_platform.check_platform_libraries({"QT_QPA_PLATFORM": "offscreen"}, "linux", lambda name: False) is None
    assert qt_platform.check_platform_libraries({"QT_QPA_PLATFORM": "xcb"}, "linux", lambda name: True) is None


@linux_only
def test_the_app_exits_2_with_one_line_before_qt_starts(tmp_path):
    """`python -m app` on a machine without libxcb-cursor0: the real start-up path, with the loader told
    that one library is absent (this machine may well have it)."""
    script = textwrap.dedent("""
        import sys
        from app import qt_platform
        real = qt_platform.can_load
        qt_platform.can_load = lambda name: name != "libxcb-cursor.so.0" and real(name)
        from app.cli import main
        status = main([])
        assert "PySide6.QtGui" not in sys.modules, "Qt was started"
        sys.exit(status)
    """)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "QT_QPA_PLATFORM": "xcb", "DISPLAY": ":99"}
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: the desktop app cannot start") and "libxcb-cursor.so.0" in lines[0]
    assert "libxcb-cursor0" in lines[0] and "xcb-util-cursor" in lines[0]
    assert proc.stdout == ""
