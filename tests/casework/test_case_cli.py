"""`ingestd case ...` as the complaint desk uses it."""

from __future__ import annotations

import json
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
