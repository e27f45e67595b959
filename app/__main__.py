"""``python -m app``: parse the command line and hand over to the CLI or the GUI."""

import sys

from app.cli import main

if __name__ == "__main__":
    sys.exit(main())
