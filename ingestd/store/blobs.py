"""Content-addressed files on disk: attachments, raw inputs and quarantined bytes, each stored once.

A blob is written to a temporary file and renamed into place, and made durable (`sync`) before any row
that refers to it is committed, so a crash leaves at worst an unreferenced blob (collected by
`sweep_orphans`), never a row that points at nothing.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import itertools
import os
import re
import threading
from collections.abc import Callable, Iterable
from pathlib import Path


def _load_libc():  # type: ignore[no-untyped-def]
    try:
        import ctypes.util

        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    except OSError:
        return None


_LIBC = _load_libc()
_DIGEST = re.compile(r"[0-9a-f]{64}")
_TMP_NUMBERS = itertools.count()  # per process, whatever the store: names of temporary files never meet


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


class BlobStoreError(OSError):
    """The blob store could not write (disk full, permissions): the input must stay where it is."""


class BlobDamaged(ValueError):
    """A stored blob's bytes no longer hash to its name: the file was changed or corrupted on disk."""


class BlobStore:
    """Blobs are not fsynced one by one (a journal commit each: milliseconds on a busy disk). Before
    committing rows that refer to blobs, the caller calls `sync()`: one `syncfs` of the store's file
    system makes every blob written so far, by this process or by parse workers, durable at once."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).absolute()  # workers and a later change of directory see the same folder
        self._root = str(self.root)
        (self.root / "tmp").mkdir(parents=True, exist_ok=True)
        self._tmp = f"{self._root}/tmp"
        self._dirs: set[str] = set()
        self._puts = 0  # blobs this process has stored (written, or found in place): see `sync_ahead`

    def sync_ahead(self) -> Callable[[], None]:
        """Start `sync()` in a thread and return what waits for it. A batch's parse workers have written their
        blobs before it is committed: their sync (milliseconds on a busy disk) runs while the batch's rows are
        made, not after. If this process stores a blob meanwhile (writes it, or finds it placed by another
        process), waiting syncs again."""
        puts = self._puts
        errors: list[OSError] = []

        def run() -> None:
            try:
                self.sync()
            except OSError as exc:
                errors.append(exc)

        thread = threading.Thread(target=run, name="blob-sync", daemon=True)
        thread.start()

        def wait() -> None:
            thread.join()
            if errors:
                raise BlobStoreError(f"cannot sync blob store {self.root}: {errors[0]}") from errors[0]
            if self._puts != puts:
                self.sync()

        return wait

    def sync(self) -> None:
        fd = os.open(self.root, os.O_RDONLY)
        try:
            if _LIBC is not None and hasattr(_LIBC, "syncfs"):
                if _LIBC.syncfs(fd) != 0:  # the disk refused: the rows must not be committed
                    errno = ctypes.get_errno()
                    raise OSError(errno, f"syncfs: {os.strerror(errno)}")
            else:
                os.sync()
        finally:
            os.close(fd)

    def path(self, sha256: str) -> Path:
        return Path(self._name(sha256))

    def _name(self, sha256: str) -> str:
        """The blob's file name, as a string: a parse worker names one or two per input (`Path` costs more)."""
        if not _DIGEST.fullmatch(sha256):
            raise ValueError(f"not a sha256 digest: {sha256!r}")
        return f"{self._root}/{sha256[:2]}/{sha256}"  # 256 folders: ext4 indexes big folders well

    def exists(self, sha256: str) -> bool:
        return os.path.exists(self._name(sha256))

    def put(self, data: bytes, sha256: str | None = None) -> str:
        digest = sha256 or hashlib.sha256(data).hexdigest()
        final = self._name(digest)
        try:  # held already: made young again, so that a sweep of orphans running now leaves it alone
            os.utime(final)
            self._puts += 1  # perhaps placed by another process after a sync began: `sync_ahead` syncs again
        except FileNotFoundError:
            self._write((data,), digest)
        return digest

    def put_chunks(self, chunks: Iterable[bytes]) -> tuple[str, int]:
        """Stream chunks to disk, hashing on the way; returns (sha256, size)."""
        return self._write(chunks, None)

    def read(self, sha256: str) -> bytes:
        return self.path(sha256).read_bytes()

    def read_verified(self, sha256: str) -> bytes:
        """`read`, checked against the name: for what is handed out as evidence, not merely used.
        Raises FileNotFoundError when it is gone, BlobDamaged when its bytes changed."""
        data = self.read(sha256)
        if hashlib.sha256(data).hexdigest() != sha256:
            raise BlobDamaged(f"{self.path(sha256)} no longer matches its SHA-256")
        return data

    def _write(self, chunks: Iterable[bytes], digest: str | None) -> tuple[str, int]:
        """Write to a temporary file and rename it into place; hash on the way when no digest is given."""
        hasher = hashlib.sha256() if digest is None else None
        size = 0
        tmp_name = f"{self._tmp}/{os.getpid()}-{next(_TMP_NUMBERS)}"  # this process's own: none other writes it
        try:
            fd = os.open(tmp_name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
            try:
                for chunk in chunks:
                    if hasher is not None:
                        hasher.update(chunk)
                    size += len(chunk)
                    _write_all(fd, chunk)
            finally:
                os.close(fd)
            digest = digest or hasher.hexdigest()  # type: ignore[union-attr]
            self._place(tmp_name, digest)
            self._puts += 1
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp_name)
            raise BlobStoreError(f"cannot write to blob store {self.root}: {exc.strerror or exc}") from exc
        return digest, size

    def _place(self, tmp: str, digest: str) -> None:
        folder = f"{self._root}/{digest[:2]}"
        if folder not in self._dirs:
            os.makedirs(folder, exist_ok=True)
            self._dirs.add(folder)
        os.replace(tmp, self._name(digest))

    def all_digests(self) -> Iterable[str]:
        for path in self.root.glob("??/*"):
            if path.is_file():
                yield path.name

    def sweep_orphans(self, referenced: set[str], *, min_age_seconds: float = 3600) -> list[str]:
        """Remove blobs that no row refers to and that are old enough not to belong to a transaction in flight."""
        import time

        removed = []
        cutoff = time.time() - min_age_seconds
        for digest in list(self.all_digests()):
            path = self.path(digest)
            if digest not in referenced and path.stat().st_mtime < cutoff:
                path.unlink(missing_ok=True)
                removed.append(digest)
        return removed
