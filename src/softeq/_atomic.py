"""Crash-safe file writes shared by the basis cache and checkpoints.

A file written by `save_atomic` ends with a 48-byte trailer: `TRAILER_MAGIC` and
the SHA-256 of every byte before it. Zip readers (hence `torch.load`) skip bytes
after the archive, so the file still loads as usual; `verify` recomputes the
digest and so detects a torn or bit-flipped file that would otherwise load with
silently wrong tensors.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import torch

#: First 16 bytes of the integrity trailer that `save_atomic` appends.
TRAILER_MAGIC = b"softeq-sha256-v1"
_TRAILER_SIZE = len(TRAILER_MAGIC) + hashlib.sha256().digest_size
_CHUNK = 1 << 20


class _HashingWriter:
    """File-like object that hashes what `torch.save` writes through it."""

    def __init__(self, fh: Any) -> None:
        self.fh, self.sha = fh, hashlib.sha256()

    def write(self, data: bytes) -> int:
        self.sha.update(data)
        return self.fh.write(data)

    def flush(self) -> None:
        self.fh.flush()


def _fsync_dir(folder: Path) -> None:
    """Make a rename inside `folder` durable (POSIX; a no-op elsewhere)."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_atomic(path: str | Path, write: Callable[[BinaryIO], None]) -> None:
    """Let `write` fill a temporary file next to `path`; fsync, rename, fsync the
    folder.

    An interrupted write (exception, signal, power loss) never corrupts an existing
    file at `path`: readers see the old file or the new one, never a mix. The
    temporary file (``.NAME.*.tmp`` next to `path`) is removed on an exception; one
    left by a killed process is never read.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_text_atomic(path: str | Path, text: str) -> None:
    """`Path(path).write_text(text)` (UTF-8) through `write_atomic`: readers never
    see a half-written file."""
    data = text.encode()
    write_atomic(path, lambda fh: fh.write(data))


def save_atomic(obj: Any, path: str | Path) -> None:
    """Write `obj` with `torch.save` through `write_atomic`, ending the file with
    an integrity trailer (see `verify`)."""

    def write(fh: BinaryIO) -> None:
        writer = _HashingWriter(fh)
        torch.save(obj, writer)  # type: ignore[arg-type]
        fh.write(TRAILER_MAGIC + writer.sha.digest())

    write_atomic(path, write)


def verify(path: str | Path) -> bool:
    """Check the integrity trailer of a file written by `save_atomic`.

    Returns:
        True when the trailer is present and matches; False for a file without
        a trailer (written by plain `torch.save`, or cut short before it).

    Raises:
        ValueError: When the trailer is present but the digest does not match
            (the file was changed after it was written).
    """
    path = Path(path)
    size = path.stat().st_size
    if size < _TRAILER_SIZE:
        return False
    sha, left = hashlib.sha256(), size - _TRAILER_SIZE
    with path.open("rb") as fh:
        while left > 0:
            chunk = fh.read(min(_CHUNK, left))
            if not chunk:  # the file shrank while we read it
                raise ValueError(f"{path} changed while it was being verified")
            sha.update(chunk)
            left -= len(chunk)
        trailer = fh.read(_TRAILER_SIZE)
    if not trailer.startswith(TRAILER_MAGIC):
        return False
    if trailer[len(TRAILER_MAGIC) :] != sha.digest():
        raise ValueError(
            f"{path} is corrupted: its SHA-256 does not match the digest written "
            "with it"
        )
    return True
