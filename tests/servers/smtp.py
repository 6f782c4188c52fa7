"""A real SMTP server on a free loopback port (aiosmtpd), recording every message it accepts.

It can be stopped and started again on the same port (an outage), and told to answer the next
recipients or messages with a temporary (4xx) or permanent (5xx) error, or to hold its 250 after taking
a message (`hold`: the client waits in RFC 1047's moment until the event is set). With `tls` ("starttls" or
"tls", implicit) it uses a self-signed certificate for 127.0.0.1 (made with `openssl`) and requires
login as `username`/`password`.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import ssl
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.servers.postgres import free_port


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        return message_from_bytes(self.data, policy=policy.default)  # type: ignore[return-value]


@dataclass
class _Handler:
    server: SmtpServer

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]) -> str:
        reply = self.server._reply_for("rcpt", address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        reply = self.server._reply_for("data", ",".join(envelope.rcpt_tos))
        if reply:
            return reply
        with self.server._lock:
            self.server.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content)))
        hold = self.server.hold
        if hold is not None:  # the message is taken; its 250 waits
            self.server.holding.set()
            await asyncio.get_running_loop().run_in_executor(None, hold.wait, 60)
        return "250 Message accepted"


@dataclass
class SmtpServer:
    host: str = "127.0.0.1"
    port: int = field(default_factory=free_port)
    messages: list[Received] = field(default_factory=list)
    # answers on demand: (stage "rcpt" | "data", reply such as "451 try later", times or None for always,
    # only for recipients containing this text or None)
    answers: list[list[Any]] = field(default_factory=list)
    tls: str | None = None  # None (plain) | "starttls" | "tls"
    username: str = "ingestd"
    password: str = "s3cret"
    logins: list[str] = field(default_factory=list)
    hold: threading.Event | None = None  # when given, each 250 waits until it is set
    holding: threading.Event = field(default_factory=threading.Event)  # set once a message waits for its 250
    _controller: Controller | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        if self._controller is None:
            kwargs: dict[str, Any] = {}
            if self.tls:
                context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
                context.load_cert_chain(*self_signed_cert())
                kwargs = {"authenticator": self._authenticate, "auth_required": True}
                if self.tls == "starttls":
                    kwargs.update(tls_context=context, require_starttls=True)
                else:  # implicit TLS: aiosmtpd does not count it as TLS for AUTH, but the socket is encrypted
                    kwargs.update(ssl_context=context, auth_require_tls=False)
            self._controller = Controller(_Handler(self), hostname=self.host, port=self.port, **kwargs)
            self._controller.start()

    def _authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and auth_data.login.decode() == self.username \
            and auth_data.password.decode() == self.password
        if ok:
            self.logins.append(self.username)
        return AuthResult(success=ok)

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    @property
    def running(self) -> bool:
        return self._controller is not None

    def answer(self, stage: str, reply: str, *, times: int | None = None, for_rcpt: str | None = None) -> None:
        """Answer `reply` (e.g. "451 4.3.0 try later", "550 5.1.1 no such user") at `stage` ("rcpt" or
        "data"), `times` times (None: until cleared), only for recipients containing `for_rcpt`."""
        with self._lock:
            self.answers.append([stage, reply, times, for_rcpt])

    def clear_answers(self) -> None:
        with self._lock:
            self.answers.clear()

    def _reply_for(self, stage: str, rcpt: str) -> str | None:
        with self._lock:
            for entry in self.answers:
                want, reply, times, only = entry
                if want != stage or (only and only not in rcpt):
                    continue
                if times is not None:
                    if times <= 0:
                        continue
                    entry[2] = times - 1
                return str(reply)
        return None

    def to(self, address: str) -> list[Received]:
        with self._lock:
            return [m for m in self.messages if address in m.rcpt_tos]


@contextlib.contextmanager
def running_smtp() -> Iterator[SmtpServer]:
    server = SmtpServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


_CERT: tuple[str, str] | None = None


def self_signed_cert() -> tuple[str, str]:
    """(certificate, key) files for 127.0.0.1, made once per test session with `openssl`."""
    global _CERT
    if _CERT is None:
        if shutil.which("openssl") is None:
            raise RuntimeError("openssl is not installed")
        folder = Path(tempfile.mkdtemp(prefix="smtp-tls-"))
        cert, key = folder / "cert.pem", folder / "key.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
                        "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key),
                        "-out", str(cert)], check=True, capture_output=True)
        _CERT = (str(cert), str(key))
    return _CERT
