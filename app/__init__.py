"""The Qt shell of Sentiment Studio: window, tabs, training worker, plots and the CLI."""

from models import __version__

__all__ = ["__version__"]
