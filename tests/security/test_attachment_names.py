"""Attachment names that try to leave the store, or to be something other than a plain file name.

The attack: an attachment named `../../etc/passwd`, `/etc/shadow`, `..\\..\\windows\\...`, with a NUL byte,
thousands of characters long, made only of dots, a reserved device name (CON), or hiding the traversal in
RFC 2231 (`filename*=UTF-8''%2E%2E%2F...`, also split over continuations) or RFC 2047 encoding. What is
checked: real MIME through the whole intake (and the outbox, written as `.eml` files) writes files only
inside the data folder, blobs only under their sha256 inside the blob root, and nothing anywhere else; the
recorded name is one safe path component (the original kept only as data); and the names handed on to a
department's mail are safe too.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from sqlmodel import select

from ingestd.app import App
from ingestd.pipeline.items import RawInput
from ingestd.store.blobs import BlobStore
from ingestd.store.filenames import safe_filename
from ingestd.store.models import Attachment, QuarantineEntry
from parsers import parse_email
from tests.mail import complaint

HOSTILE_PARAMS = [  # Content-Disposition parameters as sent; the comment: what the name decodes to
    'filename="../../etc/passwd"',  # ../../etc/passwd
    'filename="/etc/shadow"',  # /etc/shadow
    'filename="..\\\\..\\\\windows\\\\system32\\\\evil.dll"',
    'filename="C:\\\\evil.txt"',
    'filename="~/.ssh/authorized_keys"',  # ~/.ssh/authorized_keys
    "filename*=UTF-8''%2E%2E%2F%2E%2E%2Fetc%2Fcron.d%2Fjob",  # ../../etc/cron.d/job
    "filename*0*=UTF-8''%2E%2E%2F%2E%2E; filename*1*=%2Fetc%2Fprofile",  # ../../etc/profile
    "filename*=UTF-8''evil%00.pdf%2F..%2F..%2Fx",
    'filename="=?utf-8?b?Li4vLi4vZXRjL2dyb3Vw?="',  # RFC 2047: ../../etc/group
    'filename="...."',  # ....
    'filename="."',  # .
    'filename=".."',  # ..
    'filename="CON"',  # CON
    'filename="' + "A" * 5000 + '.pdf"',
    'filename="' + "投" * 1000 + '/../../x.pdf"',
]


def hostile_mime(params: list[str]) -> bytes:
    """A complaint with one attachment per Content-Disposition parameter string, built by hand (the standard
    library would encode or refuse some of them)."""
    parts = [b"--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n\xe8\xaf\xb7\xe7\x9c\x8b\xe9\x99\x84\xe4\xbb\xb6\r\n"]
    for n, param in enumerate(params):
        parts.append((f"--b\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; {param}\r\n"
                      f"Content-Transfer-Encoding: 8bit\r\n\r\nevidence {n}\r\n").encode())
    head = (b"From: Zhang Wei <zhang.wei@example.com>\r\nTo: complaints@ingestd.example\r\nSubject: hostile names\r\n"
            b"Date: Mon, 02 Nov 2026 09:30:00 +0000\r\nMessage-ID: <names-1@example.com>\r\nMIME-Version: 1.0\r\n"
            b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n')
    return head + b"".join(parts) + b"--b--\r\n"


def nul_in_name() -> bytes:
    """A raw NUL byte inside a quoted filename."""
    return hostile_mime(['filename="evil\x00.pdf/../../../etc/x"'])


def files_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file() or p.is_symlink()}


def is_one_safe_component(name: str) -> bool:
    return (bool(name) and name not in (".", "..") and "/" not in name and "\\" not in name and "\x00" not in name
            and not re.search(r"[\x00-\x1f\x7f]", name) and len(name.encode()) <= 200 and Path(name).name == name
            and not name.startswith(".") and ":" not in name)


# -- moved from tests/store/test_blobs_and_names.py -----------------------------------------------------------
@pytest.mark.parametrize(
    ("hostile", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\win.ini", "win.ini"),
        ("CON", "CON_"),
        ("con.txt", "con_.txt"),
        ("COM1.log", "COM1_.log"),
        ("", "attachment"),
        ("..", "attachment"),
        ("a\x00b\r\nc.pdf", "abc.pdf"),
        ("投诉 材料.pdf", "投诉 材料.pdf"),
    ],
)
def test_hostile_names_become_single_safe_components(hostile: str, expected: str) -> None:
    """Given a name that tries to leave the store or is reserved, when sanitised, then it is one plain name."""
    assert safe_filename(hostile) == expected


def test_long_names_are_cut_to_200_bytes_keeping_the_extension() -> None:
    """Given a 300-byte name, when sanitised, then it fits in 200 UTF-8 bytes and keeps `.pdf`."""
    name = "投" * 100 + ".pdf"
    safe = safe_filename(name)
    assert len(safe.encode()) <= 200
    assert safe.endswith(".pdf")


# -- moved from tests/parsers/test_mime.py ---------------------------------------------------------------------
def test_rfc2231_and_hostile_attachment_names_are_returned_decoded() -> None:
    """Given attachments named with RFC 2231 and with path tricks, when parsed, then the decoded names
    come back as given (the store sanitises them)."""
    raw = (b"From: Test <t@example.com>\r\nTo: desk@ingestd.example\r\nSubject: s\r\nMessage-ID: <m@x>\r\n"
           b'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\nContent-Transfer-Encoding: 8bit\r\n'
           b"\r\n"
           b"--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n"
           b"--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; "
           b"filename*=UTF-8''%E6%8A%95%E8%AF%89.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n"
           b"--b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=\"../../etc/passwd\"\r\n\r\n"
           b"root\r\n--b--\r\n")
    parsed = parse_email(raw)
    assert [a.filename for a in parsed.attachments] == ["投诉.pdf", "../../etc/passwd"]
    assert parsed.attachments[0].data == b"%PDF-"


# -- moved from tests/pipeline/test_intake.py ------------------------------------------------------------------
def test_attachments_are_stored_by_digest_under_safe_names(app: App) -> None:
    """Given attachments with hostile names, when taken, then each is stored in the blob store under its
    sha256, and its recorded name is a single safe component."""
    outcome = app.intake.take(RawInput(data=complaint(attachments=[
        ("../../etc/passwd", "text/plain", b"root:x:0:0"),
        ("..\\..\\win.ini", "text/plain", b"[fonts]"),
        ("CON", "application/octet-stream", b"con"),
        ("投" * 100 + ".pdf", "application/pdf", b"%PDF-1.4 fake"),
    ]), source="test", source_ref=""))
    with app.db.read() as session:
        rows = session.exec(select(Attachment).order_by(Attachment.id)).all()
    assert [r.filename for r in rows][:3] == ["passwd", "win.ini", "CON_"]
    assert len(rows[3].filename.encode()) <= 200 and rows[3].filename.endswith(".pdf")
    assert rows[0].original_name == "../../etc/passwd"
    for row in rows:
        path = app.blobs.path(row.sha256)
        assert path.is_file() and path.resolve().is_relative_to(app.blobs.root.resolve())
    assert outcome.status == "created"


# -- new -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("raw", [hostile_mime(HOSTILE_PARAMS), nul_in_name()],
                         ids=["every-trick", "nul-byte"])
def test_hostile_names_through_the_whole_intake_write_nothing_outside_the_store(
        make_app: Callable[..., App], sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        raw: bytes) -> None:
    """Given real MIME whose attachments carry every path trick, when it is taken (from a working folder deep
    inside the test folder) and the acknowledgement and notification are written out as `.eml` files, then
    every new file is the register, a blob named by its sha256 inside the blob root, an outbox file or the
    sent journal inside the data folder; each attachment's recorded name is one safe component; and nothing appeared elsewhere."""
    work = tmp_path / "a" / "b" / "c"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)
    before = files_under(tmp_path)
    app = make_app(sqlite_url, outbound={"departments": {"triage": "triage@dept.example"}})
    outcome = app.intake.take(RawInput(data=raw, source="test", source_ref="names.eml"))
    assert outcome.status == "created", outcome.reason
    assert app.outbound is not None
    assert app.outbound.drain()["sent"] == 2
    blob_root = app.blobs.root.resolve()
    outbox_dir = app.outbound.outbox_dir.resolve()
    new = {p.resolve() for p in files_under(tmp_path) - before}
    assert new, "the intake wrote nothing?"
    for path in new:
        if path.is_relative_to(blob_root):
            assert path.parent.parent == blob_root and re.fullmatch(r"[0-9a-f]{64}", path.name), path
            assert path.parent.name == path.name[:2]
            assert hashlib.sha256(path.read_bytes()).hexdigest() == path.name
        elif path.name == "sent.journal":  # the sender's record of accepted messages (outbound.journal)
            assert path.parent == app.outbound.sender().journal.path.parent.resolve(), path
        elif path.is_relative_to(outbox_dir):
            assert path.parent == outbox_dir and re.fullmatch(r"\d{8}-TS-\d{6}-\d{5}-\w+-\d{6}\.eml", path.name), path
        else:
            assert path.parent == tmp_path.resolve() and path.name.startswith("ingestd.db"), path  # the register
    assert not [p for p in tmp_path.rglob("*") if p.name in ("passwd", "shadow", "cron.d", "profile", "group",
                                                           "evil.dll", "authorized_keys", "x")]
    with app.db.read() as session:
        rows = session.exec(select(Attachment)).all()
    assert len(rows) == raw.count(b"Content-Disposition: attachment")
    for row in rows:
        assert is_one_safe_component(row.filename), row.filename
        assert (blob_root / row.filename).resolve().parent == blob_root  # joined to a folder it stays there
        assert app.blobs.read(row.sha256).startswith(b"evidence ")


def test_hostile_names_are_not_handed_on_to_the_department(make_app: Callable[..., App], sqlite_url: str) -> None:
    """Given a complaint whose attachments try path tricks, when the department notification is built, then the
    file names it carries are single safe components (a department's system may save them as they come)."""
    app = make_app(sqlite_url, outbound={"departments": {"triage": "triage@dept.example"}})
    outcome = app.intake.take(RawInput(data=hostile_mime(HOSTILE_PARAMS), source="test"))
    assert outcome.status == "created"
    assert app.outbound is not None
    app.outbound.drain()
    (note,) = [p for p in app.outbound.outbox_dir.glob("*.eml") if "-notify-" in p.name]
    msg = message_from_bytes(note.read_bytes(), policy=policy.default)
    names = [part.get_filename() for part in msg.iter_attachments()]
    assert len(names) == len(HOSTILE_PARAMS)
    for name in names:
        assert name is not None and is_one_safe_component(name), name
    assert names[:2] == ["passwd", "shadow"]  # the last component is kept, the path is not


def test_a_blob_path_is_only_ever_a_digest(tmp_path: Path) -> None:
    """Given digests that are paths, absolute, upper-case or the wrong length, when a blob path is asked for,
    then it is refused: a blob is only ever found by its sha256."""
    store = BlobStore(tmp_path / "blobs")
    for bad in ("../../etc/passwd", "/etc/passwd", "..", "", "A" * 64, "0" * 63, "0" * 64 + "/x", "0" * 63 + "/"):
        with pytest.raises(ValueError):
            store.path(bad)
    digest = store.put(b"x")
    assert store.path(digest).resolve().is_relative_to((tmp_path / "blobs").resolve())


def test_quarantined_input_with_hostile_names_keeps_its_bytes_in_the_store(make_app: Callable[..., App],
                                                                          sqlite_url: str, tmp_path: Path) -> None:
    """Given a message with a hostile attachment name that is parked (its attachment is over the limit), when
    taken, then the raw bytes are kept under their sha256 in the blob root and no file is named after it."""
    app = make_app(sqlite_url, limits={"max_attachment_bytes": 5})
    raw = hostile_mime(['filename="../../../etc/passwd"'])
    outcome = app.intake.take(RawInput(data=raw, source="test"))
    assert outcome.status == "quarantined" and "limits.max_attachment_bytes" in (outcome.reason or "")
    with app.db.read() as session:
        (entry,) = session.exec(select(QuarantineEntry)).all()
    assert app.blobs.read(entry.raw_sha256) == raw
    assert not [p for p in tmp_path.rglob("passwd")]
    assert all(os.path.realpath(p).startswith(str(tmp_path.resolve())) for p in tmp_path.rglob("*"))
