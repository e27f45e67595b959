"""Downloads data sets into the user's cache: resumable-safe, verified, and with readable failures."""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlparse

from models.atomic_write import atomic_write
from models.errors import DataSourceError, NetworkError

OFFLINE_HINT = (
    "If this computer is offline, use a local copy instead: the aclImdb_v1.tar.gz archive "
    "from the Stanford site, its unpacked aclImdb folder, or a CSV of reviews and labels."
)

ProgressFn = Callable[[int, int | None], None]  # (bytes so far, total bytes or None)


class DownloadCancelled(DataSourceError):
    pass


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def download(
    url: str,
    dest: Path,
    *,
    sha256: str | None = None,
    on_progress: ProgressFn | None = None,
    should_stop: Callable[[], bool] | None = None,
    timeout: float = 30.0,
) -> Path:
    """Fetch ``url`` to ``dest`` unless a verified copy is already there.

    The bytes go to a temporary file beside ``dest`` (models.atomic_write) and are renamed into
    place only once complete and verified, so an interrupted download never looks like a finished one.
    """
    if dest.exists() and (sha256 is None or sha256_of(dest) == sha256):
        return dest
    host = urlparse(url).netloc or url
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        # Written beside ``dest`` and renamed into place only once complete and verified.
        with urllib.request.urlopen(url, timeout=timeout) as response, atomic_write(dest) as out:
            total = response.headers.get("Content-Length")
            total_bytes = int(total) if total and total.isdigit() else None
            done = 0
            digest = hashlib.sha256()
            while True:
                if should_stop is not None and should_stop():
                    raise DownloadCancelled("The download was cancelled.")
                chunk = response.read(1 << 16)
                if not chunk:
                    break
                out.write(chunk)
                digest.update(chunk)
                done += len(chunk)
                if on_progress is not None:
                    on_progress(done, total_bytes)
            if total_bytes is not None and done != total_bytes:
                raise NetworkError(
                    f"The download from {host} stopped after {done:,} of {total_bytes:,} bytes. "
                    f"Try again. {OFFLINE_HINT}"
                )
            if sha256 is not None and digest.hexdigest() != sha256:
                raise NetworkError(
                    f"The file downloaded from {host} is not the expected one (checksum mismatch). "
                    f"Try again later. {OFFLINE_HINT}"
                )
        return dest
    except urllib.error.HTTPError as exc:
        raise NetworkError(f"{host} refused the download ({exc.code} {exc.reason}). {OFFLINE_HINT}") from None
    except (TimeoutError, urllib.error.URLError, ConnectionError) as exc:
        reason = getattr(exc, "reason", exc)
        raise NetworkError(f"Could not reach {host} to download the data set ({reason}). {OFFLINE_HINT}") from None
    except OSError as exc:
        raise DataSourceError(
            f"Could not save the download to {dest.parent} ({exc.strerror or exc}). "
            "Free some disk space or check that the folder is writable."
        ) from None
