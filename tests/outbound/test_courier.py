"""The SMTP courier (`outbound.courier`): a kill of the daemon cannot land between the server's 250 and
the sent journal's line.

A stand-in for the daemon (a real process in its own process group) sends one message to aiosmtpd,
which takes it and holds its 250. The stand-in's whole group is SIGKILLed in that moment, as the crash
harness does; then the server answers. With the courier, the message is in the sent journal (so a
restarted sender marks it sent instead of sending it again) and the courier has exited. With the SMTP
client in the daemon's own process, the same kill leaves no line: the moment the courier closes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace

import pytest

import outbound.courier as courier_module
from outbound.courier import CourierTransport
from outbound.journal import SentJournal, journal_key
from outbound.transport import PermanentFailure, SmtpEndpoint, TemporaryFailure
from tests.mail import complaint
from tests.servers.dovecot import wait_until
from tests.servers.smtp import SmtpServer, self_signed_cert

QUEUED_AT = datetime(2026, 11, 2, 1, 30, tzinfo=UTC)
KEY = "ack:C-20261102-0001:1"

STAND_IN = textwrap.dedent("""
    import sys
    from datetime import UTC, datetime
    from pathlib import Path
    from types import SimpleNamespace

    from outbound.courier import CourierTransport
    from outbound.journal import SentJournal, journal_key
    from outbound.transport import SmtpEndpoint, SmtpTransport

    mode, host, port, journal_path, raw_path = sys.argv[1:]
    endpoint = SmtpEndpoint(host, int(port), "plain", None, True, None, 10.0, None)
    row = SimpleNamespace(id=1, idempotency_key=%(key)r, created_at=datetime(2026, 11, 2, 1, 30, tzinfo=UTC),
                          from_addr="complaints@ingestd.example", to_addr="p.one@example.com")
    raw = Path(raw_path).read_bytes()
    if mode == "courier":
        transport = CourierTransport(endpoint, lambda: None, Path(journal_path))
        transport.send(row, raw)
    else:  # what the sender does with a transport in its own process: send, then note the 250
        ref = SmtpTransport(endpoint).send(row, raw)
        SentJournal(Path(journal_path)).record(journal_key(row), ref, datetime.now(UTC))
""") % {"key": KEY}


def _row(to: str = "p.one@example.com") -> SimpleNamespace:
    """A row as the sender has it; each recipient its own outbox key."""
    key = KEY if to == "p.one@example.com" else f"{KEY}:{to}"
    return SimpleNamespace(id=1, idempotency_key=key, created_at=QUEUED_AT, from_addr="complaints@ingestd.example",
                           to_addr=to)


def _endpoint(server: SmtpServer) -> SmtpEndpoint:
    return SmtpEndpoint(server.host, server.port, "plain", None, True, None, 10.0, None)


def _couriers_of(pid: int) -> list[int]:
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")  # an orphan's zombie, not yet reaped, has done its work


@pytest.mark.parametrize("mode", ["courier", "in-process"])
def test_a_daemon_killed_while_the_server_holds_its_250_leaves_the_message_in_the_sent_journal(
        mode: str, tmp_path: Path) -> None:
    """Given a message the server has taken but not yet answered, when the sending daemon's process group
    is SIGKILLed and then the server says 250, then with the courier the message is in the sent journal
    and the courier has exited; with the SMTP client in the daemon's process, it is not (the old window)."""
    server = SmtpServer(hold=threading.Event())
    server.start()
    journal_path, raw_path = tmp_path / "sent.journal", tmp_path / "message.eml"
    raw_path.write_bytes(complaint(sender="Person One <p.one@example.com>", subject="投诉 courier"))
    stand_in = subprocess.Popen([sys.executable, "-c", STAND_IN, mode, server.host, str(server.port),
                                 str(journal_path), str(raw_path)], start_new_session=True)
    try:
        assert server.holding.wait(30), "the message never reached the server"
        couriers = _couriers_of(stand_in.pid)
        os.killpg(stand_in.pid, signal.SIGKILL)
        stand_in.wait(timeout=10)
        assert server.hold is not None
        server.hold.set()  # the 250 goes out now, to whoever is still listening
        if mode == "courier":
            assert len(couriers) == 1
            assert wait_until(lambda: SentJournal(journal_path).accepted(journal_key(_row())) is not None, 15)
            assert wait_until(lambda: not _alive(couriers[0]), 15), "the courier outlived its message"
        else:
            assert couriers == []
            assert not wait_until(lambda: journal_path.exists(), 2)  # the 250 reached no one
        assert len(server.messages) == 1
    finally:
        if stand_in.poll() is None:
            os.killpg(stand_in.pid, signal.SIGKILL)
        server.stop()


def test_the_courier_reports_each_outcome_and_stops_when_asked(smtp: SmtpServer, tmp_path: Path) -> None:
    """Given a courier, when it delivers one message, is refused another for good and for now, and is
    then stopped, then the sender sees the reference, a PermanentFailure and a TemporaryFailure in turn,
    the accepted message alone is in the journal, and the process has exited with 0."""
    journal_path = tmp_path / "sent.journal"
    transport = CourierTransport(_endpoint(smtp), lambda: None, journal_path)
    raw = complaint(sender="Person One <p.one@example.com>", subject="投诉 outcomes")
    try:
        assert transport.send(_row(), raw) == f"smtp {smtp.host}:{smtp.port}"
        pid = transport.pid
        assert pid is not None
        smtp.answer("rcpt", "550 5.1.1 no such user", times=1)
        with pytest.raises(PermanentFailure, match="550"):
            transport.send(_row("gone@example.com"), raw)
        smtp.answer("data", "451 4.3.0 try later", times=1)
        with pytest.raises(TemporaryFailure, match="451"):
            transport.send(_row("later@example.com"), raw)
        assert transport.pid == pid  # one process for all three
        journal = SentJournal(journal_path)
        assert journal.accepted(journal_key(_row())) is not None
        assert journal.accepted(journal_key(_row("later@example.com"))) is None
        assert journal_path.read_bytes().count(b"\n") == 1
    finally:
        smtp.clear_answers()
        transport.stop()
    assert transport.pid is None and not _alive(pid)
    assert len(smtp.messages) == 1


def test_a_courier_gone_between_messages_is_replaced_and_one_killed_mid_message_is_a_retry(
        tmp_path: Path) -> None:
    """Given a courier killed between two messages, when the next is sent, then a new courier sends it;
    given a courier killed while the server holds its 250, then the sender hears a temporary failure
    naming the courier (the message waits for a retry: the moment that is left, see the module)."""
    server = SmtpServer(hold=threading.Event())
    server.start()
    transport = CourierTransport(_endpoint(server), lambda: None, tmp_path / "sent.journal")
    raw = complaint(sender="Person One <p.one@example.com>", subject="投诉 replaced")
    assert server.hold is not None
    server.hold.set()
    try:
        transport.send(_row(), raw)
        first = transport.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        assert wait_until(lambda: not _alive(first), 10)
        transport.send(_row("two@example.com"), raw)
        second = transport.pid
        assert second not in (None, first)

        server.hold.clear()
        server.holding.clear()
        outcome: list[BaseException | str] = []
        sending = threading.Thread(target=lambda: _outcome(outcome, transport, _row("three@example.com"), raw))
        sending.start()
        assert server.holding.wait(30)
        os.kill(second, signal.SIGKILL)  # type: ignore[arg-type]
        server.hold.set()
        sending.join(timeout=30)
        assert len(outcome) == 1 and isinstance(outcome[0], TemporaryFailure), outcome
        assert "courier" in str(outcome[0]) and outcome[0].connection
        assert transport.pid is None  # the broken courier is not asked again
    finally:
        transport.stop()
        server.stop()
    assert [m.rcpt_tos for m in server.messages] == [["p.one@example.com"], ["two@example.com"],
                                                     ["three@example.com"]]


def test_a_new_courier_logs_in_before_it_sends(tmp_path: Path) -> None:
    """Given a relay that requires login over STARTTLS and a courier that died between two messages of a
    batch, when the next message is sent, then the new courier logs in again and delivers it (a courier
    started without the password would be refused with 530, for good)."""
    server = SmtpServer(tls="starttls")
    server.start()
    endpoint = SmtpEndpoint(server.host, server.port, "starttls", self_signed_cert()[0], True, server.username,
                            10.0, None)
    asked: list[int] = []

    def password() -> str:
        asked.append(1)
        return server.password

    transport = CourierTransport(endpoint, password, tmp_path / "sent.journal")
    raw = complaint(sender="Person One <p.one@example.com>", subject="投诉 login")
    try:
        transport.send(_row(), raw)
        transport.send(_row("two@example.com"), raw)  # the same connection: no second login
        assert len(asked) == 1 and server.logins == [server.username]
        first = transport.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        assert wait_until(lambda: not _alive(first), 10)
        transport.send(_row("three@example.com"), raw)
    finally:
        transport.stop()
        server.stop()
    assert len(asked) == 2 and server.logins == [server.username] * 2
    assert [m.rcpt_tos for m in server.messages] == [["p.one@example.com"], ["two@example.com"],
                                                     ["three@example.com"]]


def test_a_courier_slower_than_every_timeout_is_left_to_finish_its_message(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Given a courier whose server holds the 250 past the sender's patience, when the sender gives up on
    it, then the sender hears a temporary failure, but the courier is not killed: once the server answers,
    the message is in the sent journal (so the retry marks it sent) and the courier exits."""
    monkeypatch.setattr(courier_module, "STEPS_PER_MESSAGE", 0)
    monkeypatch.setattr(courier_module, "ANSWER_SLACK_SECONDS", 1.0)
    server = SmtpServer(hold=threading.Event())
    server.start()
    journal_path = tmp_path / "sent.journal"
    transport = CourierTransport(_endpoint(server), lambda: None, journal_path)
    raw = complaint(sender="Person One <p.one@example.com>", subject="投诉 slow")
    try:
        transport._running()
        slow = transport.pid
        assert slow is not None
        with pytest.raises(TemporaryFailure, match="left to finish"):
            transport.send(_row(), raw)
        assert _alive(slow) and transport.pid is None
        assert server.hold is not None
        server.hold.set()
        assert wait_until(lambda: SentJournal(journal_path).accepted(journal_key(_row())) is not None, 15)
        assert wait_until(lambda: not _alive(slow), 15)
    finally:
        transport.stop()
        server.stop()
    assert len(server.messages) == 1


def _outcome(into: list[BaseException | str], transport: CourierTransport, row: SimpleNamespace, raw: bytes) -> None:
    try:
        into.append(transport.send(row, raw))
    except Exception as exc:
        into.append(exc)


def test_a_courier_that_cannot_start_is_a_retry_and_the_next_message_starts_one(
        smtp: SmtpServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Given a daemon out of processes or descriptors, when a message is sent, then the sender hears a
    temporary failure that holds the batch (as for an unreachable server); once a process can be started
    again, the next message goes through a courier."""
    transport = CourierTransport(_endpoint(smtp), lambda: None, tmp_path / "sent.journal")
    raw = complaint(sender="Person One <p.one@example.com>", subject="投诉 no process")
    real_popen = subprocess.Popen

    def no_process(*_: object, **__: object) -> subprocess.Popen[bytes]:
        raise OSError(24, "Too many open files")

    monkeypatch.setattr(courier_module.subprocess, "Popen", no_process)
    try:
        with pytest.raises(TemporaryFailure, match="did not start: OSError") as refused:
            transport.send(_row(), raw)
        assert refused.value.connection and transport.pid is None
        monkeypatch.setattr(courier_module.subprocess, "Popen", real_popen)
        transport.send(_row(), raw)
        assert transport.pid is not None
    finally:
        transport.stop()
    assert [m.rcpt_tos for m in smtp.messages] == [["p.one@example.com"]]


def test_a_failing_password_command_holds_the_batch_without_echoing_the_command(tmp_path: Path) -> None:
    """Given a login whose password command fails, when a message is sent, then the sender hears that the
    server cannot be reached because the password command failed, a temporary failure that holds the
    batch, and the command line is not in the text (it would land in every waiting row's last error)."""
    def failing_command() -> str:
        raise subprocess.CalledProcessError(1, "vault read secret/smtp-token --field=token")

    endpoint = SmtpEndpoint("127.0.0.1", 2525, "plain", None, True, "ingestd", 10.0, None)
    transport = CourierTransport(endpoint, failing_command, tmp_path / "sent.journal")
    try:
        with pytest.raises(TemporaryFailure) as refused:
            transport.send(_row(), b"Subject: x\r\n\r\nx\r\n")
    finally:
        transport.stop()
    assert str(refused.value) == ("cannot reach SMTP server 127.0.0.1:2525: the password command failed "
                                  "(CalledProcessError)")
    assert refused.value.connection and "vault" not in str(refused.value)
