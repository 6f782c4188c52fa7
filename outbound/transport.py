"""How one message reaches a peer: the transport interface, its failures, and the SMTP client.

This module imports no configuration, register or logging code, so that the courier process
(`outbound.courier`), which speaks SMTP for the daemon, starts in a few dozen milliseconds. Its settings
come as an `SmtpEndpoint` and the password as a callable asked at each connection (a token helper's
answer may expire between connections).
"""

from __future__ import annotations

import smtplib
import ssl
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ingestd.config.outbound import SmtpConfig


class TemporaryFailure(Exception):
    """Try again later. `connection`: the server could not be reached at all (the rest of the batch waits too)."""

    def __init__(self, message: str, *, connection: bool = False) -> None:
        super().__init__(message)
        self.connection = connection


class PermanentFailure(Exception):
    """The server refused the message for good (5xx)."""


class Transport(Protocol):
    name: str

    def send(self, row: Any, raw: bytes) -> str: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class SmtpEndpoint:
    """Where and how to connect; everything of `SmtpConfig` but the password."""

    host: str
    port: int
    tls: str  # "tls" | "starttls" | "plain"
    ca_file: str | None
    tls_verify: bool
    username: str | None
    timeout_seconds: float
    local_hostname: str | None

    @classmethod
    def of(cls, config: SmtpConfig) -> SmtpEndpoint:
        return cls(host=config.host, port=config.effective_port, tls=config.tls,
                   ca_file=str(config.ca_file) if config.ca_file else None, tls_verify=config.tls_verify,
                   username=config.username, timeout_seconds=config.timeout_seconds,
                   local_hostname=config.local_hostname)


def config_password(config: SmtpConfig) -> Callable[[], str | None]:
    """The configured secret, revealed when asked (at each connection), or None without a login."""
    secret = config.password
    return (lambda: None) if secret is None else secret.reveal


def unreachable(endpoint: SmtpEndpoint, exc: BaseException) -> TemporaryFailure:
    """The server (or the secret to log in to it) could not be had; a failed password command's command
    line is not echoed (it lands in every waiting row's `last_error`)."""
    why = f"the password command failed ({type(exc).__name__})" if isinstance(exc, subprocess.SubprocessError) \
        else f"{type(exc).__name__}: {exc}"
    return TemporaryFailure(f"cannot reach SMTP server {endpoint.host}:{endpoint.port}: {why}", connection=True)


class SmtpTransport:
    """One SMTP connection, opened on the first message and reused until `close`."""

    name = "smtp"

    def __init__(self, endpoint: SmtpEndpoint, password: Callable[[], str | None] = lambda: None) -> None:
        self.endpoint = endpoint
        self.password = password
        self._conn: smtplib.SMTP | None = None
        self.connect_attempts: list[bool] = []  # each connection tried: did it succeed (for the courier's reply)

    @property
    def connected(self) -> bool:
        return self._conn is not None

    def _connect(self) -> smtplib.SMTP:
        try:
            conn = self._open()
        except TemporaryFailure:
            self.connect_attempts.append(False)
            raise
        self.connect_attempts.append(True)
        return conn

    def _open(self) -> smtplib.SMTP:
        end = self.endpoint
        try:
            if end.tls == "tls":
                conn: smtplib.SMTP = smtplib.SMTP_SSL(end.host, end.port, timeout=end.timeout_seconds,
                                                      local_hostname=end.local_hostname, context=self._tls())
            else:
                conn = smtplib.SMTP(end.host, end.port, timeout=end.timeout_seconds, local_hostname=end.local_hostname)
            conn.ehlo()
            if end.tls == "starttls":
                conn.starttls(context=self._tls())
                conn.ehlo()
            if end.username:
                password = self.password()
                if password is None:  # never send mail unauthenticated when a login is configured
                    conn.close()
                    raise TemporaryFailure(f"no password to log in to {end.host}:{end.port}", connection=True)
                conn.login(end.username, password)
        except smtplib.SMTPAuthenticationError as exc:  # a config problem: keep the mail, say so loudly
            raise TemporaryFailure(f"SMTP login refused: {exc.smtp_code} {_text(exc.smtp_error)}",
                                   connection=True) from None
        except (smtplib.SMTPException, OSError, LookupError, subprocess.SubprocessError) as exc:  # the secret's too
            raise unreachable(end, exc) from None
        return conn

    def _tls(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.endpoint.ca_file)
        if not self.endpoint.tls_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def send(self, row: Any, raw: bytes) -> str:
        return self.deliver(row.from_addr, row.to_addr, raw)

    def deliver(self, from_addr: str, to_addr: str, raw: bytes) -> str:
        if self._conn is None:
            self._conn = self._connect()
        try:
            self._conn.sendmail(from_addr, [to_addr], raw)  # recipients from the row, never from headers
            return f"smtp {self.endpoint.host}:{self.endpoint.port}"
        except smtplib.SMTPRecipientsRefused as exc:
            self._reset()
            code, text = next(iter(exc.recipients.values()), (450, b"recipient refused"))
            raise _by_code(code, f"recipient refused: {code} {_text(text)}") from None
        except smtplib.SMTPResponseException as exc:  # sender refused, data refused, 421 closing
            self.close()
            raise _by_code(exc.smtp_code, f"{exc.smtp_code} {_text(exc.smtp_error)}") from None
        except (smtplib.SMTPException, OSError) as exc:  # dropped connection, timeout
            self._conn = None
            raise TemporaryFailure(f"{type(exc).__name__}: {exc}") from None

    def _reset(self) -> None:
        try:
            if self._conn is not None:
                self._conn.rset()
        except (smtplib.SMTPException, OSError):
            self._conn = None

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.quit()
            except (smtplib.SMTPException, OSError):
                conn.close()


def _by_code(code: int, message: str) -> Exception:
    return PermanentFailure(message) if 500 <= code < 600 else TemporaryFailure(message)


def _text(value: bytes | str) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
