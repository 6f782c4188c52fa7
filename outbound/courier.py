"""The courier: a child process that speaks SMTP for the sender, so that killing the daemon cannot land
between the server's 250 and the sent journal's line.

Why: SMTP gives no way to make "the server has the message" and "we know it has" one step (RFC 1047).
A process killed after its final dot and before it writes the 250 down sends the message again after
a restart. The sent journal (`outbound.journal`) narrows that moment to one append, but a daemon killed
in it (`kill -9`, a crash, the OOM killer) still delivered an acknowledgement twice now and then in the
crash harness (`bench/crash_bench.py`).

So the SMTP conversation runs in this process, started in a session of its own: a signal to the
daemon's process group does not reach it, and it ignores SIGTERM and SIGINT. A message it has begun
it finishes: the DATA, the 250, the journal line. Then it finds its parent gone (the pipe closed) and
exits, without taking new work. Its life after the daemon is at most one SMTP transaction (a few
`timeout_seconds`); another sender takes the row over only after `claim_timeout_seconds` (600 s by
default) from when the batch was claimed, and then finds it in the journal.

What is left: the courier itself killed in that moment (a kill of the whole cgroup: `systemctl kill -s
KILL`, systemd-oomd, a container torn down), the machine losing power, or a batch so slow that its
claim expires while the courier is still in one of its messages. The copy then carries the same
Message-ID.

The pipes carry frames of a 4-byte length and a pickle, parent to child only ever the parent's own
requests. The child imports no configuration, register or logging code: it starts in tens of
milliseconds.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import select
import signal
import struct
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from outbound.journal import SentJournal, journal_key
from outbound.transport import (
    PermanentFailure,
    SmtpEndpoint,
    SmtpTransport,
    TemporaryFailure,
    config_password,
    unreachable,
)

if TYPE_CHECKING:
    from ingestd.config.outbound import SmtpConfig

_HEADER = struct.Struct(">I")
STEPS_PER_MESSAGE = 10  # connect, EHLO, STARTTLS, EHLO, AUTH, MAIL, RCPT, DATA, the body, the dot: each bounded
ANSWER_SLACK_SECONDS = 30.0  # beyond the steps' timeouts: the journal's fsync, starting Python


# -- the parent's side -------------------------------------------------------------------------------
class CourierTransport:
    """A `Transport` whose SMTP client runs in the courier process. Started on the first message, kept
    across batches (`close` ends the SMTP connection, not the process), stopped by `stop` or with the
    daemon."""

    name = "smtp"
    journals = True  # the courier writes the sent journal itself, the moment the server says 250

    def __init__(self, endpoint: SmtpEndpoint, password: Callable[[], str | None], journal_path: Path) -> None:
        self.endpoint = endpoint
        self.password = password
        self.journal_path = journal_path
        self._proc: subprocess.Popen[bytes] | None = None
        self._finalizer: weakref.finalize[Any, Any] | None = None  # stops the courier with its transport
        self._connected = False
        self._lock = threading.Lock()

    @classmethod
    def of(cls, config: SmtpConfig, journal_path: Path) -> CourierTransport:
        return cls(SmtpEndpoint.of(config), config_password(config), journal_path)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def send(self, row: Any, raw: bytes) -> str:
        with self._lock:
            proc = self._running()  # first: a courier started now has no connection, and needs the password
            password = self._password_if_connecting()
            reply = self._ask(proc, ("send", journal_key(row), row.from_addr, row.to_addr, raw, password))
        if reply["outcome"] == "sent":
            if reply.get("journal_error"):
                from loguru import logger

                logger.bind(source="outbox").error("outbox #{}: sent journal not written: {}", row.id,
                                                   reply["journal_error"])
            return str(reply["ref"])
        if reply["outcome"] == "permanent":
            raise PermanentFailure(reply["text"])
        raise TemporaryFailure(reply["text"], connection=bool(reply.get("connection")))

    def close(self) -> None:
        """End the SMTP connection (the batch is done); the courier stays for the next one."""
        with self._lock:
            proc = self._proc
            if self._connected and proc is not None and proc.poll() is None:
                with contextlib.suppress(TemporaryFailure):  # the courier is gone, and its connection with it
                    self._ask(proc, ("close",))

    def stop(self) -> None:
        """Close its pipe and wait for it to exit (killed after twice the SMTP timeout)."""
        with self._lock:
            finalizer, self._finalizer, self._proc, self._connected = self._finalizer, None, None, False
        if finalizer is not None:
            finalizer()

    # -- talking to the courier -----------------------------------------------------------------------
    def _password_if_connecting(self) -> str | None:
        """The secret goes with a message only when the courier will have to log in for it."""
        if self._connected or not self.endpoint.username:
            return None
        try:
            return self.password()
        except (LookupError, OSError, subprocess.SubprocessError) as exc:
            raise unreachable(self.endpoint, exc) from None

    def _ask(self, proc: subprocess.Popen[bytes], request: tuple[Any, ...]) -> dict[str, Any]:
        wait_seconds = self.endpoint.timeout_seconds * STEPS_PER_MESSAGE + ANSWER_SLACK_SECONDS
        try:
            _write_frame(proc.stdin.fileno(), request)  # type: ignore[union-attr]
            reply = _read_frame(proc.stdout.fileno(), time.monotonic() + wait_seconds)  # type: ignore[union-attr]
            if reply is None:
                raise EOFError(f"exited with {proc.wait(timeout=5)}")
        except TimeoutError:  # slower than every SMTP timeout allows (a stalled disk, a held journal lock)
            self._let_go(kill=False)
            raise TemporaryFailure(f"the SMTP courier gave no answer in {wait_seconds:.0f} s; it is left to "
                                   "finish the message in hand", connection=True) from None
        except (OSError, EOFError, pickle.UnpicklingError, subprocess.TimeoutExpired) as exc:
            self._let_go(kill=True)
            raise TemporaryFailure(f"the SMTP courier stopped: {type(exc).__name__}: {exc}",
                                   connection=True) from None
        self._connected = bool(reply["connected"])
        if reply["connects"]:
            self._connections_tried(reply["connects"])
        return reply  # type: ignore[no-any-return]

    def _connections_tried(self, attempts: list[bool]) -> None:
        """The courier opened (True) or failed to open (False) a connection for the last request."""
        from loguru import logger

        for ok in attempts:
            logger.bind(source="outbox").debug("outbox: {} SMTP server {}:{}", "connected to" if ok else "could not reach",
                                               self.endpoint.host, self.endpoint.port)

    def _running(self) -> subprocess.Popen[bytes]:
        """The courier, started if there is none or the last one has exited."""
        if self._proc is not None:
            if self._proc.poll() is None:
                return self._proc
            self._let_go(kill=True)  # exited between messages: its pipes are closed, it is reaped
        try:
            proc = subprocess.Popen([sys.executable, "-m", "outbound.courier"], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, start_new_session=True)
            self._proc, self._connected = proc, False
            self._finalizer = weakref.finalize(self, _stop, proc, self.endpoint.timeout_seconds * 2)
            _write_frame(proc.stdin.fileno(), ("start", self.endpoint, str(self.journal_path)))  # type: ignore[union-attr]
        except OSError as exc:  # no process or no descriptor to spare: like an unreachable server, for now
            self._let_go(kill=True)
            raise TemporaryFailure(f"the SMTP courier did not start: {type(exc).__name__}: {exc}",
                                   connection=True) from None
        return proc

    def _let_go(self, *, kill: bool) -> None:
        """Ask this courier nothing more. `kill`: it has died or broken the conversation, so it holds no
        message; one that is only slow is not killed (it may be in a message's 250): its pipes are closed,
        it finishes the message and its journal line, and exits; `subprocess` reaps it later."""
        proc, finalizer = self._proc, self._finalizer
        self._proc, self._finalizer, self._connected = None, None, False
        if finalizer is not None:
            finalizer.detach()
        if proc is None:
            return
        _close_pipes(proc)
        if kill:
            if proc.poll() is None:
                proc.kill()
            proc.wait()


def _stop(proc: subprocess.Popen[bytes], wait_seconds: float) -> None:
    """Close its pipe (it exits once any message in hand is done and noted); kill it if it does not."""
    _close_pipes(proc)
    try:
        proc.wait(timeout=wait_seconds)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _close_pipes(proc: subprocess.Popen[bytes]) -> None:
    for pipe in (proc.stdin, proc.stdout):
        if pipe is not None and not pipe.closed:
            pipe.close()


# -- the courier's side ------------------------------------------------------------------------------
class Courier:
    def __init__(self, endpoint: SmtpEndpoint, journal: SentJournal) -> None:
        self._password: str | None = None
        self.transport = SmtpTransport(endpoint, lambda: self._password)
        self.journal = journal

    def handle(self, request: tuple[Any, ...]) -> dict[str, Any]:
        if request[0] == "send":
            _, key, from_addr, to_addr, raw, password = request
            return self._send(key, from_addr, to_addr, raw, password)
        if request[0] == "close":
            self.transport.close()
            return self._reply("closed")
        return self._reply("temporary", text=f"the SMTP courier does not know {request[0]!r}")

    def _send(self, key: str, from_addr: str, to_addr: str, raw: bytes, password: str | None) -> dict[str, Any]:
        if password is not None:
            self._password = password
        try:
            ref = self.transport.deliver(from_addr, to_addr, raw)
        except TemporaryFailure as exc:
            return self._reply("temporary", text=str(exc), connection=exc.connection)
        except PermanentFailure as exc:
            return self._reply("permanent", text=str(exc))
        except Exception as exc:  # one message's surprise must not end the courier
            self.transport.close()
            return self._reply("temporary", text=f"{type(exc).__name__}: {exc}")
        try:
            self.journal.record(key, ref, datetime.now(UTC))
            self.journal.forget(key)  # the file keeps it; this process never asks
        except OSError as exc:  # a full disk: the register's mark, which follows, is the only record
            return self._reply("sent", ref=ref, journal_error=str(exc))
        return self._reply("sent", ref=ref)

    def _reply(self, outcome: str, **fields: Any) -> dict[str, Any]:
        attempts, self.transport.connect_attempts = self.transport.connect_attempts, []
        return {"outcome": outcome, "connected": self.transport.connected, "connects": attempts, **fields}


def main() -> int:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a stop of the daemon's group waits for the message in hand
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    replies = os.dup(1)
    os.dup2(2, 1)  # a stray print goes to stderr, never into the replies
    start = _read_frame(0)
    if start is None:
        return 0
    _, endpoint, journal_path = start
    courier = Courier(endpoint, SentJournal(Path(journal_path)))
    try:
        while (request := _read_frame(0)) is not None:
            reply = courier.handle(request)
            try:
                _write_frame(replies, reply)
            except BrokenPipeError:
                break  # the daemon is gone: the message in hand is done and noted, nothing more is taken
    finally:
        courier.transport.close()
    return 0


# -- frames ------------------------------------------------------------------------------------------
def _write_frame(fd: int, value: Any) -> None:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(_HEADER.pack(len(data)) + data)
    while view:
        view = view[os.write(fd, view):]


def _read_frame(fd: int, deadline: float | None = None) -> Any:
    """The next frame, or None when the other side closed the pipe between frames."""
    header = _read_exactly(fd, _HEADER.size, deadline)
    if header is None:
        return None
    body = _read_exactly(fd, _HEADER.unpack(header)[0], deadline)
    if body is None:
        raise EOFError("the pipe closed inside a frame")
    return pickle.loads(body)


def _read_exactly(fd: int, size: int, deadline: float | None) -> bytes | None:
    chunks: list[bytes] = []
    wanted = size
    while wanted:
        if deadline is not None:
            _wait_readable(fd, deadline)
        chunk = os.read(fd, min(wanted, 1 << 20))
        if not chunk:
            if chunks:
                raise EOFError("the pipe closed inside a frame")
            return None
        chunks.append(chunk)
        wanted -= len(chunk)
    return b"".join(chunks)


def _wait_readable(fd: int, deadline: float) -> None:
    poller = select.poll()  # not select(): a daemon with many files open may hold descriptors past 1023
    poller.register(fd, select.POLLIN | select.POLLHUP | select.POLLERR)
    remaining = deadline - time.monotonic()
    if remaining <= 0 or not poller.poll(remaining * 1000):
        raise TimeoutError("no answer from the SMTP courier")


if __name__ == "__main__":
    sys.exit(main())
