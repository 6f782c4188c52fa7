"""A private PostgreSQL cluster on a loopback port, for tests and benchmarks.

PostgreSQL refuses to run as root, so when the tests run as root the cluster runs as the `postgres`
system user (created by Debian's package) in a folder owned by it.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


def pg_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PostgresServer:
    port: int
    datadir: Path
    bindir: Path
    user: str = "ingestd"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        self._psql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        self._psql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _psql(self, sql: str) -> None:
        subprocess.run([str(self.bindir / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user,
                        "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-c", sql],
                       check=True, capture_output=True, timeout=60)

    def restart(self) -> None:
        self.stop()
        self.start()

    def start(self) -> None:
        log = self.datadir.parent / "postgres.log"
        _as_owner(self.datadir, [str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-l", str(log), "-w",
                                 "-t", "60", "-o", f"-p {self.port} -k {self.datadir.parent}", "start"])

    def stop(self) -> None:
        _as_owner(self.datadir, [str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "fast", "-w",
                                 "-t", "60", "stop"], check=False)


def _owner_prefix(path: Path) -> list[str]:
    if os.geteuid() != 0:
        return []
    return ["runuser", "-u", "postgres", "--"]


def _as_owner(path: Path, cmd: list[str], check: bool = True) -> None:
    subprocess.run([*_owner_prefix(path), *cmd], check=check, capture_output=True, timeout=120)


@contextlib.contextmanager
def running_postgres() -> Iterator[PostgresServer]:
    bindir = pg_bin()
    if bindir is None:
        raise FileNotFoundError("PostgreSQL server binaries (initdb) not found; install Debian's postgresql")
    root = Path(tempfile.mkdtemp(prefix="ingestd-pg-"))
    datadir = root / "data"
    if os.geteuid() == 0:
        pw = pwd.getpwnam("postgres")
        os.chown(root, pw.pw_uid, pw.pw_gid)
    _as_owner(datadir, [str(bindir / "initdb"), "-D", str(datadir), "-U", "ingestd", "-A", "trust",
                        "-E", "UTF8", "--locale=C.UTF-8", "--no-sync"])
    conf = datadir / "postgresql.conf"
    extra = "\nfsync = off\nsynchronous_commit = off\nfull_page_writes = off\nmax_connections = 200\n" \
            "listen_addresses = '127.0.0.1'\nshared_buffers = 128MB\n"
    subprocess.run([*_owner_prefix(datadir), "sh", "-c", f"cat >> {conf}"], input=extra.encode(), check=True)
    server = PostgresServer(port=free_port(), datadir=datadir, bindir=bindir)
    server.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", server.port), timeout=1):
                break
        except OSError:
            time.sleep(0.2)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)
