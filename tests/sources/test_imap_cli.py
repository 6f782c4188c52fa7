"""The mailbox commands as a user runs them (`mailboxes check`, `ingest imap://NAME`), and the TLS modes,
against a real Dovecot."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from ingestd.app import App
from ingestd.daemon import run_once
from tests.servers.dovecot import DovecotServer
from tests.sources.test_imap import ONE_WORKER, case_count, messages
from tests.test_cli import ingestd


def write_config(tmp_path: Path, mailboxes: list[dict[str, object]]) -> Path:
    lines = ['[intake]', 'parse_workers = 1', '']
    for mb in mailboxes:
        lines.append("[[mailboxes]]")
        for key, value in mb.items():
            if isinstance(value, dict):
                inner = ", ".join(f"{k} = {json.dumps(v)}" for k, v in value.items())
                lines.append(f"{key} = {{ {inner} }}")
            else:
                lines.append(f"{key} = {json.dumps(value)}")
        lines.append("")
    config = tmp_path / "ingestd.toml"
    config.write_text("\n".join(lines))
    return config


def test_mailboxes_check_reports_without_taking(dovecot: DovecotServer, tmp_path: Path) -> None:
    """Given a mailbox with 3 messages in INBOX and a missing folder, and a mailbox with a wrong password,
    when `ingestd mailboxes check` runs, then it shows the capabilities (IDLE, MOVE, UIDPLUS), INBOX's
    counts and "would take 3", the missing folder, and the refused login, exits 1; and the messages are
    still in INBOX, unflagged, with no Processed folder made."""
    user, bad = dovecot.add_user(), dovecot.add_user()
    dovecot.append(user, "INBOX", messages(3, "check"))
    bad_cfg = dovecot.mailbox_config(bad, "bad")
    (dovecot.root / f"pw-{bad}").write_text("wrong")
    config = write_config(tmp_path, [dovecot.mailbox_config(user, "desk", folders=["INBOX", "Nope"]), bad_cfg])

    out = ingestd(tmp_path, "--config", str(config), "mailboxes", "check", timeout=120, process=True)

    assert out.returncode == 1, out.stdout + out.stderr
    text = out.stdout
    assert "desk" in text and "login OK" in text and "IDLE yes" in text and "MOVE yes" in text
    assert "UIDPLUS yes" in text
    inbox = next(line for line in text.splitlines() if line.strip().startswith("INBOX"))
    assert inbox.split()[1:3] == ["3", "3"] and " 3 " in inbox and "never synced" in inbox
    assert "folder does not exist" in text
    assert "bad" in text and "FAILED" in text and "login refused" in text
    assert dovecot.count(user, "INBOX") == 3 and dovecot.count(user, "Processed") == 0
    assert not any(rb"\Seen" in f for f in dovecot.flags(user, "INBOX"))


def test_ingest_imap_name_takes_the_mailbox_once(dovecot: DovecotServer, tmp_path: Path) -> None:
    """Given a configured mailbox with 4 messages, when `ingestd ingest imap://desk` runs, then it reports
    4 created, the folder is emptied into Processed, and running it again takes nothing; an unknown
    mailbox name is a usage error."""
    user = dovecot.add_user()
    dovecot.append(user, "INBOX", messages(4, "cli"))
    config = write_config(tmp_path, [dovecot.mailbox_config(user, "desk")])

    first = ingestd(tmp_path, "--config", str(config), "ingest", "imap://desk", timeout=120)
    assert first.returncode == 0, first.stderr
    assert "created: 4" in first.stdout
    assert dovecot.count(user, "INBOX") == 0 and dovecot.count(user, "Processed") == 4
    again = ingestd(tmp_path, "--config", str(config), "ingest", "imap://desk", timeout=120)
    assert again.returncode == 0 and "inputs: 0" in again.stdout
    unknown = ingestd(tmp_path, "--config", str(config), "ingest", "imap://nope", timeout=120)
    assert unknown.returncode == 2 and "no mailbox named nope" in unknown.stderr


def test_implicit_tls_and_starttls(dovecot: DovecotServer, make_app: Callable[..., App], sqlite_url: str) -> None:
    """Given the server's self-signed certificate as `ca_file`, when one mailbox connects with implicit TLS
    and another with STARTTLS, then both log in (certificate checked) and take their messages."""
    assert dovecot.cert is not None and dovecot.tls_port, "openssl is needed to make the test certificate"
    a, b = dovecot.add_user(), dovecot.add_user()
    dovecot.append(a, "INBOX", messages(1, "tls"))
    dovecot.append(b, "INBOX", messages(1, "starttls"))
    app = make_app(sqlite_url, intake=ONE_WORKER, mailboxes=[
        dovecot.mailbox_config(a, "tls", tls="tls", port=dovecot.tls_port, ca_file=str(dovecot.cert)),
        dovecot.mailbox_config(b, "starttls", tls="starttls", ca_file=str(dovecot.cert)),
    ])
    assert run_once(app) == {"created": 2}
    assert case_count(app) == 2
    assert all(not mb.faults for mb in app.mailboxes)
