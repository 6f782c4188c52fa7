"""Formal replies (e-mail and PDF letter) and the template checks of `ingestd check-config`."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy import update
from sqlmodel import select

from ingestd.app import App
from ingestd.config import LoadedConfig
from ingestd.config.check import check_loaded
from ingestd.store.models import Attachment, Case
from outbound.templates import BUNDLED
from tests.conftest import make_settings, need
from tests.mail import complaint
from tests.outbound.conftest import events, get_case, take
from tests.servers.smtp import SmtpServer
from tests.test_cli import ingestd

REPLY_ZH = "经核查，快递公司确实延误了您的包裹。\n\n快递公司已同意赔偿人民币二百元，款项将于七日内退回。"


def pdf_text(path: Path) -> str:
    need(shutil.which("pdftotext") is not None, "pdftotext not installed (apt-get install poppler-utils)")
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout


def as_letter_without_email(app: App, case_no: str) -> None:
    with app.db.write() as session:
        session.execute(update(Case).where(Case.case_no == case_no).values(channel="letter", complainant_email=None))  # type: ignore[arg-type]


def test_formal_reply_by_email_threads_onto_the_complaint(make_outbound_app: Callable[..., App], sqlite_url: str,
                                                         smtp: SmtpServer) -> None:
    """Given an e-mailed Chinese complaint, when a formal reply is sent, then the complainant receives it in
    Chinese (case number, salutation, body, signature), as an answer to their message, and the case records
    `reply.sent` by e-mail; sending the same text again sends nothing."""
    app = make_outbound_app(sqlite_url, smtp, acknowledge=False, notify_departments=False)
    outcome = take(app, complaint(message_id="<orig-9@example.com>"))
    result = app.outbound.reply(outcome.case_no, REPLY_ZH)
    assert result.channels == ["email"] and result.letter is None
    app.outbound.drain()
    (mail,) = smtp.to("zhang.wei@example.com")
    msg = mail.message
    assert outcome.case_no in msg["Subject"] and msg["In-Reply-To"] == "<orig-9@example.com>"
    assert msg["Auto-Submitted"] is None  # written by a person
    text = msg.get_body(("plain",)).get_content()
    assert "张伟，您好" in text and "二百元" in text and "华东消费者投诉受理中心" in text
    (sent,) = events(app, outcome.case_no, "reply.sent")
    assert sent.detail["channels"] == ["email"]
    again = app.outbound.reply(outcome.case_no, REPLY_ZH)
    assert again.already
    app.outbound.drain()
    assert len(smtp.to("zhang.wei@example.com")) == 1
    assert len(events(app, outcome.case_no, "reply.sent")) == 1


def test_letter_reply_is_a_pdf_with_case_number_and_chinese_text(make_outbound_app: Callable[..., App],
                                                                 sqlite_url: str, tmp_path: Path) -> None:
    """Given a complaint that came by letter with no e-mail address, when a formal reply is sent, then a PDF
    letter with the case number and the Chinese text is written to the letters folder and attached to the
    case, the case records `reply.sent` by letter, and no e-mail is queued."""
    app = make_outbound_app(sqlite_url, None, acknowledge=False, notify_departments=False)
    outcome = take(app, complaint())
    as_letter_without_email(app, outcome.case_no)
    result = app.outbound.reply(outcome.case_no, REPLY_ZH)
    assert result.channels == ["letter"] and result.outbox_id is None
    assert result.letter is not None and result.letter.parent == tmp_path / "var" / "letters"
    text = pdf_text(result.letter)
    flat = "".join(text.split())
    assert outcome.case_no in flat
    assert "快递公司已同意赔偿人民币二百元" in flat and "张伟" in flat and "华东消费者投诉受理中心" in flat
    with app.db.read() as session:
        case = get_case(app, outcome.case_no)
        (att,) = session.exec(select(Attachment).where(Attachment.case_id == case.id)).all()
    assert att.content_type == "application/pdf" and app.blobs.read(att.sha256) == result.letter.read_bytes()
    (sent,) = events(app, outcome.case_no, "reply.sent")
    assert sent.detail["channels"] == ["letter"] and sent.detail["attachment_id"] == att.id


def test_reply_command(make_outbound_app: Callable[..., App], tmp_path: Path) -> None:
    """Given a case, when `ingestd reply CASE --file reply.txt` runs, then it says how the reply went out;
    an unknown case number exits 1 with the reason."""
    db = f"sqlite:///{tmp_path}/var/ingestd.db"
    app = make_outbound_app(db, None, data_dir=tmp_path / "var")
    outcome = take(app, complaint())
    app.close()
    config = tmp_path / "ingestd.toml"
    config.write_text(f'[store]\ndatabase_url = "{db}"\ndata_dir = "{tmp_path / "var"}"\n', encoding="utf-8")
    body = tmp_path / "reply.txt"
    body.write_text(REPLY_ZH, encoding="utf-8")
    done = ingestd(tmp_path, "--config", str(config), "reply", outcome.case_no, "--file", str(body))
    assert done.returncode == 0, done.stderr
    assert "reply sent as e-mail" in done.stdout
    assert any("-reply-" in p.name for p in (tmp_path / "var" / "outbox").glob("*.eml"))
    missing = ingestd(tmp_path, "--config", str(config), "reply", "TS-209901-00001", "--file", str(body))
    assert missing.returncode == 1 and "no case TS-209901-00001" in missing.stderr


def _templates_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "templates"
    shutil.copytree(BUNDLED, folder)
    return folder


def _check(tmp_path: Path, templates: Path) -> list[str]:
    settings = make_settings(f"sqlite:///{tmp_path}/x.db", tmp_path / "var", outbound={"templates_dir": str(templates)})
    return [str(p) for p in check_loaded(LoadedConfig(settings, None))]


def test_shipped_templates_pass_the_check(tmp_path: Path) -> None:
    """Given the templates shipped in config/templates, when checked, then there is no problem."""
    assert _check(tmp_path, _templates_copy(tmp_path)) == []


@pytest.mark.parametrize(("name", "line", "expected"), [  # sandbox escapes: tests/security/test_template_sandbox.py
    ("zh/notify.txt", "{{ complainant_nmae }}", "'complainant_nmae' is undefined"),
    ("en/ack.subject.txt", "{{ case.case_number }}", "has no attribute 'case_number'"),
    ("zh/reply.txt", "{% for x in %}", "template syntax"),
])
def test_check_config_catches_broken_templates(tmp_path: Path, name: str, line: str, expected: str) -> None:
    """Given a template that names an undefined variable or attribute, or does not parse, when the
    config is checked, then the problem is reported with the template's file and line."""
    folder = _templates_copy(tmp_path)
    path = folder / name
    path.write_text(path.read_text(encoding="utf-8") + "\n" + line + "\n", encoding="utf-8")
    problems = _check(tmp_path, folder)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{path}:") and expected in problems[0]
    lines = path.read_text(encoding="utf-8").count("\n")
    assert problems[0].split(":")[1] == str(lines), problems[0]


def test_missing_template_is_reported(tmp_path: Path) -> None:
    """Given a language folder without its letter template, when checked, then it is reported missing."""
    folder = _templates_copy(tmp_path)
    (folder / "en" / "letter.html").unlink()
    problems = _check(tmp_path, folder)
    assert len(problems) == 1 and "template missing (en/letter.html)" in problems[0]


def test_an_edited_template_is_used_once_its_file_is_looked_at_again(tmp_path: Path) -> None:
    """Each template's file is looked at again at most once a `recheck_seconds`, not on every render: an admin's
    edit shows within that time, and renders between checks make no system call for it."""
    import os

    from outbound.templates import Templates

    (tmp_path / "zh").mkdir()
    page = tmp_path / "zh" / "ack.txt"
    page.write_text("旧 {{ n }}", encoding="utf-8")
    now = [100.0]
    templates = Templates(tmp_path, recheck_seconds=1.0, clock=lambda: now[0])
    assert templates.render("zh", "ack.txt", {"n": 1}) == "旧 1"

    page.write_text("新 {{ n }}", encoding="utf-8")
    os.utime(page, (page.stat().st_atime, page.stat().st_mtime + 5))  # a later mtime, whatever the clock's grain
    stats: list[str] = []
    real_stat = os.stat

    def counting_stat(path: object, *args: object, **kwargs: object) -> os.stat_result:
        stats.append(str(path))
        return real_stat(path, *args, **kwargs)  # type: ignore[arg-type]

    os.stat = counting_stat  # type: ignore[assignment]
    try:
        now[0] += 0.5
        assert templates.render("zh", "ack.txt", {"n": 2}) == "旧 2"  # within the second: the cached template
        assert not [p for p in stats if p.endswith("ack.txt")]
        now[0] += 0.6
        assert templates.render("zh", "ack.txt", {"n": 3}) == "新 3"  # looked at again: the edit shows
    finally:
        os.stat = real_stat  # type: ignore[assignment]
    now[0] += 0.1
    assert templates.render("zh", "ack.txt", {"n": 4}) == "新 4"


def test_templates_rendered_together_give_what_each_gives_alone_and_fail_the_same(tmp_path: Path) -> None:
    """Given a message's templates sharing one context (one of them setting a variable of its own, one using a
    global), when rendered together, then each is what it is rendered alone; and a template that names a
    missing variable fails together as alone, naming its file and line."""
    import traceback

    from jinja2 import UndefinedError

    from outbound.templates import Templates

    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "a.txt").write_text("{% set n = 9 %}{{ case.no }} {{ n }}", encoding="utf-8")
    (tmp_path / "en" / "b.html").write_text("<p>{{ case.name }} {{ n }}</p>{% for i in range(2) %}{{ i }}{% endfor %}",
                                            encoding="utf-8")
    (tmp_path / "en" / "bad.txt").write_text("ok\n{{ case.missing }}", encoding="utf-8")
    templates = Templates(tmp_path)
    context = {"case": {"no": "C-1", "name": "<Wang>"}, "n": 1}
    together = templates.render_each("en", ["a.txt", "b.html"], context)
    assert together == [templates.render("en", "a.txt", context), templates.render("en", "b.html", context)]
    assert together == ["C-1 9", "<p>&lt;Wang&gt; 1</p>01"]  # b.html does not see a.txt's n; it is escaped
    for render in (lambda: templates.render_each("en", ["a.txt", "bad.txt"], context),
                   lambda: templates.render("en", "bad.txt", context)):
        with pytest.raises(UndefinedError) as failed:
            render()
        frames = traceback.extract_tb(failed.value.__traceback__)
        assert any(frame.filename.endswith("bad.txt") and frame.lineno == 2 for frame in frames)
