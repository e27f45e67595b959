"""A hostile settings.ini: the window starts, each bad setting is ignored, reset and named on stderr."""

from __future__ import annotations

import os
import textwrap

import pytest

from app.main_window import TAB_MODELS, TAB_TRAIN, MainWindow, app_settings
from app.settings_file import MAX_SETTINGS_BYTES, without_special_values
from models.store import ModelStore
from tests.capped import run_python

pytestmark = pytest.mark.gui


def open_window(qtbot, home, ini: str) -> MainWindow:
    (home / "settings.ini").write_text(ini, encoding="utf-8")
    window = MainWindow(ModelStore(home / "models"))
    qtbot.addWidget(window, before_close_func=lambda w: w.train_tab.shutdown())
    return window


@pytest.mark.parametrize("value", ["abc", "1.5", "99999999999999999999", "-1", "4", "1, 2", "true"])
def test_a_bad_tab_is_ignored_and_reset(qtbot, isolated_home, capfd, value):
    window = open_window(qtbot, isolated_home, f"[window]\ntab={value}\n[data]\nsource=/data/reviews.csv\n")
    assert window.tabs.currentIndex() == TAB_TRAIN
    assert window.train_tab.source_spec() == "/data/reviews.csv"  # one bad setting never breaks the others
    lines = capfd.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("settings: ignored window/tab=") and "reset" in lines[0]
    window.settings.sync()
    text = (isolated_home / "settings.ini").read_text()
    assert "tab=" not in text and "reviews.csv" in text


def test_a_good_tab_is_kept(qtbot, isolated_home, capfd):
    window = open_window(qtbot, isolated_home, f"[window]\ntab={TAB_MODELS}\n")
    assert window.tabs.currentIndex() == TAB_MODELS
    assert capfd.readouterr().err == ""


@pytest.mark.parametrize("value", ["hello", "@ByteArray(not a geometry)", "@ByteArray(" + "x" * 5000 + ")"])
def test_a_bad_geometry_is_ignored_and_reset(qtbot, isolated_home, capfd, value):
    window = open_window(qtbot, isolated_home, f"[window]\ngeometry={value}\ntab={TAB_MODELS}\n")
    assert (window.width(), window.height()) == (1280, 820)
    assert window.tabs.currentIndex() == TAB_MODELS
    lines = capfd.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("settings: ignored window/geometry")


@pytest.mark.parametrize("line", [
    r"geometry=@Variant(\0\0\0\t\0\x7f\xff\xff\xff)",  # a QVariantList of 2**31 items where bytes belong
    r"geometry=@Variant(\0\0\0\x7f\0\0\0\x5QFoo\0)",  # a type Qt does not know ("QVariant::load" warning)
    r'geometry="", \x40Variant(\0\0\0\t\0\0\0\0\x1)',  # hidden in a list, spelled with an escape
    r"geometry=\100Rect(1 2 3 4)",  # octal escape for @
])
def test_special_values_are_removed_before_qt_parses_them(qtbot, isolated_home, capfd, line):
    window = open_window(qtbot, isolated_home, f"[window]\n{line}\ntab={TAB_MODELS}\n")
    assert window.tabs.currentIndex() == TAB_MODELS
    err = capfd.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("settings: ignored window/geometry in "), err
    assert "geometry" not in (isolated_home / "settings.ini").read_text()


def test_values_the_app_writes_pass_the_check_unchanged(qtbot, isolated_home, capfd):
    first = open_window(qtbot, isolated_home, "")
    first.settings.setValue("data/source", '@weird, "path"; \\ é.csv')
    first.tabs.setCurrentIndex(TAB_MODELS)
    first.close()
    data = (isolated_home / "settings.ini").read_bytes()
    assert without_special_values(data) == (data, [])
    second = MainWindow(ModelStore(isolated_home / "models"))
    qtbot.addWidget(second)
    assert second.tabs.currentIndex() == TAB_MODELS
    assert second.train_tab.source_spec() == '@weird, "path"; \\ é.csv'
    assert capfd.readouterr().err == ""


def test_continued_lines_are_checked_each_and_joined():
    data = b"[w]\na=x\\\n@Variant(1)\nb=\\\n@Variant(2)\nc=1\n"
    cleaned, removed = without_special_values(data)
    assert removed == ["w/b"] and b"@Variant(2)" not in cleaned and b"c=1" in cleaned


# A pipe hangs QSettings' constructor and a huge file aborts it: these run in a capped child process
# (a hang fails on the timeout instead of stalling the suite).
_OPEN_SETTINGS = textwrap.dedent("""
    import os, sys
    os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtWidgets import QApplication
    app = QApplication([])
    from app.main_window import MainWindow
    from models.store import ModelStore
    window = MainWindow(ModelStore(os.path.join(os.environ["SENTIMENT_STUDIO_HOME"], "models")))
    window.settings.setValue("window/tab", 2)
    window.settings.sync()
    print("started", window.tabs.currentIndex(), window.settings.status().name)
""")


# Never a link to a device here: run as root against a QSettings that writes through the link, a
# regression would replace /dev/zero with a regular file (seen while reproducing this bug).
@pytest.mark.parametrize("kind", ["fifo", "sparse", "folder", "link to a pipe"])
def test_a_settings_file_that_is_not_a_small_regular_file_is_moved_aside(tmp_path, kind):
    home = tmp_path / "home"
    home.mkdir()
    ini = home / "settings.ini"
    if kind == "fifo":
        os.mkfifo(ini)
    elif kind == "sparse":
        with open(ini, "wb") as f:
            f.truncate(2_500 * 1024 * 1024)  # 2.5 GB, no disk used
    elif kind == "folder":
        ini.mkdir()
    else:
        os.mkfifo(tmp_path / "pipe")
        ini.symlink_to(tmp_path / "pipe")
    proc = run_python(home, _OPEN_SETTINGS, cap_mb=1536, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["started", "0", "NoError"]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "moved to settings.ini.rejected" in lines[0], proc.stderr
    assert ini.is_file() and "tab=2" in ini.read_text()  # a fresh file, remembered from now on
    assert os.path.lexists(home / "settings.ini.rejected")


def test_a_file_just_over_the_limit_is_refused_and_one_under_is_read(isolated_home, capfd):
    ini = isolated_home / "settings.ini"
    ini.write_text("[window]\ntab=1\n;" + "x" * (MAX_SETTINGS_BYTES - 20) + "\n")
    assert ini.stat().st_size <= MAX_SETTINGS_BYTES
    assert app_settings().value("window/tab") == "1"
    ini.write_text("[window]\ntab=1\n;" + "x" * MAX_SETTINGS_BYTES + "\n")
    assert app_settings().value("window/tab") is None
    assert "moved to settings.ini.rejected" in capfd.readouterr().err
