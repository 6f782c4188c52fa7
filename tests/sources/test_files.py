"""File sources: .eml files, mbox, Maildir, folders of them; and the drop folder's move-after-commit."""

from __future__ import annotations

import mailbox
import os
import time
from collections.abc import Callable
from pathlib import Path

from ingestd.app import App
from ingestd.daemon import run_once
from ingestd.sources.files import read_inputs
from tests.mail import complaint


def test_mbox_maildir_and_folders_are_read(tmp_path: Path) -> None:
    """Given an mbox with 3 messages, a Maildir with 2 and a folder with an .eml, a .part and a README,
    when read, then 6 inputs come out with refs saying where each was."""
    box = mailbox.mbox(tmp_path / "archive.mbox")
    for i in range(3):
        box.add(complaint(subject=f"mbox {i}"))
    box.close()
    md = mailbox.Maildir(tmp_path / "Maildir", create=True)
    for i in range(2):
        md.add(complaint(subject=f"maildir {i}"))
    folder = tmp_path / "drop"
    folder.mkdir()
    (folder / "a.eml").write_bytes(complaint())
    (folder / "b.eml.part").write_bytes(b"half")
    (folder / "README.md").write_text("docs")
    inputs = list(read_inputs([tmp_path / "archive.mbox", tmp_path / "Maildir", folder]))
    refs = [r.source_ref for r in inputs]
    assert len(inputs) == 6
    assert refs[0].endswith("archive.mbox#0") and refs[-1].endswith("a.eml")
    assert all(r.data.startswith((b"From:", b"To:", b"Subject:", b"Content", b"MIME", b"Date")) or b"Subject:" in r.data
               for r in inputs)


def test_drop_folder_moves_files_only_after_commit(make_app: Callable[..., App], sqlite_url: str,
                                                  tmp_path: Path) -> None:
    """Given a drop folder with a settled complaint, a settled junk file, a file still being written and a
    .tmp file, when one pass runs, then the complaint is a case (file in processed/), the junk is
    quarantined (file in failed/), and the other two stay untouched."""
    drop = tmp_path / "drop"
    app = make_app(sqlite_url, sources={"folders": [{"name": "drop", "path": str(drop), "settle_seconds": 2}]})
    old = time.time() - 10
    (drop / "good.eml").write_bytes(complaint())
    (drop / "junk.eml").write_bytes(b"\x89PNG\r\n\x1a\nnot a message")
    for name in ("good.eml", "junk.eml"):
        os.utime(drop / name, (old, old))
    (drop / "copying.eml").write_bytes(complaint(subject="still copying"))  # mtime: now
    (drop / "upload.tmp").write_bytes(complaint(subject="temp"))
    os.utime(drop / "upload.tmp", (old, old))

    counts = run_once(app)
    assert counts == {"created": 1, "quarantined": 1}
    assert (drop / "processed" / "good.eml").exists() and (drop / "failed" / "junk.eml").exists()
    assert (drop / "copying.eml").exists() and (drop / "upload.tmp").exists()


def test_crash_between_commit_and_move_adds_nothing(make_app: Callable[..., App], sqlite_url: str,
                                                     tmp_path: Path) -> None:
    """Given a file whose case was committed but which was not moved (a crash in between), when the
    next pass takes it again, then it is a duplicate: still one case, and now the file is moved."""
    drop = tmp_path / "drop"
    app = make_app(sqlite_url, sources={"folders": [{"name": "drop", "path": str(drop), "settle_seconds": 0}]})
    (drop / "a.eml").write_bytes(complaint())
    source = app.drop_folders[0]
    outcomes = [o for _, o in app.intake.take_many(source.inputs())]  # committed; "crash" before settle()
    assert [o.status for o in outcomes] == ["created"]
    assert (drop / "a.eml").exists()
    assert run_once(app) == {"duplicate": 1}
    assert (drop / "processed" / "a.eml").exists()
