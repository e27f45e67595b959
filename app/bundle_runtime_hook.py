"""PyInstaller runtime hook (build.spec's ``runtime_hooks``): runs in the bundle before the app.

TensorFlow's remote-profiling plugin (``_pywrap_profiler_plugin``, 20 MB) is left out of the
bundle. ``import tensorflow`` imports the module that wraps it, which calls it only to profile a
TensorFlow server over gRPC (``tf.profiler.experimental.client.trace`` and ``monitor``), and gRPC is
not bundled either. In its place, a module whose two functions say so.
"""

import sys
import types

PLUGIN = "tensorflow.python.profiler.internal._pywrap_profiler_plugin"


def _not_bundled(*args, **kwargs):
    raise RuntimeError("TensorFlow's remote profiler is not part of the Sentiment Studio bundle.")


if PLUGIN not in sys.modules:
    stub = types.ModuleType(PLUGIN, __doc__)
    stub.trace = stub.monitor = _not_bundled
    sys.modules[PLUGIN] = stub
