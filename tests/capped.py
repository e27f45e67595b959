"""Running the app on hostile files under a memory cap, so a regression fails instead of swapping.

``run_cli`` starts ``python -m app`` in a child process whose address space is capped with
``resource.setrlimit`` (RLIMIT_AS; RLIMIT_DATA for commands that load TensorFlow, whose
start-up reserves gigabytes of address space it never uses). ``refused`` checks what a user
must see for bad input: exit status 2, one line on stderr, no traceback.
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CAP_MB = 1024


def capped_env(home: Path) -> dict[str, str]:
    return {**os.environ, "SENTIMENT_STUDIO_HOME": str(home), "KERAS_HOME": str(home / "keras"),
            "OPENBLAS_NUM_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONWARNINGS": "ignore"}


def _limit(cap_mb: int, tensorflow: bool):
    def apply() -> None:
        kind = resource.RLIMIT_DATA if tensorflow else resource.RLIMIT_AS
        resource.setrlimit(kind, (cap_mb << 20, cap_mb << 20))

    return apply


def run_cli(home: Path, *args: str, cap_mb: int = CAP_MB, tensorflow: bool = False, stdin: str | None = None,
            timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "app", *map(str, args)], cwd=ROOT, env=capped_env(home),
                          input=stdin, capture_output=True, text=True, timeout=timeout,
                          preexec_fn=_limit(cap_mb, tensorflow))


def run_python(home: Path, code: str, cap_mb: int = CAP_MB, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=capped_env(home), capture_output=True,
                          text=True, timeout=timeout, preexec_fn=_limit(cap_mb, False))


# TensorFlow's C++ start-up lines (absl logging before it is set up, printed whatever
# TF_CPP_MIN_LOG_LEVEL says): not the app's output, so not counted as its lines.
_TF_NATIVE_LOG = re.compile(r"^(WARNING: All log messages before absl|[IWE]\d{4} \d\d:\d\d:\d\d)")


def refused(proc: subprocess.CompletedProcess, *fragments: str) -> str:
    """Assert exit 2 with one readable error line, the last on stderr, holding every fragment; returns it.
    ``train`` writes its progress to stderr too (stdout is only JSON): those lines may come before it."""
    lines = [line for line in proc.stderr.strip().splitlines() if not _TF_NATIVE_LOG.match(line)]
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-2000:])
    errors = [line for line in lines if line.startswith("error: ")]
    assert len(errors) == 1 and lines and lines[-1] == errors[0], proc.stderr[-2000:]
    lines = errors
    assert "Traceback" not in proc.stderr
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


# -- crafted compressed data, a few kilobytes that expand to gigabytes ---------------------

_MB_OF_ZEROS = bytes(1 << 20)


def deflate_of_zeros(megabytes: int, prefix: bytes = b"") -> bytes:
    """A raw deflate stream of ``prefix`` then ``megabytes`` MB of zero bytes, built without
    compressing them all: after a full flush the compressor's output for the same input repeats."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = c.compress(prefix + _MB_OF_ZEROS) + c.flush(zlib.Z_FULL_FLUSH)
    block = c.compress(_MB_OF_ZEROS) + c.flush(zlib.Z_FULL_FLUSH)
    assert block == c.compress(_MB_OF_ZEROS) + c.flush(zlib.Z_FULL_FLUSH)
    return first + block * max(0, megabytes - 3) + c.compress(_MB_OF_ZEROS) + c.flush()


def gzip_of_zeros(megabytes: int, prefix: bytes = b"") -> bytes:
    """A .gz file of the same (its CRC is left wrong: every reader must have stopped long before it)."""
    return b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff" + deflate_of_zeros(megabytes, prefix) + bytes(8)


def zip_bytes(members: dict[str, bytes | tuple[int, bytes]]) -> bytes:
    """A zip file; a member given as (size, deflate stream) is stored pre-compressed with that size."""
    import struct

    local, central, offset = [], [], 0
    for name, content in members.items():
        raw_name = name.encode()
        if isinstance(content, tuple):
            size, data, method, crc = content[0], content[1], 8, 0
        else:
            size, data, method, crc = len(content), content, 0, zlib.crc32(content)
        zip64 = size >= 0xFFFFFFFF
        extra = struct.pack("<HHQQ", 1, 16, size, len(data)) if zip64 else b""
        small = (0xFFFFFFFF, 0xFFFFFFFF) if zip64 else (len(data), size)
        header = struct.pack("<IHHHHHIII HH".replace(" ", ""), 0x04034B50, 45, 0, method, 0, 0, crc, *small,
                             len(raw_name), len(extra)) + raw_name + extra
        cextra = struct.pack("<HHQQ", 1, 16, size, len(data)) if zip64 else b""
        central.append(struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 45, 45, 0, method, 0, 0, crc, *small,
                                   len(raw_name), len(cextra), 0, 0, 0, 0, offset) + raw_name + cextra)
        local.append(header + data)
        offset += len(header) + len(data)
    directory = b"".join(central)
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(central), len(central), len(directory), offset, 0)
    return b"".join(local) + directory + end
