"""A command ended by SIGTERM or SIGHUP (a service manager, a closed terminal) cleans up as after Ctrl+C:
no temporary file is left beside an output it was writing."""

from __future__ import annotations

import csv
import signal
import subprocess
import sys
import time

import pytest

from tests.capped import ROOT, capped_env
from tests.conftest import reviews


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_a_terminated_evaluate_leaves_no_temporary_file(tmp_path, sig):
    data = tmp_path / "reviews.csv"
    with open(data, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["review", "sentiment"])
        for text, label in reviews(60_000):
            writer.writerow([text * 3, "positive" if label else "negative"])
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    proc = subprocess.Popen([sys.executable, "-m", "app", "evaluate", "--data", str(data), "--misclassified",
                             str(out_dir / "wrong.csv")], cwd=ROOT, env=capped_env(tmp_path),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not any(out_dir.iterdir()):  # the temporary file is open: the command is under way
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr.read() if proc.poll() else "slow"
        time.sleep(0.02)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 128 + sig, (proc.returncode, err[-2000:])
    assert "Traceback" not in err and out == ""
    assert list(out_dir.iterdir()) == []
