"""The PyInstaller bundle: build it with build.spec, then run the frozen app's ``--self-test``.

Building a TensorFlow bundle takes several minutes and about 1.5 GB of disk, so these
tests are skipped unless asked for:

    SENTIMENT_STUDIO_PACKAGING=1 .venv/bin/python -m pytest -m packaging -v

``SENTIMENT_STUDIO_BUNDLE=dist/sentiment-studio`` tests a bundle built before instead of
building one (into a temporary folder, so dist/ is left alone), with the download archive
beside it (build with ``SENTIMENT_STUDIO_ARCHIVE=1``). The same self-test from source (no
bundle, about 15 s) always runs.
"""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXE_NAME = "sentiment-studio.exe" if sys.platform == "win32" else "sentiment-studio"
RUN_COMMAND = "SENTIMENT_STUDIO_PACKAGING=1 .venv/bin/python -m pytest -m packaging -v"

needs_bundle = pytest.mark.skipif(
    os.environ.get("SENTIMENT_STUDIO_PACKAGING") != "1",
    reason=f"builds the PyInstaller bundle (several minutes); run it with: {RUN_COMMAND}",
)

FAILURE_MARKERS = ("Traceback (most recent call last)", "ImportError", "ModuleNotFoundError")
MB = 1024 * 1024  # as `du -m` counts
# Issue 17 set 850 MB on disk and 350 MB compressed for the Linux bundle. The archive meets it
# (184 MB); the bundle measured 863 MB, everything in it loaded by --self-test (README,
# "Packaging"), so the on-disk budget is that measurement plus 2%: it catches a regression
# (the CUDA build gave 1,323 MB), not the goal.
MAX_BUNDLE_MB, MAX_ARCHIVE_MB = 850, 350
BUILD_SECONDS: list[float] = []  # the fixture's build, for the size report
ARCHIVE_SUFFIX = ".zip" if sys.platform == "win32" else ".tar.xz"


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    """The one-folder bundle: built now with build.spec, or the one SENTIMENT_STUDIO_BUNDLE names."""
    given = os.environ.get("SENTIMENT_STUDIO_BUNDLE")
    if given:
        folder = Path(given).resolve()
        assert (folder / EXE_NAME).is_file(), f"no {EXE_NAME} in SENTIMENT_STUDIO_BUNDLE={given}"
        return folder
    assert importlib.util.find_spec("PyInstaller") is not None, \
        "PyInstaller is not installed: .venv/bin/pip install -e '.[build]'"
    work = tmp_path_factory.mktemp("pyinstaller")
    started = time.perf_counter()
    build = subprocess.run(
        [sys.executable, "-m", "PyInstaller", "--noconfirm", "--distpath", str(work / "dist"),
         "--workpath", str(work / "build"), str(ROOT / "build.spec")],
        cwd=ROOT, capture_output=True, text=True, timeout=3600,
        env={**os.environ, "SENTIMENT_STUDIO_ARCHIVE": "1"},
    )
    assert build.returncode == 0, f"PyInstaller failed:\n{build.stdout[-5000:]}\n{build.stderr[-10000:]}"
    BUILD_SECONDS.append(time.perf_counter() - started)
    return work / "dist" / "sentiment-studio"


def disk_usage(folder: Path) -> int:
    """Bytes the folder takes on disk, as `du` counts them (allocated blocks where the OS says)."""
    total = 0
    for path in folder.rglob("*"):
        if path.is_file() and not path.is_symlink():
            st = path.stat()
            total += st.st_blocks * 512 if hasattr(st, "st_blocks") else st.st_size
    return total


@pytest.fixture
def clean_env(tmp_path) -> dict[str, str]:
    """The environment of a first start on a fresh account: a new home, no Keras, TensorFlow or app
    overrides (so the app must quieten TensorFlow itself)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("KERAS_", "TF_", "XDG_", "SENTIMENT_STUDIO_", "PYQTGRAPH_"))}
    home = tmp_path / "home"
    home.mkdir()
    env.update(HOME=str(home), USERPROFILE=str(home), APPDATA=str(home / "AppData" / "Roaming"),
               LOCALAPPDATA=str(home / "AppData" / "Local"), QT_QPA_PLATFORM="offscreen")
    return env


def run_bundle(bundle: Path, args: list[str], env: dict[str, str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(bundle / EXE_NAME), *args], env=env, capture_output=True, text=True,
                          timeout=600, cwd=env["HOME"], **kwargs)


def assert_clean(result: subprocess.CompletedProcess) -> str:
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"exit status {result.returncode}:\n{output}"
    for marker in FAILURE_MARKERS:
        assert marker not in output, f"{marker!r} in the output:\n{output}"
    return output


def test_self_test_passes_from_source(clean_env):
    """The same self-test without a bundle (about 15 s), so CI keeps it working between builds."""
    result = subprocess.run([sys.executable, "-m", "app", "--self-test"], cwd=ROOT, env=clean_env,
                            capture_output=True, text=True, timeout=600)
    assert_clean(result)
    assert "self-test passed" in result.stdout and "from source" in result.stdout, result.stdout
    assert result.stderr == "", f"TensorFlow's start-up logging reached the terminal:\n{result.stderr}"
    assert re.search(r"TensorFlow \d+\.\d+\.\d+, (CPU build|GPU build \(CUDA [^)]*\)), running on ", result.stdout)
    assert not (Path(clean_env["HOME"]) / ".keras").exists(), "Keras wrote ~/.keras"


def test_tensorflow_works_with_the_bundles_stand_in_for_the_profiler_plugin(clean_env):
    """The bundle leaves TensorFlow's remote-profiling plugin out (build.spec) and its runtime hook
    puts a stand-in in its place: with it, TensorFlow imports, trains a step, and only the remote
    profiler (which needs the gRPC the bundle lacks too) says it is not there."""
    code = (
        "import app.bundle_runtime_hook, sys\n"
        "from models.keras_runtime import keras\n"
        "k = keras()\n"
        "import numpy as np, tensorflow as tf\n"
        "assert sys.modules[app.bundle_runtime_hook.PLUGIN].trace is app.bundle_runtime_hook._not_bundled\n"
        "m = k.Sequential([k.Input((3,)), k.layers.Dense(1)]); m.compile(loss='mse', jit_compile=True)\n"
        "m.fit(np.ones((4, 3)), np.ones(4), verbose=0)\n"
        "try:\n"
        "    tf.profiler.experimental.client.trace('grpc://localhost:1', '/tmp/x', 10)\n"
        "except RuntimeError as e:\n"
        "    print(e)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=clean_env, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "remote profiler is not part of the Sentiment Studio bundle" in result.stdout


@pytest.mark.packaging
@needs_bundle
def test_self_test_passes(bundle, clean_env):
    started = time.perf_counter()
    result = run_bundle(bundle, ["--self-test"], clean_env)
    elapsed = time.perf_counter() - started
    output = assert_clean(result)
    print(f"\n--self-test took {elapsed:.1f} s\n{result.stdout}")
    assert result.stderr == "", f"the bundle wrote to stderr:\n{result.stderr}"
    assert "CPU build" in result.stdout, "the bundle is not built from the CPU build of TensorFlow"
    assert "self-test passed" in result.stdout
    assert "FAIL" not in result.stdout
    assert "frozen, bundle" in result.stdout, output  # it really ran the frozen app
    home = Path(clean_env["HOME"])
    assert not (home / ".keras").exists(), "Keras wrote ~/.keras"
    if sys.platform.startswith("linux"):
        # Keras' home (and so the models beside it) is the same user data folder as from source.
        assert (home / ".local" / "share" / "SentimentStudio" / "keras").is_dir()
    assert not any(bundle.rglob("keras.json")), "Keras wrote into the bundle"


@pytest.mark.packaging
@needs_bundle
def test_predict_from_the_command_line(bundle, clean_env):
    result = run_bundle(bundle, ["predict", "A wonderful film, I loved it.", "Awful, boring and stupid."],
                        clean_env)
    assert_clean(result)
    assert result.stderr == "", result.stderr
    first, second = (json.loads(line) for line in result.stdout.splitlines())
    assert (first["label"], second["label"]) == ("positive", "negative")


@pytest.mark.packaging
@needs_bundle
def test_predict_a_long_file_tokenizes_in_a_second_process(bundle, clean_env, tmp_path):
    """Past 2,000 reviews ``predict --file`` tokenizes in a worker process (models.encoding_worker),
    which a frozen app starts as itself with --sentiment-studio-tokenizer: app/__main__.py must turn
    that start into the worker, not a second app (which would print its usage on stderr and never serve)."""
    words = ["wonderful", "awful", "boring", "loved", "film", "plot", "the", "it", "was", "and"]
    reviews = tmp_path / "reviews.txt"
    reviews.write_text("".join(" ".join(words[(i * 7 + j) % 10] for j in range(5 + i % 60)) + "\n"
                               for i in range(8000)), encoding="utf-8")
    out_path, err_path = tmp_path / "out.jsonl", tmp_path / "err.txt"
    with open(out_path, "w") as out_file, open(err_path, "w") as err_file:  # files: a full pipe would stall it
        proc = subprocess.Popen([str(bundle / EXE_NAME), "predict", "--file", str(reviews)], env=clean_env,
                                stdout=out_file, stderr=err_file, cwd=clean_env["HOME"])
    workers = set()
    while proc.poll() is None:
        if sys.platform.startswith("linux"):
            for entry in Path("/proc").iterdir():
                try:
                    if entry.name.isdigit() and b"--sentiment-studio-tokenizer" in (entry / "cmdline").read_bytes():
                        workers.add(entry.name)
                except OSError:
                    pass
        time.sleep(0.02)
    out, err = out_path.read_text(encoding="utf-8"), err_path.read_text(encoding="utf-8")
    assert proc.wait() == 0 and err == "", err
    from_source = subprocess.run([sys.executable, "-m", "app", "predict", "--file", str(reviews)], cwd=ROOT,
                                 env=clean_env, capture_output=True, text=True, timeout=600)
    # The same built-in model, the same scores: fields exactly, probabilities within float32 rounding (two
    # processes are not bit for bit the same under load, and a 6e-7 difference can change the 5th decimal).
    bundled = [json.loads(line) for line in out.splitlines()]
    source = [json.loads(line) for line in from_source.stdout.splitlines()]
    assert len(bundled) == len(source) == 8000
    for got, expected in zip(bundled, source):
        # A label may differ only where the rounding can move the probability across 0.5.
        near_half = abs(expected["probability"] - 0.5) <= 2e-5
        same = {k for k in expected if k != "probability" and not (k == "label" and near_half)}
        assert {k: got[k] for k in same} == {k: expected[k] for k in same}
    assert [r["probability"] for r in bundled] == pytest.approx([r["probability"] for r in source], abs=2e-5)
    if sys.platform.startswith("linux"):
        assert workers, "no tokenizing process was started"


@pytest.mark.packaging
@needs_bundle
@pytest.mark.skipif(sys.platform == "win32", reason="closes file descriptors the POSIX way")
def test_runs_without_stdout_and_stderr(bundle, clean_env):
    """What a windowed build on Windows gets: no stdout/stderr at all (sys.stdout is None).
    The self-test fails if the app did not replace them (app/__main__.py)."""
    result = subprocess.run(
        ["/bin/sh", "-c", '"$0" --self-test >&- 2>&-; echo "exit $?"', str(bundle / EXE_NAME)],
        env=clean_env, cwd=clean_env["HOME"], capture_output=True, text=True, timeout=600,
    )
    assert result.stdout.strip() == "exit 0", result.stdout + result.stderr


@pytest.mark.packaging
@needs_bundle
def test_bundle_is_lean_and_complete(bundle):
    internal = bundle / "_internal"
    names = {p.relative_to(internal).as_posix() for p in internal.rglob("*")}
    assert "resources/default_model/model.keras" in names
    assert "resources/ngram_model/model.keras" in names
    assert "resources/icon.png" in names
    platforms = {Path(n).name for n in names if n.startswith("PySide6/Qt/plugins/platforms/")}
    if sys.platform.startswith("linux"):
        assert {"libqxcb.so", "libqwayland.so", "libqoffscreen.so"} <= platforms, platforms
        assert not {"libqeglfs.so", "libqlinuxfb.so", "libqvnc.so"} & platforms, platforms
        assert "PySide6/Qt/plugins/platformthemes/libqgtk3.so" not in names
    assert any(n.startswith("tensorflow/") for n in names)
    assert any(n.startswith("pyqtgraph/") for n in names)
    unwanted = ("tensorboard/", "PyQt5/", "PyQt6/", "grpc/", "PySide6/Qt/translations/", "_pytest/", "tests/",
                "apache_beam/", "pyarrow/")
    assert [n for n in names if n.startswith(unwanted) or "WebEngine" in n] == []
    if sys.platform.startswith("linux"):
        # The xcb plugin's libraries that bare Debian/Ubuntu lack travel with the bundle.
        assert {"libxcb-cursor.so.0", "libxcb-icccm.so.4", "libxcb-keysyms.so.1"} <= names, \
            "build on a machine with libxcb-cursor0, libxcb-icccm4 and libxcb-keysyms1 installed"


@pytest.mark.packaging
@needs_bundle
def test_size_and_compressed_size(bundle, capsys):
    """Prints what a user downloads and unpacks (also without -s); fails past the budgets on Linux
    x86_64, where they were measured."""
    on_disk = disk_usage(bundle) / MB
    archives = sorted(bundle.parent.glob(f"sentiment-studio-*{ARCHIVE_SUFFIX}"))
    assert archives, f"no sentiment-studio-*{ARCHIVE_SUFFIX} beside {bundle}: build with SENTIMENT_STUDIO_ARCHIVE=1"
    archive = archives[-1]
    compressed = archive.stat().st_size / MB
    biggest = sorted(((p.stat().st_size, p) for p in bundle.rglob("*") if p.is_file() and not p.is_symlink()),
                     reverse=True)[:5]
    with capsys.disabled():
        built = f", bundle and archive built in {BUILD_SECONDS[0]:.0f} s" if BUILD_SECONDS else ""
        print(f"\nbundle {bundle}: {on_disk:,.0f} MB on disk; {archive.name}: {compressed:,.0f} MB{built}")
        for size, path in biggest:
            print(f"  {size / MB:7.1f} MB  {path.relative_to(bundle)}")
    if sys.platform.startswith("linux") and platform.machine() == "x86_64":
        assert on_disk <= MAX_BUNDLE_MB, f"{on_disk:.0f} MB on disk, over the {MAX_BUNDLE_MB} MB budget"
        assert compressed <= MAX_ARCHIVE_MB, f"{compressed:.0f} MB compressed, over the {MAX_ARCHIVE_MB} MB budget"


@pytest.mark.packaging
@needs_bundle
@pytest.mark.skipif(not sys.platform.startswith("linux") or shutil.which("xvfb-run") is None,
                    reason="a real X11 window needs Linux and xvfb-run (apt-get install xvfb)")
def test_self_test_on_x11(bundle, clean_env):
    """The window on a real X server through Qt's xcb plugin, with the xcb libraries the bundle carries."""
    env = {**clean_env, "QT_QPA_PLATFORM": "xcb"}
    result = subprocess.run(["xvfb-run", "-a", str(bundle / EXE_NAME), "--self-test"], env=env, cwd=env["HOME"],
                            capture_output=True, text=True, timeout=600)
    assert_clean(result)
    assert "platform xcb" in result.stdout, result.stdout
