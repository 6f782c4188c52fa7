"""Fault: the attachment store (the blob store under `store.data_dir`) runs out of space.

Breaks: the data directory is a real 2 MiB tmpfs (`mount -t tmpfs`, we run as root), filled by a filler
file until too little is left for the next complaint: its raw bytes still fit, its attachment does not
(the nastier case: half of the input is on disk when the write fails). Where mounting is not permitted
(an unprivileged container) the same budget is enforced by injecting `OSError(ENOSPC)` into the blob
store's write instead; the test logs which of the two it used (`SmallDisk.how`).

Checks: one clear ERROR line that says there is no space (for the drop folder and for the mailbox, not
"cannot reach the server"); the input is *not* parked in quarantine as if it were bad (the drop file stays
in the folder, not in `failed/`; the IMAP message stays in INBOX); the daemon keeps running, and once the
space is freed it takes the input: one case each, nothing in quarantine.
"""

from __future__ import annotations

import errno
import random
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pytest
from loguru import logger

from ingestd.app import App
from ingestd.store.blobs import BlobStore, BlobStoreError
from tests.faults.conftest import (
    assert_each_once,
    case_count,
    drop,
    drop_config,
    errors_for,
    quarantined,
    waiting_files,
)
from tests.mail import complaint
from tests.servers.dovecot import DovecotServer, captured_logs, running_daemon, wait_until

DISK_BYTES = 2 * 1024 * 1024
LEAVE = 600 * 1024  # free space left by the filler: a 300 KiB attachment's raw message (~410 KiB) fits, not both
ATTACHMENT = 300 * 1024
ONE_WORKER = {"parse_workers": 1}


class SmallDisk:
    """The data directory on a small file system that can be filled up and freed again."""

    def __init__(self, root: Path, mounted: bool, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = root
        self.mounted = mounted
        self.how = "tmpfs" if mounted else "injected ENOSPC"
        self.filler = root / "filler.bin"
        self.budget: int | None = None  # injected mode: bytes the blob store may still write
        if not mounted:
            self._inject(monkeypatch)

    def fill(self, leave: int) -> None:
        """Leave about `leave` bytes free."""
        if not self.mounted:
            self.budget = leave
            return
        import os

        st = os.statvfs(self.root)
        free = st.f_bavail * st.f_frsize
        self.filler.write_bytes(b"\0" * max(0, free - leave))

    def clear(self) -> None:
        self.filler.unlink(missing_ok=True)
        self.budget = None

    def _inject(self, monkeypatch: pytest.MonkeyPatch) -> None:
        original = BlobStore._write
        disk = self

        def write(store: BlobStore, chunks: Iterable[bytes], digest: str | None) -> tuple[str, int]:
            data = b"".join(chunks)
            if disk.budget is not None:
                if len(data) > disk.budget:
                    cause = OSError(errno.ENOSPC, "No space left on device")
                    raise BlobStoreError(f"cannot write to blob store {store.root}: {cause.strerror}") from cause
                disk.budget -= len(data)
            return original(store, (data,), digest)

        monkeypatch.setattr(BlobStore, "_write", write)


@pytest.fixture
def small_disk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[SmallDisk]:
    """`tmp_path/var` (the apps' data_dir) on a 2 MiB tmpfs; unmounted afterwards. Request it before
    `make_app`, so that the apps are closed before the unmount."""
    root = tmp_path / "var"
    root.mkdir()
    mount = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={DISK_BYTES},mode=0755", "tmpfs", str(root)],
                           capture_output=True, text=True)
    disk = SmallDisk(root, mount.returncode == 0, monkeypatch)
    logger.info("disk-full test: {} ({})", disk.how, mount.stderr.strip() or "mounted")
    try:
        yield disk
    finally:
        if disk.mounted and subprocess.run(["umount", str(root)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(root)], capture_output=True)


def with_attachment(tag: str, seed: int) -> bytes:
    scan = random.Random(seed).randbytes(ATTACHMENT)  # incompressible, and different for each message
    return complaint(subject=f"投诉 附件 {tag}", message_id=f"<disk-full-{tag}@example.com>",
                     attachments=[("scan.bin", "application/octet-stream", scan)])


def no_space(lines: list[str]) -> bool:
    return any("no space left on device" in line.lower() for line in lines)


def test_drop_folder_file_stays_until_space_is_freed(small_disk: SmallDisk, make_app: Callable[..., App],
                                                     sqlite_url: str, tmp_path: Path) -> None:
    """Given the daemon watching a drop folder and a blob store with room for a complaint's raw bytes but not
    for its attachment, when the complaint is dropped, then each pass fails with one ERROR that says there
    is no space, the file stays in the folder (not in failed/) and nothing is quarantined; when the space
    is freed, the next pass takes it: one case."""
    folder = tmp_path / "drop"
    app = make_app(sqlite_url, intake=ONE_WORKER, sources={"folders": [drop_config(folder)]})
    small_disk.fill(LEAVE)
    drop(folder, [with_attachment("drop", 1)], "full")
    with captured_logs() as logs, running_daemon(app):
        assert wait_until(lambda: len(errors_for(logs, "folder:drop")) >= 2, 15), small_disk.how
        errors = errors_for(logs, "folder:drop")
        assert no_space(errors), errors
        assert [p.name for p in waiting_files(folder)] == ["full-0000.eml"]
        assert list((folder / "failed").iterdir()) == [] and quarantined(app) == [] and case_count(app) == 0

        small_disk.clear()
        assert wait_until(lambda: case_count(app) == 1 and not waiting_files(folder), 15)
    assert_each_once(app, {"<disk-full-drop@example.com>"})
    assert [p.name for p in (folder / "processed").iterdir()] == ["full-0000.eml"]


def test_imap_message_stays_on_the_server_until_space_is_freed(small_disk: SmallDisk, dovecot: DovecotServer,
                                                               make_app: Callable[..., App],
                                                               sqlite_url: str) -> None:
    """Given the daemon watching a mailbox and the same nearly full blob store, when a complaint with an
    attachment arrives, then the pass logs one ERROR naming the mailbox that says there is no space (not
    that the server cannot be reached), the message stays in INBOX, nothing is quarantined; when the space
    is freed it is taken after the backoff: one case, INBOX empty."""
    user = dovecot.add_user()
    dovecot.append(user, "INBOX", [with_attachment("imap", 2)])
    app = make_app(sqlite_url, intake=ONE_WORKER, mailboxes=[dovecot.mailbox_config(user, poll_seconds=0.5)])
    small_disk.fill(LEAVE)
    with captured_logs() as logs, running_daemon(app):
        assert wait_until(lambda: len(errors_for(logs, "imap:desk/INBOX")) >= 1, 15), small_disk.how
        time.sleep(1)
        errors = errors_for(logs, "imap:desk/INBOX")
        assert no_space(errors) and not any("cannot reach" in e for e in errors), errors
        assert dovecot.count(user, "INBOX") == 1 and quarantined(app) == [] and case_count(app) == 0

        small_disk.clear()
        assert wait_until(lambda: case_count(app) == 1, 20)
        assert wait_until(lambda: dovecot.count(user, "INBOX") == 0, 10)
    assert_each_once(app, {"<disk-full-imap@example.com>"})
    assert dovecot.count(user, "Processed") == 1
