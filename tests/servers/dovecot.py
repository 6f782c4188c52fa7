"""A private Dovecot IMAP server on loopback ports, for tests and benchmarks.

Not the system service: its own config, base_dir, passwd-file and maildirs in a temporary folder. The
master runs as root (as Dovecot wants) and mail is owned by the unprivileged `dovecot` user. One
instance serves plain IMAP (with STARTTLS) on one port and implicit TLS on another, with a self-signed
certificate made at start-up when `openssl` is available.

Each test makes its own user (`add_user`), so one session-wide server serves every test.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from imapclient import IMAPClient

MAIL_USER = "dovecot"
LOGIN_USER = "dovenull"


def dovecot_bin() -> str | None:
    found = shutil.which("dovecot") or ("/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists() else None)
    return found if found and os.geteuid() == 0 and _user_exists(MAIL_USER) and _user_exists(LOGIN_USER) else None


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


CONF = """\
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
instance_name = ingestd-test-{tag}
log_path = {root}/dovecot.log
info_log_path = {root}/dovecot.log
default_internal_user = {mail_user}
default_login_user = {login_user}
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_cache_size = 0
first_valid_uid = 1
mail_uid = {mail_user}
mail_gid = {mail_user}
mail_location = maildir:{root}/mail/%u:LAYOUT=fs
mail_fsync = never
maildir_very_dirty_syncs = no
namespace inbox {{
  inbox = yes
  separator = /
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users/%u
}}
userdb {{
  driver = static
  args = uid={mail_user} gid={mail_user} home={root}/home/%u
}}
service imap-login {{
  inet_listener imap {{
    port = {port}
  }}
  inet_listener imaps {{
    port = {tls_port}
    ssl = yes
  }}
}}
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
mail_max_userip_connections = 100
imap_idle_notify_interval = 2 mins
{ssl}
"""


@dataclass
class DovecotServer:
    root: Path
    port: int
    tls_port: int
    binary: str
    cert: Path | None = None
    users: dict[str, str] = field(default_factory=dict)

    @property
    def conf(self) -> Path:
        return self.root / "dovecot.conf"

    # -- life cycle --------------------------------------------------------------------------------
    def start(self, timeout: float = 20.0) -> None:
        with open(self.root / "start.err", "wb") as err:  # the daemon keeps its stdio: no pipes to wait on
            subprocess.run([self.binary, "-c", str(self.conf)], check=True, stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=err, timeout=timeout)
        deadline = time.monotonic() + timeout
        while not _port_open(self.port):
            if time.monotonic() > deadline:
                raise TimeoutError(f"dovecot did not open port {self.port}: {self.log_tail()}")
            time.sleep(0.05)

    def stop(self, timeout: float = 20.0) -> None:
        pidfile = self.root / "run" / "master.pid"
        if not pidfile.exists():
            return
        subprocess.run([self.binary, "-c", str(self.conf), "stop"], stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=timeout)
        deadline = time.monotonic() + timeout
        while _port_open(self.port) or pidfile.exists():
            if time.monotonic() > deadline:
                pid = int(pidfile.read_text().strip() or 0)
                if pid:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(pid, 9)
                pidfile.unlink(missing_ok=True)
                break
            time.sleep(0.05)

    def restart(self) -> None:
        self.stop()
        self.start()

    def log_tail(self, n: int = 20) -> str:
        log = self.root / "dovecot.log"
        return "\n".join(log.read_text(errors="replace").splitlines()[-n:]) if log.exists() else ""

    # -- users and folders -------------------------------------------------------------------------
    def add_user(self, name: str | None = None, password: str = "secret") -> str:
        """A fresh user (and mailbox); returns the user name."""
        name = name or "u" + uuid.uuid4().hex[:10]
        self.users[name] = password
        tmp = self.root / "users" / f".{name}.tmp"  # one passwd-file per user: a new user needs no reload
        tmp.write_text(f"{name}:{{PLAIN}}{password}::::::\n")
        tmp.chmod(0o644)
        os.replace(tmp, self.root / "users" / name)
        return name

    def mailbox_config(self, user: str, name: str = "desk", **overrides: object) -> dict[str, object]:
        """A `[[mailboxes]]` entry for `user` over plain IMAP on loopback (password from a file)."""
        secret = self.root / f"pw-{user}"
        secret.write_text(self.users[user])
        return {"name": name, "host": "127.0.0.1", "port": self.port, "tls": "plain", "username": user,
                "password": {"file": str(secret)}, "timeout_seconds": 10, **overrides}

    def client(self, user: str, *, timeout: float = 30.0) -> IMAPClient:
        c = IMAPClient("127.0.0.1", port=self.port, ssl=False, timeout=timeout)
        c.login(user, self.users[user])
        return c

    @contextlib.contextmanager
    def session(self, user: str) -> Iterator[IMAPClient]:
        c = self.client(user)
        try:
            yield c
        finally:
            with contextlib.suppress(Exception):
                c.logout()

    def create_folder(self, user: str, folder: str) -> None:
        with self.session(user) as c:
            if not c.folder_exists(folder):
                c.create_folder(folder)

    def append(self, user: str, folder: str, messages: Iterable[bytes], *, flags: tuple[bytes, ...] = ()) -> None:
        """APPEND over IMAP, in MULTIAPPEND chunks (fast enough for a few thousand)."""
        with self.session(user) as c:
            if not c.folder_exists(folder):
                c.create_folder(folder)
            chunk: list[dict[str, object]] = []
            for data in messages:
                chunk.append({"msg": data, "flags": flags})
                if len(chunk) >= 200:
                    c.multiappend(folder, chunk)
                    chunk = []
            if chunk:
                c.multiappend(folder, chunk)

    def write_maildir(self, user: str, folder: str, messages: Iterable[bytes]) -> int:
        """Fast loading: write straight into the maildir's `new/`, then let Dovecot index it. Returns count."""
        base = self.root / "mail" / user
        path = base if folder == "INBOX" else base / folder
        for sub in ("cur", "new", "tmp"):
            (path / sub).mkdir(parents=True, exist_ok=True)
        n = 0
        stamp = int(time.time())
        for n, data in enumerate(messages, 1):
            name = f"{stamp}.M{n:08d}P{os.getpid()}.ingestd-test,S={len(data)}"
            (path / "new" / name).write_bytes(data)
        pw = pwd.getpwnam(MAIL_USER)
        for dirpath, _dirs, files in os.walk(base):
            os.chown(dirpath, pw.pw_uid, pw.pw_gid)
            for f in files:
                os.chown(os.path.join(dirpath, f), pw.pw_uid, pw.pw_gid)
        if folder != "INBOX":
            with self.session(user) as c, contextlib.suppress(Exception):
                c.subscribe_folder(folder)
        self.doveadm("force-resync", "-u", user, folder)
        return n

    def count(self, user: str, folder: str) -> int:
        with self.session(user) as c:
            if not c.folder_exists(folder):
                return 0
            return int(c.folder_status(folder, [b"MESSAGES"])[b"MESSAGES"])

    def flags(self, user: str, folder: str) -> list[tuple[bytes, ...]]:
        with self.session(user) as c:
            c.select_folder(folder, readonly=True)
            uids = c.search("ALL")
            got = c.fetch(uids, ["FLAGS"]) if uids else {}
            return [got[k][b"FLAGS"] for k in sorted(got)]

    def uidvalidity(self, user: str, folder: str) -> int:
        with self.session(user) as c:
            return int(c.folder_status(folder, [b"UIDVALIDITY"])[b"UIDVALIDITY"])

    def set_uidvalidity(self, user: str, folder: str, value: int) -> None:
        """Change a folder's UIDVALIDITY (as a server rebuild or migration would)."""
        self.doveadm("mailbox", "update", "-u", user, "--uid-validity", str(value), folder)

    def doveadm(self, *args: str) -> str:
        out = subprocess.run(["doveadm", "-c", str(self.conf), *args], capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            raise RuntimeError(f"doveadm {' '.join(args)} failed: {out.stderr.strip()}")
        return out.stdout

    def tls_context(self) -> ssl.SSLContext:
        """A client context that trusts this server's self-signed certificate."""
        ctx = ssl.create_default_context(cafile=str(self.cert)) if self.cert else ssl.create_default_context()
        ctx.check_hostname = False
        return ctx


def _make_cert(root: Path) -> tuple[Path, Path] | None:
    if not shutil.which("openssl"):
        return None
    cert, key = root / "cert.pem", root / "key.pem"
    out = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                          "-subj", "/CN=127.0.0.1",
                          "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", str(key), "-out", str(cert)],
                         capture_output=True, timeout=60)
    if out.returncode != 0:
        return None
    key.chmod(0o600)
    return cert, key


@contextlib.contextmanager
def running_dovecot() -> Iterator[DovecotServer]:
    binary = dovecot_bin()
    if binary is None:
        raise FileNotFoundError("dovecot not installed (apt-get install dovecot-imapd), or not running as root")
    root = Path(tempfile.mkdtemp(prefix="ingestd-dovecot-"))
    root.chmod(0o755)
    pw = pwd.getpwnam(MAIL_USER)
    for sub in ("mail", "home", "run", "state"):
        (root / sub).mkdir()
    for sub in ("mail", "home"):
        os.chown(root / sub, pw.pw_uid, pw.pw_gid)
    made = _make_cert(root)
    ssl_conf = "ssl = no"
    if made:
        dh = Path("/usr/share/dovecot/dh.pem")
        ssl_conf = f"ssl = yes\nssl_cert = <{made[0]}\nssl_key = <{made[1]}\n" + (f"ssl_dh = <{dh}\n" if dh.exists() else "")
    port, tls_port = free_port(), free_port()
    while tls_port == port:
        tls_port = free_port()
    (root / "dovecot.conf").write_text(CONF.format(root=root, tag=uuid.uuid4().hex[:8], mail_user=MAIL_USER,
                                                   login_user=LOGIN_USER, port=port,
                                                   tls_port=tls_port if made else 0, ssl=ssl_conf))
    (root / "users").mkdir()
    (root / "users").chmod(0o755)
    server = DovecotServer(root=root, port=port, tls_port=tls_port if made else 0, binary=binary,
                           cert=made[0] if made else None)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


# -- helpers for tests that run the daemon against this server -------------------------------------------
def wait_until(condition: Callable[[], object], timeout: float, interval: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return bool(condition())


@contextlib.contextmanager
def running_daemon(app: object) -> Iterator[threading.Event]:
    """`run_forever(app)` in a thread; stopped through its stop event (and must stop within 30 s)."""
    from ingestd.daemon import run_forever

    stop = threading.Event()
    thread = threading.Thread(target=run_forever, args=(app,), kwargs={"stop": stop}, name="daemon", daemon=True)
    thread.start()
    try:
        yield stop
    finally:
        stop.set()
        thread.join(30)
        if thread.is_alive():
            raise AssertionError("run_forever did not stop within 30 s of its stop event")


@contextlib.contextmanager
def captured_logs(level: str = "DEBUG") -> Iterator[list[dict[str, Any]]]:
    """loguru records (as dicts) logged while inside."""
    from loguru import logger

    records: list[dict[str, Any]] = []
    sink_id = logger.add(lambda m: records.append(m.record), level=level)
    try:
        yield records
    finally:
        logger.remove(sink_id)


class FaultyProxy:
    """A loopback TCP proxy in front of the server that can misbehave on demand, for fault tests:
    `cut_after` bytes from the server, it drops the connection (mid-FETCH, say); `blackhole`, it accepts
    and never says a word (a hung server). Set either back to None/False to heal it."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.cut_after: int | None = None
        self.blackhole = False
        self.cuts = 0
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(16)
        self.port = int(self._listener.getsockname()[1])
        self._closed = threading.Event()
        self._socks: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True, name="faulty-proxy").start()

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self._socks.append(client)
            if self.blackhole:
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                client.close()
                continue
            self._socks.append(upstream)
            budget = [self.cut_after]
            threading.Thread(target=self._pump, args=(client, upstream, None), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, budget), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, budget: list[int | None] | None) -> None:
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if budget is not None and budget[0] is not None:
                    if len(data) >= budget[0]:
                        dst.sendall(data[:budget[0]])
                        self.cuts += 1
                        break
                    budget[0] -= len(data)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)
                s.close()

    def close(self) -> None:
        self._closed.set()
        self._listener.close()
        for s in self._socks:
            with contextlib.suppress(OSError):
                s.close()
