"""The sent journal: a local, fsynced line for every message the server has accepted, written the moment it
says 250 and before the register is told.

Marking an outbox row sent is a database write, and on SQLite it may wait a second for the write lock
while intake commits a batch. A sender killed in that wait would send the message again after a restart
(measured: 7 double deliveries in 30 SIGKILLs). With the journal, the window between the server's 250 and
a durable record of it is one append and one fsync; a sender that claims a row checks the journal first
and, finding the key there, marks the row sent without sending it again.

For SMTP the line is written by the process that heard the 250, the courier (`outbound.courier`), which
finishes the message in hand even when the daemon is killed: a kill of the daemon cannot cut the append
off.

All senders that share a data directory share the journal (appends under an exclusive `flock`; each
sender reads what the others appended since it last looked). Lines whose rows the register shows as sent
are dropped when the file grows past `COMPACT_BYTES`.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from ingestd.store.atomic import write_atomic

COMPACT_BYTES = 1 << 20


def journal_key(row: Any) -> str:
    """An outbox row's outbox key and when it was queued: a register rebuilt from scratch reuses case
    numbers, and so keys, but not the moment they were queued."""
    return f"{row.idempotency_key} {row.created_at.isoformat()}"


class SentJournal:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._refs: dict[str, str] = {}
        self._offset = 0
        self._inode: int | None = None

    def record(self, key: str, ref: str, at: datetime) -> None:
        """The server accepted the message sent under `key`: durable before this returns."""
        line = (json.dumps({"key": key, "ref": ref, "at": at.isoformat()}, ensure_ascii=False) + "\n").encode()
        with self._locked() as fd:
            size = os.fstat(fd).st_size
            if size and os.pread(fd, 1, size - 1) != b"\n":
                line = b"\n" + line  # a line torn by a crash or a full disk ends here, not in this one
            written = 0
            while written < len(line):
                written += os.write(fd, line[written:])
            os.fsync(fd)
        self._refs[key] = ref

    def forget(self, key: str) -> None:
        """The register has marked `key` sent: this process need not remember it (the file keeps it)."""
        self._refs.pop(key, None)

    def accepted(self, key: str) -> str | None:
        """The server's reference if a message under `key` was accepted before (by any sender)."""
        if key not in self._refs:
            self._read_new()
        return self._refs.get(key)

    def compact(self, unmarked: Callable[[list[str]], Iterable[str]]) -> int:
        """Drop the lines the register no longer needs; `unmarked(keys)` names the keys whose rows are not
        marked sent yet. Returns the lines kept."""
        with self._locked() as fd:
            if os.fstat(fd).st_size < COMPACT_BYTES:
                return -1
            lines = list(self._lines(self.path.read_bytes()))
            keep = set(unmarked([key for key, _, _ in lines]))
            kept = [raw for key, _, raw in lines if key in keep]
            write_atomic(self.path, b"".join(kept))
        self._refs = {key: ref for key, ref, _ in lines if key in keep}
        self._offset, self._inode = 0, None
        return len(kept)

    # -- reading ----------------------------------------------------------------------------------
    def _read_new(self) -> None:
        try:
            with self.path.open("rb") as fh:
                stat = os.fstat(fh.fileno())
                if stat.st_ino != self._inode or stat.st_size < self._offset:  # first look, or compacted since
                    self._inode, self._offset = stat.st_ino, 0
                fh.seek(self._offset)
                data = fh.read()
        except FileNotFoundError:
            return
        end = data.rfind(b"\n") + 1  # a line being appended right now is read next time
        self._offset += end
        for key, ref, _ in self._lines(data[:end]):
            self._refs[key] = ref

    @staticmethod
    def _lines(data: bytes) -> Iterator[tuple[str, str, bytes]]:
        for raw in data.splitlines(keepends=True):
            try:
                entry = json.loads(raw)
                yield str(entry["key"]), str(entry["ref"]), raw
            except (ValueError, KeyError, TypeError):
                continue  # a torn last line after a crash: its message was not recorded, so it is resent

    @contextmanager
    def _locked(self) -> Iterator[int]:
        """The journal, locked for appending. A file replaced by a compaction while we waited for the lock
        is opened again, so that no line goes to the unlinked copy."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                current = os.stat(self.path).st_ino
            except FileNotFoundError:
                current = None
            if current == os.fstat(fd).st_ino:
                break
            os.close(fd)
        try:
            yield fd
        finally:
            os.close(fd)
