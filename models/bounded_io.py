"""Reading files that come from elsewhere: paths checked first, and every read bounded while it runs.

A model, an archive or a data set from a colleague or the web is untrusted: a name can be
too long, a path can be a folder, a device or a link; a zip or tar member can declare one
size and expand to gigabytes. Everything here counts the bytes it actually reads (never
trusting a declared size) and stops one byte past the limit with a :class:`TooLarge` that
says what and how much; callers turn it into their own ``UserFacingError`` naming the file.
"""

from __future__ import annotations

import errno
import json
import os
import re
import stat
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import IO

MB = 1024 * 1024

# Limits, each far above what the app itself writes (the largest preset's model is ~10 MB,
# its vocabulary ~0.2 MB, the whole IMDB set ~130 MB of text):
MAX_JSON_BYTES = 64 * MB  # a vocabulary, word index or Keras config.json
MAX_METADATA_BYTES = 4 * MB  # a model's metadata.json (1,000 epochs of history is ~100 KB)
MAX_MODEL_BYTES = 512 * MB  # one model file uncompressed: model.keras, an .h5, or the weights inside
MAX_MODEL_ARCHIVE_BYTES = 1024 * MB  # all members of one .keras or .ssmodel together
MAX_ARCHIVE_MEMBERS = 1000  # members of one .keras or .ssmodel (Keras writes 3)
MAX_REVIEW_BYTES = 16 * MB  # one review: an aclImdb file, or one CSV field
MAX_DATASET_TEXT_BYTES = 512 * MB  # all review text read from one aclImdb archive or folder
MAX_TAR_STREAM_BYTES = 8 * 1024 * MB  # everything an aclImdb archive expands to, read or skipped
MAX_JSON_DEPTH = 64  # arrays and objects inside each other (a Keras config nests 7, metadata 3)

_CHUNK = MB


class TooLarge(ValueError):
    """A read that went past its limit; the message says what and the limit."""

    def __init__(self, what: str, limit: int):
        super().__init__(f"{what} is larger than the limit of {_size(limit)}")
        self.what, self.limit = what, limit


class UnreadableJson(ValueError):
    """JSON the app refuses although it parses: nested too deeply, or with text no file can hold.

    The message reads "it ..." (after a file's name); ``detail`` is the same without "it ".
    """

    def __init__(self, detail: str):
        super().__init__(f"it {detail}")
        self.detail = detail


class InputPathError(ValueError):
    """A path that cannot be read as the file asked for; the message is written for the user."""


def _size(n: int) -> str:
    return f"{n / MB:,.0f} MB" if n >= MB else f"{n:,} bytes"


def read_at_most(f: IO[bytes], limit: int, what: str) -> bytes:
    """Everything ``f`` holds, or TooLarge once more than ``limit`` bytes have come out of it."""
    parts: list[bytes] = []
    total = 0
    while chunk := f.read(min(_CHUNK, limit + 1 - total)):
        parts.append(chunk)
        total += len(chunk)
        if total > limit:
            raise TooLarge(what, limit)
    return b"".join(parts)


def copy_at_most(src: IO[bytes], dest: IO[bytes], limit: int, what: str) -> int:
    """Copy ``src`` to ``dest`` in chunks; TooLarge (with part of it written) past ``limit`` bytes."""
    total = 0
    while chunk := src.read(_CHUNK):
        total += len(chunk)
        if total > limit:
            raise TooLarge(what, limit)
        dest.write(chunk)
    return total


def checked_zip_members(zf: zipfile.ZipFile, what: str, *, member_limit: int = MAX_MODEL_BYTES,
                        total_limit: int = MAX_MODEL_ARCHIVE_BYTES) -> list[zipfile.ZipInfo]:
    """The members of a zip, refused (TooLarge) when one or all together declare more than the limits.

    Python's zipfile never returns more than a member's declared size (it stops there and checks
    the CRC), so bounding the declared sizes bounds what any reader of this zip can get.
    """
    infos = zf.infolist()
    if len(infos) > MAX_ARCHIVE_MEMBERS:
        raise TooLarge(f"{what} ({len(infos):,} members)", MAX_ARCHIVE_MEMBERS)
    total = 0
    for info in infos:
        if info.file_size > member_limit:
            raise TooLarge(f"{what}: {info.filename} ({_size(info.file_size)} uncompressed)", member_limit)
        total += info.file_size
    if total > total_limit:
        raise TooLarge(f"{what} ({_size(total)} uncompressed)", total_limit)
    return infos


def read_zip_member(zf: zipfile.ZipFile, name: str, limit: int, what: str) -> bytes:
    with zf.open(name) as f:
        return read_at_most(f, limit, f"{what}: {name}")


# -- JSON ---------------------------------------------------------------------------------

# An escaped UTF-16 surrogate (\ud800-\udfff). A pair stands for one character and decodes to
# it; one alone decodes to a lone surrogate, which no UTF-8 file can hold.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")
_TOO_DEEP = f"nests arrays or objects more than {MAX_JSON_DEPTH} deep"


def parse_json(raw: bytes | str) -> object:
    """The one reader of JSON from outside (a model, a word index, an archive): ``json.loads`` with
    the bounds it lacks. Every JSON read from a file goes through here.

    Raises ValueError, as ``json.loads`` does, so a caller's ``except ValueError`` names the file:
    UnicodeDecodeError for bytes that are not strict UTF-8 (or UTF-16/32, as ``json.loads``
    detects), JSONDecodeError for what is not JSON, and :class:`UnreadableJson` for JSON
    nested more than MAX_JSON_DEPTH deep (the parser would raise RecursionError past ~1,000,
    and code walking a parsed tree recursively fails far earlier) or holding a lone
    surrogate (``"\\ud800"``: valid JSON, but writing it to any file, as a rename, an import
    or an export does, raised UnicodeEncodeError).

    The checks cost nothing for the large files the app reads (a vocabulary or word index
    holds one or two brackets and no surrogate escape): the parsed tree is walked only when
    the text has more brackets than the depth limit, or a surrogate escape.
    """
    text = raw.decode(json.detect_encoding(raw)) if isinstance(raw, (bytes, bytearray)) else raw
    try:
        data = json.loads(text)
    except RecursionError:  # C's parser stops at the interpreter's recursion limit
        raise UnreadableJson(_TOO_DEEP) from None
    deep = text.count("[") + text.count("{") > MAX_JSON_DEPTH
    surrogates = _SURROGATE_ESCAPE.search(text) is not None
    if deep or surrogates:
        _check_tree(data, surrogates=surrogates)
    return data


def _check_tree(data: object, *, surrogates: bool) -> None:
    """Walk a parsed tree without recursion: UnreadableJson past MAX_JSON_DEPTH, or (with
    ``surrogates``) for a key or text holding a lone surrogate."""
    def check_text(value: object) -> None:
        if isinstance(value, str) and (lone := _LONE_SURROGATE.search(value)):
            raise UnreadableJson(f"holds the escape \\u{ord(lone.group()):04x}: half of a UTF-16 pair, "
                                 "a character no text file can hold")

    stack: list[tuple[object, int]] = [(data, 1)]
    while stack:
        node, level = stack.pop()
        if not isinstance(node, (dict, list)):
            check_text(node)  # only texts are pushed, and only when looking for surrogates
            continue
        if level > MAX_JSON_DEPTH:
            raise UnreadableJson(_TOO_DEEP)
        if isinstance(node, dict):
            if surrogates:
                for key in node:
                    check_text(key)
            values = node.values()
        else:
            values = node
        stack.extend((value, level + 1) for value in values
                     if isinstance(value, (dict, list)) or (surrogates and isinstance(value, str)))


# -- paths --------------------------------------------------------------------------------

_REASONS = {
    errno.ENAMETOOLONG: "the path is too long (a name in it has more than 255 characters)",
    errno.ENOENT: "it does not exist",
    errno.ENOTDIR: "a part of the path is a file, not a folder",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.ELOOP: "it is a link that loops",
    errno.EISDIR: "it is a folder",
}


def os_error_reason(exc: OSError) -> str:
    """A few readable words for an OSError (``strerror`` for the ones without a better phrase)."""
    return _REASONS.get(exc.errno or 0) or exc.strerror or str(exc)


def checked_input_file(path: Path | str, what: str = "file") -> Path:
    """``path`` as a regular file that can be read, or InputPathError saying why not.

    Refused: a path too long for the file system, one that does not exist, a folder, and
    anything that is not a regular file (a device such as /dev/zero, a pipe, a socket).
    """
    path = Path(path).expanduser()
    shown = str(path) if len(str(path)) <= 120 else str(path)[:100] + "..."
    try:
        st = os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ENOENT:
            raise InputPathError(f"{shown} does not exist.") from None
        raise InputPathError(f"Cannot open {shown}: {os_error_reason(exc)}.") from None
    except ValueError:  # a NUL character in the path
        raise InputPathError(f"{shown!r} is not a valid path.") from None
    if stat.S_ISDIR(st.st_mode):
        raise InputPathError(f"{shown} is a folder; expected a {what}.")
    if not stat.S_ISREG(st.st_mode):
        raise InputPathError(f"{shown} is not a regular file (a device, pipe or socket); expected a {what}.")
    if not os.access(path, os.R_OK):
        raise InputPathError(f"Cannot open {shown}: permission denied.")
    return path


LINK_NOT_FOLLOWED = "the app's own files are never read through a link"


def read_own_file(path: Path, limit: int) -> bytes:
    """A file inside the model store, read without following a link at its last component.

    Raises OSError (the open's own error), InputPathError for a link or anything but a regular
    file, TooLarge past ``limit``.
    """
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_BINARY", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP and os.path.islink(path):  # O_NOFOLLOW's answer, not a loop
            raise InputPathError(f"it is a link ({LINK_NOT_FOLLOWED})") from None
        raise
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise InputPathError(f"{path.name} is not a regular file")
        return read_at_most(f, limit, path.name)


def keep_own_items(items: list, limit: int, keep: Callable[[object], object], noun: str
                   ) -> tuple[list[str], list]:
    """Hand each of the first ``limit`` items of one of our list files (``read_own_list``) to ``keep``, which
    raises ValueError for one it cannot use. Returns the problems ("review 3: the text is empty", and one line
    for items past the limit) and the items not used, as they were, for the file's next save to write back."""
    problems: list[str] = []
    unused: list = []
    for number, item in enumerate(items[:limit], start=1):
        try:
            keep(item)
        except ValueError as exc:
            problems.append(f"{noun} {number}: {exc}")
            unused.append(item)
    if len(items) > limit:
        problems.append(f"the file holds {len(items):,} {noun}s; the first {limit:,} are used")
        unused.extend(items[limit:])
    return problems, unused


class OwnListFileError(ValueError):
    """One of our JSON list files (``read_own_list``) cannot be used; the message says why, in a sentence."""


def read_own_list(path: Path, limit: int, file_format: str, key: str, what: str, kind: str,
                  version: int = 1) -> list | None:
    """The list under ``key`` of one of the app's own JSON files (``{"format": file_format, key: [...]}``), read
    bounded and without following a link: None when there is no file yet. ``what`` names the content in
    messages ("Your reviews"), ``kind`` the file ("a file of your reviews"). OwnListFileError when it cannot be
    read, is not JSON, is not such a file, or was written by a newer app (its ``version`` above ``version``:
    never read as ours and then overwritten); the caller checks each item (one bad item never spoils the rest)
    and writes the items it could not use back as they were."""
    try:
        raw = read_own_file(path, limit)
    except FileNotFoundError:
        return None
    except (OSError, InputPathError, TooLarge) as exc:
        reason = os_error_reason(exc) if isinstance(exc, OSError) else str(exc)
        raise OwnListFileError(f"{what} cannot be read ({path}: {reason}).") from None
    try:
        data = parse_json(raw)
    except ValueError:
        raise OwnListFileError(f"{what} are damaged ({path} is not JSON); move it away to start again.") from None
    items = data.get(key) if isinstance(data, dict) else None
    if not isinstance(items, list) or data.get("format") != file_format:
        raise OwnListFileError(f"{path} is not {kind} written by Sentiment Studio; move it away to start again.")
    found = data.get("version")
    if isinstance(found, int) and not isinstance(found, bool) and found > version:
        raise OwnListFileError(f"{what} were saved by a newer Sentiment Studio ({path} is version {found:,}, this "
                               f"app reads version {version}); they are left as they are: use the newer app.")
    return items
