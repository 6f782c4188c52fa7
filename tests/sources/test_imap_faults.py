"""IMAP faults against a real Dovecot: each gives one clear log line and a backoff, the other mailboxes
go on, and nothing is lost or taken twice once the fault is gone."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import pytest

from ingestd.app import App
from ingestd.daemon import run_once
from ingestd.sources.imap_conn import Backoff, ImapFault
from tests.mail import complaint
from tests.servers.dovecot import DovecotServer, FaultyProxy, captured_logs, free_port, running_daemon, wait_until
from tests.sources.test_imap import ONE_WORKER, case_count, messages


@pytest.fixture
def proxy(dovecot: DovecotServer) -> Iterator[FaultyProxy]:
    p = FaultyProxy(dovecot.port)
    yield p
    p.close()


def errors_for(records: list[dict], source: str) -> list[str]:
    return [r["message"] for r in records if r["level"].name == "ERROR" and r["extra"].get("source") == source]


def test_server_down_timeout_and_missing_folder_each_log_one_line(dovecot: DovecotServer, proxy: FaultyProxy,
                                                                  make_app: Callable[..., App],
                                                                  sqlite_url: str) -> None:
    """Given four mailboxes: one on a port where nothing listens, one on a server that accepts and never
    answers (1 s timeout), one watching INBOX and a folder that does not exist, when one pass runs, then
    each fault is one ERROR line naming its source and cause, and the healthy INBOX is still taken."""
    good = dovecot.add_user()
    dovecot.append(good, "INBOX", messages(2, "ok"))
    proxy.blackhole = True
    app = make_app(sqlite_url, intake=ONE_WORKER, mailboxes=[
        dovecot.mailbox_config(good, "down", port=free_port()),
        dovecot.mailbox_config(good, "hung", port=proxy.port, timeout_seconds=1),
        dovecot.mailbox_config(good, "desk", folders=["INBOX", "Nope"]),
    ])
    started = time.monotonic()
    with captured_logs() as logs:
        counts = run_once(app)
    assert time.monotonic() - started < 10
    assert counts == {"created": 2}
    down, hung = errors_for(logs, "imap:down/INBOX"), errors_for(logs, "imap:hung/INBOX")
    missing, inbox = errors_for(logs, "imap:desk/Nope"), errors_for(logs, "imap:desk/INBOX")
    assert len(down) == 1 and "cannot reach 127.0.0.1" in down[0], down
    assert len(hung) == 1 and "did not answer within 1 s" in hung[0], hung
    assert len(missing) == 1 and "folder Nope does not exist" in missing[0], missing
    assert inbox == []


def test_connection_dropped_mid_fetch_loses_nothing(dovecot: DovecotServer, proxy: FaultyProxy,
                                                    make_app: Callable[..., App], sqlite_url: str) -> None:
    """Given 40 complaints fetched in batches of 10 through a proxy that cuts the connection part-way
    through the message bodies, when a pass runs, then it logs one "dropped" line and whatever it
    committed stays committed; and when the connection is healthy again, the next pass takes the rest:
    40 cases, one each, and INBOX empty."""
    user = dovecot.add_user()
    scan = bytes(range(256)) * 64  # a 16 KiB attachment each, so the FETCH replies are most of the traffic
    msgs = [complaint(subject=f"drop {i}", attachments=[("scan.bin", "application/octet-stream", scan)])
            for i in range(40)]
    dovecot.append(user, "INBOX", msgs)
    app = make_app(sqlite_url, intake=ONE_WORKER,
                   mailboxes=[dovecot.mailbox_config(user, port=proxy.port, batch_size=10)])
    proxy.cut_after = sum(map(len, msgs)) * 15 // 40  # half-way through the second FETCH batch
    with captured_logs() as logs:
        first = run_once(app)
    errors = errors_for(logs, "imap:desk/INBOX")
    assert proxy.cuts == 1
    assert len(errors) == 1 and "dropped" in errors[0], errors
    assert first == {"created": 10}  # the first batch, committed; its move failed with the connection
    assert dovecot.count(user, "INBOX") == 40

    proxy.cut_after = None
    second = run_once(app)
    assert second == {"duplicate": 10, "created": 30}
    assert case_count(app) == 40
    assert dovecot.count(user, "INBOX") == 0 and dovecot.count(user, "Processed") == 40


def test_wrong_password_one_error_and_long_backoff(dovecot: DovecotServer, make_app: Callable[..., App],
                                                   sqlite_url: str) -> None:
    """Given the daemon with a mailbox whose password is wrong (polling every 0.2 s) beside a healthy one,
    when it runs for 4 s, then the bad one logs exactly one "login refused" ERROR and tries to log in
    once (no tight loop: the next try is minutes away), while the healthy one's message is taken."""
    bad, good = dovecot.add_user(), dovecot.add_user()
    dovecot.append(good, "INBOX", messages(1, "healthy"))
    bad_cfg = dovecot.mailbox_config(bad, "bad", poll_seconds=0.2)
    (dovecot.root / f"pw-{bad}").write_text("not-the-password")
    app = make_app(sqlite_url, intake=ONE_WORKER,
                   mailboxes=[bad_cfg, dovecot.mailbox_config(good, "good", poll_seconds=0.2)])
    with captured_logs() as logs, running_daemon(app):
        assert wait_until(lambda: case_count(app) == 1, 10)
        time.sleep(4)
        backoff = app.mailboxes[0].folders[0].backoff
    errors = errors_for(logs, "imap:bad/INBOX")
    assert len(errors) == 1 and "login refused" in errors[0] and bad in errors[0], errors
    assert backoff.remaining() > 60
    attempts = [line for line in dovecot.log_tail(2000).splitlines() if f"user=<{bad}>" in line]
    assert len(attempts) == 1, attempts


def test_dovecot_restart_while_running(dovecot: DovecotServer, make_app: Callable[..., App],
                                       sqlite_url: str) -> None:
    """Given the daemon running (IDLE, polling every second), when Dovecot is stopped and started again on
    the same port, then messages appended after the restart are taken within seconds, one case each."""
    user = dovecot.add_user()
    dovecot.append(user, "INBOX", messages(1, "before"))
    app = make_app(sqlite_url, intake=ONE_WORKER, mailboxes=[dovecot.mailbox_config(user, poll_seconds=1)])
    with running_daemon(app):
        assert wait_until(lambda: case_count(app) == 1, 15)
        dovecot.restart()
        dovecot.append(user, "INBOX", messages(3, "after"))
        assert wait_until(lambda: case_count(app) == 4, 30)
        assert wait_until(lambda: dovecot.count(user, "INBOX") == 0, 10)
    assert dovecot.count(user, "Processed") == 4


def test_backoff_grows_with_jitter_and_waits_long_after_login_refused() -> None:
    """Given repeated connection faults, the waits grow (with jitter, capped); a refused login waits at
    least three quarters of the configured login backoff; success resets it."""
    b = Backoff(base=1, cap=60, login_wait=300)
    waits = [b.failure(ImapFault("unreachable", "x")) for _ in range(10)]
    assert 0.75 <= waits[0] <= 1 and waits[3] >= 6 and all(w <= 60 for w in waits) and waits[-1] >= 45
    b.success()
    assert b.ready()
    assert b.failure(ImapFault("login", "x")) >= 225
    assert not b.ready()


def test_oauth2_token_command_runs_at_login_and_credential_faults_are_clear(
        dovecot: DovecotServer, make_app: Callable[..., App], sqlite_url: str, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Given a mailbox whose XOAUTH2 token comes from a command (this Dovecot has no OAuth2 set up, so it
    refuses the token), one whose password env var is unset, and one whose token command fails, when a
    pass runs, then the token command has run and its login is "refused", and the other two each say the
    credential could not be read (the failing command with its exit status); no secret is logged."""
    user = dovecot.add_user()
    ran = tmp_path / "token-command-ran"
    app = make_app(sqlite_url, intake=ONE_WORKER, mailboxes=[
        {**dovecot.mailbox_config(user, "oauth"), "password": None,
         "oauth2_token": {"command": f"touch {ran}; printf s3cr3t-token"}},
        {**dovecot.mailbox_config(user, "noenv"), "password": {"env": "INGESTD_TEST_SURELY_UNSET"}},
        {**dovecot.mailbox_config(user, "badcmd"), "password": None,
         "oauth2_token": {"command": "echo no token here >&2; exit 3"}},
    ])
    with captured_logs() as logs:
        assert run_once(app) == {}
    oauth, noenv = errors_for(logs, "imap:oauth/INBOX"), errors_for(logs, "imap:noenv/INBOX")
    badcmd = errors_for(logs, "imap:badcmd/INBOX")
    assert ran.exists()
    assert len(oauth) == 1 and "login refused" in oauth[0], oauth
    assert len(noenv) == 1 and "cannot read the credential" in noenv[0] and "INGESTD_TEST_SURELY_UNSET" in noenv[0]
    assert len(badcmd) == 1 and "exited with 3" in badcmd[0] and "no token here" in badcmd[0], badcmd
    assert not any("s3cr3t" in r["message"] for r in logs)
