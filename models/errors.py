"""Exceptions a user can cause, each carrying a message written for that user.

The GUI shows ``str(error)`` in a dialog or the status bar; the CLI prints it on one
line and exits with status 2. Anything that is *not* a ``UserFacingError`` is a bug.
"""


class UserFacingError(Exception):
    """Base class: the message is shown to the user as it is."""


class DataSourceError(UserFacingError):
    """A data set path, archive or CSV that cannot be used."""


class NetworkError(DataSourceError):
    """A download that failed; the message names the offline alternative."""


class ConfigError(UserFacingError):
    """A hyperparameter outside its allowed range."""


class EmptyReviewError(UserFacingError):
    """A review with nothing in it to score."""


class NoWordsError(EmptyReviewError):
    """Review ``number`` (1-based, of those given) has no word at all, only punctuation or symbols."""

    def __init__(self, message: str, number: int, text: str) -> None:
        super().__init__(message)
        self.number, self.text = number, text


class ModelStoreError(UserFacingError):
    """A model that cannot be found, loaded, saved, renamed or deleted."""


class StoreWriteError(ModelStoreError):
    """The store could not write a model (read-only, full disk, no permission); ``reason`` says why
    in a few words, so a caller holding the model can say where it kept it instead."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason
