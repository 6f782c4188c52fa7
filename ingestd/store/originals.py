"""Where an input's raw bytes live once it is a case: in the register, or in the blob store.

A file per input made intake's parse worker spend more CPU in the kernel than on parsing the message: creating a
file (its inode and directory entry) cost 0.4–1 ms of system time on this machine's file system in a busy
minute, while appending the same bytes to a file that exists cost next to nothing (measured 2026-11-24 with
300 creates against 300 appends of 36 KB, alternating). So inputs up to `INLINE_INPUT_BYTES` (nearly all
mail) go into the register's `input_bytes` table, in the transaction that records them, as Zammad and OTRS
keep articles in the database; bigger ones (scans, mail with large attachments) stay files. Either way they
are found by the SHA-256 taken at intake.
"""

from __future__ import annotations

import hashlib

from sqlmodel import Session

from ingestd.store.blobs import BlobDamaged, BlobStore
from ingestd.store.models import InputBytes

INLINE_INPUT_BYTES = 256 * 1024


def kept_inline(size: int) -> bool:
    """Does an input of this size go into the register (True) or the blob store (False)?"""
    return size <= INLINE_INPUT_BYTES


def read_original(session: Session, blobs: BlobStore, sha256: str) -> tuple[bytes, str]:
    """The bytes, checked against their SHA-256, and where they were found (for messages to the desk). Raises
    FileNotFoundError when neither place has them, BlobDamaged when the bytes no longer match."""
    row = session.get(InputBytes, sha256)
    if row is None:
        return blobs.read_verified(sha256), str(blobs.path(sha256))
    if hashlib.sha256(row.data).hexdigest() != sha256:
        raise BlobDamaged(f"the register's copy (input_bytes {sha256}) no longer matches its SHA-256")
    return bytes(row.data), f"the register (input_bytes {sha256[:12]}…)"
