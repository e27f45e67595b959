"""``python -m app``: parse the command line and hand over to the CLI or the GUI.

Also the entry point of the PyInstaller bundle (build.spec).
"""

import sys

from app.gui import ensure_std_streams

if __name__ == "__main__":
    if getattr(sys, "frozen", False) and sys.argv[1:] == ["--sentiment-studio-tokenizer"]:
        # The bundle: a tokenizing process (models.encoding_worker.worker_command) starts here.
        from models.encoding_worker import worker_main

        sys.exit(worker_main())
    ensure_std_streams()  # a windowed build on Windows starts with no stdout/stderr
    from app.cli import main

    sys.exit(main())
