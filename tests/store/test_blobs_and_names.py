"""The attachment store: content-addressed and atomic (hostile names: tests/security/test_attachment_names.py)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from ingestd.store.blobs import BlobDamaged, BlobStore


def test_blobs_are_content_addressed_and_stay_inside_the_root(tmp_path: Path) -> None:
    """Given bytes, when stored twice, then one file under its sha256 inside the root holds them."""
    store = BlobStore(tmp_path / "blobs")
    data = b"complaint evidence"
    digest = store.put(data)
    assert digest == hashlib.sha256(data).hexdigest()
    assert store.put(data) == digest
    path = store.path(digest)
    assert path.read_bytes() == data
    assert path.resolve().is_relative_to((tmp_path / "blobs").resolve())
    assert list(store.all_digests()) == [digest]
    with pytest.raises(ValueError):
        store.path("../../etc/passwd")


def test_streamed_blob_and_orphan_sweep(tmp_path: Path) -> None:
    """Given a streamed blob nobody refers to, when swept with age 0, then it is removed; referenced ones stay."""
    store = BlobStore(tmp_path / "blobs")
    kept = store.put(b"kept")
    orphan, size = store.put_chunks([b"a" * 1000, b"b" * 1000])
    assert size == 2000
    removed = store.sweep_orphans({kept}, min_age_seconds=0)
    assert removed == [orphan]
    assert store.exists(kept) and not store.exists(orphan)


def test_a_store_given_a_relative_folder_keeps_writing_there_after_a_change_of_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Given a blob store made from the default relative folder (var/blobs), when the process then works in
    another directory, then blobs still go to, and are read from, the folder it was made for."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    monkeypatch.chdir(tmp_path / "a")
    store = BlobStore(Path("var/blobs"))
    first = store.put(b"first")
    monkeypatch.chdir(tmp_path / "b")
    second = store.put(b"second")
    assert store.read(first) == b"first" and store.read(second) == b"second"
    assert (tmp_path / "a" / "var" / "blobs" / second[:2] / second).is_file()
    assert not (tmp_path / "b" / "var").exists()


def test_a_sync_started_ahead_covers_blobs_written_here_meanwhile(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Given a sync started ahead of a batch's commit, when this process writes a blob before waiting for it (an
    input parked, or parsed here), then waiting syncs once more; without such a write, the one sync is enough."""
    store = BlobStore(tmp_path / "blobs")
    syncs: list[int] = []
    real_sync = store.sync
    monkeypatch.setattr(store, "sync", lambda: (syncs.append(1), real_sync())[1])
    store.sync_ahead()()
    assert len(syncs) == 1
    wait = store.sync_ahead()
    store.put(b"parked while the rows were made")
    wait()
    assert len(syncs) == 3


def test_a_blob_found_already_placed_during_a_sync_ahead_is_synced_again(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Given a sync started ahead, when another process (a worker parsing the next batch) places a blob after it
    began and this process then `put`s the same bytes (found in place, not written), then waiting syncs again:
    the row about to point at it must not be committed before it is on disk."""
    here, other = BlobStore(tmp_path / "blobs"), BlobStore(tmp_path / "blobs")
    syncs: list[int] = []
    real_sync = here.sync
    monkeypatch.setattr(here, "sync", lambda: (syncs.append(1), real_sync())[1])
    wait = here.sync_ahead()
    other.put(b"the same attachment")
    here.put(b"the same attachment")
    wait()
    assert len(syncs) == 2


def test_a_failed_sync_is_an_error_not_a_silent_return(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Given a disk whose sync fails (EIO), when the batch waits for its blobs to be synced, then it gets a
    BlobStoreError (the source keeps its inputs), not a return that lets the rows be committed."""
    import ctypes
    import errno

    from ingestd.store import blobs as blobs_module
    from ingestd.store.blobs import BlobStoreError

    class FailingLibc:
        @staticmethod
        def syncfs(fd: int) -> int:
            ctypes.set_errno(errno.EIO)
            return -1

    monkeypatch.setattr(blobs_module, "_LIBC", FailingLibc())
    store = BlobStore(tmp_path / "blobs")
    with pytest.raises(OSError, match="Input/output error"):
        store.sync()
    with pytest.raises(BlobStoreError, match="cannot sync"):
        store.sync_ahead()()


def test_a_verified_read_refuses_a_blob_whose_bytes_changed(tmp_path: Path) -> None:
    """Given a stored blob, a verified read gives its bytes; once the file is altered on disk, the plain read
    still gives what is there but the verified read refuses it; once it is gone, both say so."""
    store = BlobStore(tmp_path / "blobs")
    digest = store.put(b"complaint as received")
    assert store.read_verified(digest) == b"complaint as received"
    store.path(digest).write_bytes(b"complaint as altered")
    assert store.read(digest) == b"complaint as altered"
    with pytest.raises(BlobDamaged):
        store.read_verified(digest)
    store.path(digest).unlink()
    with pytest.raises(FileNotFoundError):
        store.read_verified(digest)
