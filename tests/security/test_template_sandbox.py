"""Template sandbox escapes: an admin edits a message template to reach Python beyond the template.

The attack: `{{ ''.__class__.__mro__ }}`, `{{ cycler.__init__.__globals__.os }}`,
`{{ self._TemplateReference__context }}`, `{{ lipsum.__globals__['os'].popen('id').read() }}`, attribute
lookups by subscript or `attr()`, and mutating the context (`case.update(...)`). What is checked:
`ingestd check-config` reports each one as `file:line: not allowed in a template` and exits 2; at render time
(the template edited while the daemon runs) the sandbox refuses it: the complaint is parked with the
reason instead of a message going out (nothing leaks, nothing crashes, the intake takes the next input), it
goes in once the template is fixed, and a formal reply through such a template is refused with the reason.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from itertools import cycle
from pathlib import Path

import pytest
from jinja2.exceptions import SecurityError
from sqlmodel import select

from ingestd.app import App
from ingestd.cli.quarantine import retry_entry
from ingestd.config import LoadedConfig
from ingestd.config.check import check_loaded
from ingestd.store.models import QuarantineEntry
from outbound.outbox import stored_bytes
from outbound.templates import BUNDLED, RECHECK_SECONDS
from tests.conftest import make_settings
from tests.mail import complaint
from tests.outbound.conftest import events, outbox, take
from tests.test_cli import ingestd

ESCAPES = [
    "{{ ''.__class__.__mro__ }}",
    "{{ ''.__class__.__base__.__subclasses__() }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ joiner.__init__.__globals__.os }}",
    "{{ namespace.__init__.__globals__['os'].system('id') }}",
    "{{ lipsum.__globals__['os'].popen('id').read() }}",
    "{{ self._TemplateReference__context }}",
    "{{ self.__init__ }}",
    "{{ case.__class__.__init__.__globals__ }}",
    "{{ case | attr('__class__') }}",
    "{{ ''['__class__'] }}",
    "{{ '{0.__class__}'.format(case) }}",
    "{{ case.update({'case_no': 'forged'}) }}",
    "{% set _ = case.pop('case_no') %}",
]
TEMPLATES = ["zh/ack.txt", "en/ack.html", "zh/notify.subject.txt", "en/reply.txt", "zh/letter.html", "en/notify.txt",
             "zh/remind.txt"]  # text, HTML, a subject, a letter: each escape lands in one of them


def templates_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "templates"
    shutil.copytree(BUNDLED, folder)
    return folder


def check(tmp_path: Path, templates: Path) -> list[str]:
    settings = make_settings(f"sqlite:///{tmp_path}/x.db", tmp_path / "var", outbound={"templates_dir": str(templates)})
    return [str(p) for p in check_loaded(LoadedConfig(settings, None))]


def append_line(path: Path, line: str) -> int:
    """Append `line` to the template; returns its line number."""
    path.write_text(path.read_text(encoding="utf-8") + "\n" + line + "\n", encoding="utf-8")
    return path.read_text(encoding="utf-8").count("\n")


# -- moved from tests/outbound/test_replies_and_templates.py (the sandbox cases of the broken-template check) ------
@pytest.mark.parametrize(("name", "line"), [
    ("zh/ack.txt", "{{ ''.__class__.__mro__ }}"),
    ("en/letter.html", "{{ case.__class__.__init__.__globals__ }}"),
])
def test_check_config_catches_broken_templates(tmp_path: Path, name: str, line: str) -> None:
    """Given a template that escapes the sandbox, when the config is checked, then the problem is reported with
    the template's file and line."""
    folder = templates_copy(tmp_path)
    path = folder / name
    lineno = append_line(path, line)
    problems = check(tmp_path, folder)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{path}:") and "not allowed in a template" in problems[0]
    assert problems[0].split(":")[1] == str(lineno), problems[0]


def test_check_config_command_fails_on_a_sandbox_escape(tmp_path: Path) -> None:
    """Given an admin template trying `{{ ''.__class__.__mro__ }}`, when `ingestd check-config` runs, then it
    exits 2 naming the template."""
    folder = templates_copy(tmp_path)
    (folder / "zh" / "ack.txt").write_text("{{ ''.__class__.__mro__ }}\n", encoding="utf-8")
    config = tmp_path / "ingestd.toml"
    config.write_text(f'[outbound]\ntemplates_dir = "{folder}"\n', encoding="utf-8")
    done = ingestd(tmp_path, "--config", str(config), "check-config")
    assert done.returncode == 2 and f"{folder / 'zh' / 'ack.txt'}:1:" in done.stderr


# -- new -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "line"), list(zip(cycle(TEMPLATES), ESCAPES, strict=False)))
def test_every_escape_is_reported_at_its_line(tmp_path: Path, name: str, line: str) -> None:
    """Given one escape attempt appended to one template (text, HTML, subject, letter), when the config is
    checked, then it is the only problem, reported at that file and line as not allowed."""
    folder = templates_copy(tmp_path)
    path = folder / name
    lineno = append_line(path, line)
    (problem,) = check(tmp_path, folder)
    assert problem.startswith(f"{path}:{lineno}: not allowed in a template"), problem


def test_check_config_command_lists_every_escaping_template(tmp_path: Path) -> None:
    """Given four templates edited with different escapes, when `ingestd check-config` runs, then it exits 2 and
    prints each template's file and line; nothing the escapes reach (a process listing, `os`) is printed."""
    folder = templates_copy(tmp_path)
    edited = {folder / "zh" / "ack.txt": "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
              folder / "en" / "notify.txt": "{{ self._TemplateReference__context }}",
              folder / "zh" / "letter.html": "{{ lipsum.__globals__['os'].popen('id').read() }}",
              folder / "en" / "ack.subject.txt": "{{ ''.__class__.__mro__[1].__subclasses__() }}"}
    lines = {path: append_line(path, line) for path, line in edited.items()}
    config = tmp_path / "ingestd.toml"
    config.write_text(f'[outbound]\ntemplates_dir = "{folder}"\n', encoding="utf-8")
    done = ingestd(tmp_path, "--config", str(config), "check-config")
    assert done.returncode == 2, done.stderr
    for path, lineno in lines.items():
        assert f"{path}:{lineno}: not allowed in a template" in done.stderr, done.stderr
    assert "uid=" not in done.stdout + done.stderr and "<module 'os'" not in done.stdout + done.stderr


def test_an_escape_edited_in_while_running_is_refused_and_parks_the_complaint(
        make_outbound_app: Callable[..., App], sqlite_url: str, tmp_path: Path) -> None:
    """Given a running app whose acknowledgement template an admin then edits to reach `os`, when the next
    complaint comes in, then the sandbox refuses it: the complaint is parked as failed with a reason that says
    so, no acknowledgement is queued, and `take` returns (the daemon goes on); once the template is fixed, the
    parked complaint goes in with its acknowledgement on retry."""
    folder = templates_copy(tmp_path)
    app = make_outbound_app(sqlite_url, None, templates_dir=str(folder))
    first = take(app, complaint(message_id="<ok-1@example.com>"))
    assert first.status == "created" and len(outbox(app, kind="ack")) == 1
    ack = folder / "zh" / "ack.txt"
    good = ack.read_text(encoding="utf-8")
    ack.write_text(good + "{{ cycler.__init__.__globals__.os.popen('id').read() }}\n", encoding="utf-8")
    time.sleep(RECHECK_SECONDS + 0.1)  # a template's file is looked at again at most once a second
    second = take(app, complaint(message_id="<evil-2@example.com>", body="第二次投诉：快递延误。"))
    assert second.status == "quarantined" and second.stage == "respond", second
    assert "SecurityError" in (second.reason or "") and "unsafe" in (second.reason or ""), second.reason
    assert len(outbox(app, kind="ack")) == 1
    for row in outbox(app):
        text = stored_bytes(row, app.blobs).decode("utf-8", "replace")
        assert "uid=" not in text and "<module" not in text and "__globals__" not in text
    with app.db.read() as session:
        (entry,) = session.exec(select(QuarantineEntry)).all()
    assert entry.kind == "failed"
    ack.write_text(good, encoding="utf-8")
    time.sleep(RECHECK_SECONDS + 0.1)
    again = retry_entry(app, entry)
    assert again.status == "created", again
    assert len(outbox(app, kind="ack")) == 2


def test_an_escape_in_the_reply_template_refuses_the_reply(make_outbound_app: Callable[..., App], sqlite_url: str,
                                                           tmp_path: Path) -> None:
    """Given a case, and then the formal reply template edited to reach the template's context, when a formal
    reply is sent, then it is refused with the sandbox's error and nothing is queued or recorded as sent."""
    folder = templates_copy(tmp_path)
    app = make_outbound_app(sqlite_url, None, templates_dir=str(folder), acknowledge=False, notify_departments=False)
    outcome = take(app, complaint())
    append_line(folder / "zh" / "reply.txt", "{{ self._TemplateReference__context }}")
    with pytest.raises(SecurityError, match="unsafe"):
        app.outbound.reply(outcome.case_no, "经核查，问题属实。")
    assert outbox(app, kind="reply") == []
    assert events(app, outcome.case_no, "reply.sent") == []


def test_reply_command_refuses_with_one_line_not_a_traceback(make_outbound_app: Callable[..., App],
                                                              tmp_path: Path) -> None:
    """Given a case and a reply template edited to reach `os`, when `ingestd reply` runs, then it exits 1 with one
    line naming the sandbox's refusal and pointing at check-config (no traceback), and no mail is written."""
    folder = templates_copy(tmp_path)
    db = f"sqlite:///{tmp_path}/var/ingestd.db"
    app = make_outbound_app(db, None, data_dir=tmp_path / "var", templates_dir=str(folder), acknowledge=False,
                            notify_departments=False)
    outcome = take(app, complaint())
    app.close()
    append_line(folder / "zh" / "reply.txt", "{{ lipsum.__globals__['os'].popen('id').read() }}")
    config = tmp_path / "ingestd.toml"
    config.write_text(f'[store]\ndatabase_url = "{db}"\ndata_dir = "{tmp_path / "var"}"\n'
                      f'[outbound]\ntemplates_dir = "{folder}"\n', encoding="utf-8")
    body = tmp_path / "reply.txt"
    body.write_text("经核查，问题属实。", encoding="utf-8")
    # a real process: "one line" counts everything the user sees on stderr, worker processes and C code included
    done = ingestd(tmp_path, "--config", str(config), "reply", outcome.case_no, "--file", str(body), process=True)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr and len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert "SecurityError" in done.stderr and "check-config" in done.stderr and "uid=" not in done.stderr
    assert not list((tmp_path / "var" / "outbox").glob("*.eml"))
