"""models.keras_runtime: TensorFlow's start-up notices stay off the terminal, everything else gets through."""

from __future__ import annotations

import os

from models import keras_runtime


def test_start_up_notices_are_dropped_and_other_lines_kept(capfd):
    with keras_runtime.quiet_native_stderr():
        os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n")
        os.write(2, b"I0000 00:00:1796185006.241040 11580 port.cc:153] oneDNN custom operations are on. You may\n")
        os.write(2, b"E0000 00:00:1796185006.3 11580 cuda_executor.cc:1] failed call to cuInit: INTERNAL: CUDA error\n")
        os.write(2, b"E0000 something that is really wrong\n")
        os.write(1, b"stdout is left alone\n")
    captured = capfd.readouterr()
    assert captured.err == "E0000 something that is really wrong\n"
    assert captured.out == "stdout is left alone\n"


def test_the_build_is_named_with_its_device():
    build = keras_runtime.tensorflow_build()
    text = build.describe()
    assert text.startswith(f"TensorFlow {build.version}, ")
    assert ("GPU build (CUDA " if build.gpu_build else "CPU build") in text
    assert text.endswith(f", running on {build.device}")
    assert build.device.startswith(("GPU:0", "the CPU") if build.gpu_build else "the CPU"), build.device
