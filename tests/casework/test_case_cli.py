"""`ingestd case ...` as the complaint desk uses it."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from email import message_from_bytes
from email.policy import default
from pathlib import Path

from tests.mail import complaint
from tests.routing.test_route_cli import setup_config
from tests.test_cli import ingestd


def export(tmp_path: Path) -> dict[str, dict]:  # type: ignore[type-arg]
    return {c["case_no"]: c for c in map(json.loads, ingestd(tmp_path, "cases", "export").stdout.splitlines())}


def test_desk_actions_follow_the_rules_and_say_why_when_refused(tmp_path: Path) -> None:
    """Given a case taken with the shipped config, then `case due` shows its deadlines; an extension without a
    reason and a visit before the formal reply are refused (exit 2, with why); an extension with a reason moves
    the resolve-by date and writes the complainant a progress notice; a reroute by the desk notifies the new
    department; a withdrawal closes it with the reason; nothing further is accepted."""
    setup_config(tmp_path)
    mail = tmp_path / "c.eml"
    mail.write_bytes(complaint(subject="投诉：快递延误十天仍未送达"))
    assert ingestd(tmp_path, "ingest", str(mail)).returncode == 0
    (case_no,) = export(tmp_path)
    due = ingestd(tmp_path, "case", "due", case_no)
    assert due.returncode == 0 and "first_answer" in due.stdout and "owed" in due.stdout
    refused = ingestd(tmp_path, "case", "extend", case_no, "2", " ", process=True)  # the desk's view: a process
    assert refused.returncode == 2 and "needs a reason" in refused.stderr
    early = ingestd(tmp_path, "case", "visit", case_no, "--satisfied")
    assert early.returncode == 2 and "no formal reply yet" in early.stderr
    before = export(tmp_path)[case_no]["resolve_due"]
    extended = ingestd(tmp_path, "case", "extend", case_no, "2", "等待快递公司调查结果")
    assert extended.returncode == 0, extended.stderr
    after = export(tmp_path)[case_no]
    assert after["resolve_due"] > before and after["extensions"] == 1
    progress = list((tmp_path / "var" / "outbox").glob(f"*-{case_no}-progress-*.eml"))
    assert len(progress) == 1
    notice = message_from_bytes(progress[0].read_bytes(), policy=default)
    assert notice["To"].endswith("<zhang.wei@example.com>")
    assert "等待快递公司调查结果" in notice.get_body(("plain",)).get_content()
    moved = ingestd(tmp_path, "case", "reroute", case_no, "billing", "扣费问题")
    assert moved.returncode == 0, moved.stderr
    assert export(tmp_path)[case_no]["department"] == "billing"
    assert list((tmp_path / "var" / "outbox").glob(f"*-{case_no}-notify-*.eml"))
    gone = ingestd(tmp_path, "case", "withdraw", case_no, "已私下和解")
    assert gone.returncode == 0 and "withdrawn" in gone.stdout
    final = export(tmp_path)[case_no]
    assert final["status"] == "withdrawn" and final["status_reason"] == "已私下和解"
    assert ingestd(tmp_path, "case", "close", case_no).returncode == 2


def test_the_complainants_original_messages_come_back_byte_for_byte(tmp_path: Path) -> None:
    """Given a case opened by a GBK complaint and joined by a UTF-8 follow-up, when the desk asks for the
    originals, then message 1 (default) and message 2 come back exactly as received, to a file or to standard
    output; a third does not exist (exit 1); and a stored original that was damaged or lost is refused with
    why (exit 1), never handed out as evidence."""
    setup_config(tmp_path)
    first = complaint(subject="投诉：快递延误十天仍未送达", charset="gbk")
    (tmp_path / "c.eml").write_bytes(first)
    assert ingestd(tmp_path, "ingest", str(tmp_path / "c.eml")).returncode == 0
    (case_no,) = export(tmp_path)
    follow_up = complaint(subject=f"Re: {case_no} 补充材料", body="补充：快递单号 SF1234567890。\n")
    (tmp_path / "d.eml").write_bytes(follow_up)
    assert ingestd(tmp_path, "ingest", str(tmp_path / "d.eml")).returncode == 0
    assert [m["direction"] for m in export(tmp_path)[case_no]["messages"]].count("in") == 2

    wrote = ingestd(tmp_path, "cases", "original", case_no, "--out", str(tmp_path / "one.eml"))
    assert wrote.returncode == 0 and (tmp_path / "one.eml").read_bytes() == first
    second = ingestd(tmp_path, "cases", "original", case_no, "--message", "2")
    assert second.returncode == 0 and second.stdout.encode() == follow_up
    assert ingestd(tmp_path, "cases", "original", case_no, "-m", "3").returncode == 1

    digest = hashlib.sha256(first).hexdigest()
    assert not list((tmp_path / "var" / "blobs").glob(f"??/{digest}"))  # small: kept in the register, not a file
    with sqlite3.connect(tmp_path / "var" / "ingestd.db") as db:
        db.execute("UPDATE input_bytes SET data = ? WHERE sha256 = ?", (first.replace(b"Subject", b"Subjekt"), digest))
    damaged = ingestd(tmp_path, "cases", "original", case_no)
    assert damaged.returncode == 1 and "damaged" in damaged.stderr and not damaged.stdout
    with sqlite3.connect(tmp_path / "var" / "ingestd.db") as db:
        db.execute("DELETE FROM input_bytes WHERE sha256 = ?", (digest,))
    lost = ingestd(tmp_path, "cases", "original", case_no)
    assert lost.returncode == 1 and "missing" in lost.stderr


def test_a_large_original_is_kept_as_a_file_and_checked_like_the_others(tmp_path: Path) -> None:
    """Given a complaint bigger than the register keeps (a large attachment), when taken, then its original is a
    file in the blob store, not a row; it comes back byte for byte, and once the file is damaged it is refused."""
    from ingestd.store.originals import INLINE_INPUT_BYTES

    setup_config(tmp_path)
    big = complaint(subject="投诉：附照片", attachments=[("照片.jpg", "image/jpeg", os.urandom(INLINE_INPUT_BYTES))])
    assert len(big) > INLINE_INPUT_BYTES
    (tmp_path / "big.eml").write_bytes(big)
    assert ingestd(tmp_path, "ingest", str(tmp_path / "big.eml")).returncode == 0
    (case_no,) = export(tmp_path)
    digest = hashlib.sha256(big).hexdigest()
    with sqlite3.connect(tmp_path / "var" / "ingestd.db") as db:
        assert db.execute("SELECT count(*) FROM input_bytes").fetchone() == (0,)
    wrote = ingestd(tmp_path, "cases", "original", case_no, "--out", str(tmp_path / "back.eml"))
    assert wrote.returncode == 0 and (tmp_path / "back.eml").read_bytes() == big
    (stored,) = (tmp_path / "var" / "blobs").glob(f"??/{digest}")
    stored.write_bytes(big[:-10])
    damaged = ingestd(tmp_path, "cases", "original", case_no)
    assert damaged.returncode == 1 and "damaged" in damaged.stderr and not damaged.stdout
