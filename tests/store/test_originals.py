"""Where an input's raw bytes are kept: the register for small inputs, the blob store for big ones."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from sqlalchemy import update

from ingestd.store.blobs import BlobDamaged, BlobStore
from ingestd.store.models import InputBytes
from ingestd.store.originals import INLINE_INPUT_BYTES, kept_inline, read_original
from tests.store.test_register import _database


def test_an_original_is_read_from_the_register_or_the_blob_store_and_checked(db_url: str, tmp_path: Path) -> None:
    """Given one input kept in the register and one in the blob store, when read, then each comes back with where
    it was; once the register's copy is altered it is refused as damaged, and bytes held nowhere are missing."""
    assert kept_inline(INLINE_INPUT_BYTES) and not kept_inline(INLINE_INPUT_BYTES + 1)
    db, blobs = _database(db_url), BlobStore(tmp_path / "blobs")
    small, big = b"From: a@example.com\r\n\r\nsmall", b"From: b@example.com\r\n\r\n" + b"x" * (INLINE_INPUT_BYTES + 1)
    small_digest = hashlib.sha256(small).hexdigest()
    big_digest = blobs.put(big)
    with db.write() as session:
        session.add(InputBytes(sha256=small_digest, data=small))
    with db.read() as session:
        data, where = read_original(session, blobs, small_digest)
        assert data == small and "register" in where
        data, where = read_original(session, blobs, big_digest)
        assert data == big and where == str(blobs.path(big_digest))
        with pytest.raises(FileNotFoundError):
            read_original(session, blobs, hashlib.sha256(b"never seen").hexdigest())
    with db.write() as session:
        session.execute(update(InputBytes).where(InputBytes.sha256 == small_digest).values(data=small + b"!"))  # type: ignore[arg-type]
    with db.read() as session, pytest.raises(BlobDamaged):
        read_original(session, blobs, small_digest)
