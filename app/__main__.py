"""``python -m app``: parse the command line and hand over to the CLI or the GUI.

Also the entry point of the PyInstaller bundle (build.spec).
"""

import sys

from app.gui import ensure_std_streams

if __name__ == "__main__":
    if getattr(sys, "frozen", False):  # the bundle: a tokenizing process (models.encoding_worker) starts here
        import multiprocessing

        multiprocessing.freeze_support()
    ensure_std_streams()  # a windowed build on Windows starts with no stdout/stderr
    from app.cli import main

    sys.exit(main())
