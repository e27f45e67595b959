"""The window's settings file, checked before QSettings reads it, and each setting read with a type check.

``settings.ini`` can be written by anyone with access to the user's folder, and QSettings trusts
it: it opens a pipe and waits for a writer (the window never starts), reads a 2.5 GB file whole
(``bad_alloc``, abort), and turns a ``@Variant(...)`` value into whatever Qt type its bytes name
(a list where a byte array was expected: a TypeError in the window's constructor, exit 134).
So, before QSettings is created on the file:

- anything but a regular file of at most :data:`MAX_SETTINGS_BYTES` is moved aside to
  ``settings.ini.rejected`` and the window starts with default settings;
- a line whose value Qt would read as a special type other than ``@ByteArray`` (``@Variant``,
  ``@Rect``, ... also spelled with escapes or inside a list) is removed from the file.

Then :func:`read_setting` reads each value with its own check; a bad one is removed. Every
setting ignored says so in one line on stderr: the window still starts, with that setting reset.
"""

from __future__ import annotations

import atexit
import errno
import os
import re
import shutil
import stat
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from models.atomic_write import write_bytes_atomic
from models.bounded_io import TooLarge, os_error_reason, read_at_most

MAX_SETTINGS_BYTES = 64 * 1024  # the app writes ~300 bytes: a geometry, a tab number and a path
MAX_SETTING_TEXT = 4096  # one text setting (a data source path)
REJECTED_SUFFIX = ".rejected"
# Qt's special values (qsettings.cpp, stringToVariant); only @ByteArray is ever written by the app.
_ALLOWED_SPECIAL = "@ByteArray("


def report(message: str) -> None:
    """One line on stderr: a setting ignored is not an error the user must act on."""
    print(f"settings: {message}", file=sys.stderr, flush=True)


def _shown(path: Path) -> str:
    text = str(path)
    return text if len(text) <= 120 else text[:100] + "..."


def prepare_settings_file(path: Path) -> Path | None:
    """Make ``path`` safe for QSettings: the path to use, or None when no file can be used at all.

    A missing file is fine (QSettings creates it). A file that is not regular or is too large is
    renamed to ``<name>.rejected``; lines with special values Qt must not parse are removed.
    """
    path = Path(path)
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return path
    except OSError as exc:
        return _set_aside(path, os_error_reason(exc))
    if not stat.S_ISREG(st.st_mode):
        kind = "a folder" if stat.S_ISDIR(st.st_mode) else "not a regular file (a pipe, device or socket)"
        return _set_aside(path, kind)
    if st.st_size > MAX_SETTINGS_BYTES:
        return _set_aside(path, f"{st.st_size:,} bytes, more than the limit of {MAX_SETTINGS_BYTES:,}")
    try:
        # O_NONBLOCK: a pipe swapped in after the stat above must not block the start either.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                return _set_aside(path, "not a regular file")
            data = read_at_most(f, MAX_SETTINGS_BYTES, path.name)
    except TooLarge:
        return _set_aside(path, f"more than the limit of {MAX_SETTINGS_BYTES:,} bytes")
    except OSError as exc:
        return _set_aside(path, os_error_reason(exc))
    cleaned, removed = without_special_values(data)
    if removed:
        for key in removed:
            report(f"ignored {key} in {_shown(path)} (a value of a type the app never writes); reset")
        try:
            write_bytes_atomic(path, cleaned)
        except OSError as exc:
            return _set_aside(path, f"it cannot be rewritten without them ({os_error_reason(exc)})")
    return path


def _set_aside(path: Path, reason: str) -> Path | None:
    aside = path.with_name(path.name + REJECTED_SUFFIX)
    try:
        if os.path.isdir(aside) and not os.path.islink(aside):
            raise OSError(errno.EISDIR, "a folder is in the way")
        os.replace(path, aside)
    except OSError as exc:
        report(f"{_shown(path)} is {reason} and cannot be moved aside ({os_error_reason(exc)}); "
               "starting with default settings, which will not be remembered")
        return None
    report(f"{_shown(path)} is {reason}; moved to {aside.name}, starting with default settings")
    return path


def session_settings_file() -> Path:
    """A settings file for this session only (in a temporary folder removed at exit): never a device
    such as /dev/null, which QSettings, run as root, would replace with a regular file when saving."""
    folder = Path(tempfile.mkdtemp(prefix="sentiment-studio-settings-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder / "settings.ini"


# -- Qt's INI values ---------------------------------------------------------------------------

_CONTINUED_LINE = re.compile(rb"\\\r?\n")
_SIMPLE_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


def without_special_values(data: bytes) -> tuple[bytes, list[str]]:
    """``data`` without the ``key=value`` lines whose value (or an item of a list value) Qt would
    parse as a special type other than ``@ByteArray``; the keys removed, in order.

    Deliberately wider than Qt's own parser: quotes, escapes (``\\x40`` is ``@``) and list
    separators are decoded so a hidden ``@Variant`` is found; an ordinary value is never changed.
    """
    # Qt joins a line ending in a backslash with the next one. Each group of joined lines is checked
    # both joined and line by line (an escaped backslash at a line's end does not join it), and
    # kept or removed whole.
    physical = re.split(rb"(?<=\n)|(?<=\r)(?!\n)", data)
    kept: list[bytes] = []
    removed: list[str] = []
    section = ""
    i = 0
    while i < len(physical):
        j = i + 1
        while j < len(physical) and physical[j - 1].rstrip(b"\r\n").endswith(b"\\"):
            j += 1
        group = physical[i:j]
        candidates = [line.rstrip(b"\r\n") for line in group]
        if len(group) > 1:
            candidates.append(_CONTINUED_LINE.sub(b"", b"".join(group)).rstrip(b"\r\n"))
        special_key = None
        for candidate in candidates:
            text = candidate.decode("utf-8", "replace")
            stripped = text.strip()
            if candidate is candidates[0] and stripped.startswith("[") and "]" in stripped:
                section = stripped[1:stripped.index("]")]
            elif "=" in text and not stripped.startswith(";"):
                key, value = text.split("=", 1)
                if special_key is None and any(_is_special(item) for item in _decoded_items(value)):
                    special_key = key.strip()
        if special_key is not None:
            removed.append(special_key if section in ("", "General") else f"{section}/{special_key}")
        else:
            kept.extend(group)
        i = j
    return b"".join(kept), removed


def _is_special(item: str) -> bool:
    item = item.lstrip()
    return item.startswith("@") and not item.startswith("@@") and not item.startswith(_ALLOWED_SPECIAL)


def _decoded_items(raw: str) -> list[str]:
    """The items Qt could see in ``raw``: quotes dropped, escapes decoded (hex and octal as Qt reads
    them: every digit that follows, kept to 16 bits), split at each unquoted ``,`` or ``;``."""
    items: list[str] = []
    current: list[str] = []
    quoted = False
    i = 0
    while i < len(raw):
        ch = raw[i]
        i += 1
        if ch == '"':
            quoted = not quoted
        elif ch in ",;" and not quoted:
            items.append("".join(current))
            current = []
        elif ch == "\\" and i < len(raw):
            ch = raw[i]
            i += 1
            if ch in "xX":
                digits = re.match(r"[0-9a-fA-F]*", raw[i:]).group()
                i += len(digits)
                current.append(chr(int(digits or "0", 16) & 0xFFFF))
            elif ch in "01234567":
                digits = ch + re.match(r"[0-7]*", raw[i:]).group()
                i += len(digits) - 1
                current.append(chr(int(digits, 8) & 0xFFFF))
            else:
                current.append(_SIMPLE_ESCAPES.get(ch, ch))
        else:
            current.append(ch)
    items.append("".join(current))
    return items


# -- reading one setting ----------------------------------------------------------------------

def read_setting(settings: Any, key: str, check: Callable[[Any], Any], expected: str) -> Any:
    """``check(value)`` for the stored value, or None when there is none or it is bad.

    ``check`` returns the value to use or raises ValueError/TypeError/OverflowError; a bad
    value is removed from the settings and named in one line on stderr (what was expected).
    """
    value = settings.value(key)
    if value is None:
        return None
    try:
        return check(value)
    except (ValueError, TypeError, OverflowError):
        shown = repr(value)
        report(f"ignored {key}={shown[:60] + '...' if len(shown) > 60 else shown} (expected {expected}); reset")
        settings.remove(key)
        return None


def int_in_range(low: int, high: int) -> Callable[[Any], int]:
    """A check for an integer ``low``..``high``: an int, or the digits INI files hold (never a float)."""

    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, (int, str)):
            raise TypeError(type(value).__name__)
        if isinstance(value, str) and not re.fullmatch(r"\s*-?\d{1,6}\s*", value):
            raise ValueError(value)
        number = int(value)
        if not low <= number <= high:
            raise ValueError(number)
        return number

    return check


def byte_array(limit: int) -> Callable[[Any], bytes]:
    def check(value: Any) -> bytes:
        if hasattr(value, "data") and callable(value.data) and type(value).__name__ == "QByteArray":
            value = bytes(value.data())
        if not isinstance(value, (bytes, bytearray)) or len(value) > limit:
            raise TypeError(type(value).__name__)
        return bytes(value)

    return check


def text(limit: int = MAX_SETTING_TEXT) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if not isinstance(value, str) or not value or len(value) > limit or "\0" in value:
            raise ValueError(value)
        return value

    return check
