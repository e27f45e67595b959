"""The stall probe sees a blocked GUI thread and stays quiet on an idle one."""

from __future__ import annotations

import time

import pytest

from app.stall_probe import StallProbe

pytestmark = pytest.mark.gui


def test_probe_measures_a_deliberate_freeze(qtbot):
    probe = StallProbe(interval_ms=5)
    probe.start()
    qtbot.wait(100)
    idle = probe.longest_stall()
    time.sleep(0.3)  # the GUI thread is blocked: no tick can run
    qtbot.wait(50)
    probe.stop()
    assert probe.longest_stall() >= 0.29
    assert idle < probe.longest_stall()
    summary = probe.summary()
    assert summary["stalls_over_50ms"] >= 1 and summary["ticks"] >= 5
