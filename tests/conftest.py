"""Shared fixtures: real servers started once per session, registers on both SQLite and PostgreSQL.

With CI=true a test that needs a server that cannot start fails; without it, it is skipped with the
reason.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from ingestd.clock import Clock
from ingestd.config import LoadedConfig, Settings

if TYPE_CHECKING:
    from ingestd.app import App
    from tests.servers.smtp import SmtpServer

REPO = Path(__file__).resolve().parents[1]
CORPORA = REPO.parent / "shared" / "corpora"
SAMPLES = REPO / "ingestd" / "samples" / "mail"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def need(condition: bool, reason: str) -> None:
    """Skip locally, fail in CI: CI must run every test that needs a real server."""
    if not condition:
        if IN_CI:
            pytest.fail(f"CI=true but {reason}")
        pytest.skip(reason)


@pytest.fixture(scope="session")
def pg_server() -> Iterator[object]:
    from tests.servers.postgres import pg_bin, running_postgres

    need(pg_bin() is not None, "PostgreSQL server binaries not installed (apt-get install postgresql)")
    with running_postgres() as server:
        yield server


@pytest.fixture(scope="session")
def dovecot() -> Iterator[object]:
    """A private Dovecot IMAP server (loopback, plain + implicit-TLS ports); each test adds its own user."""
    from tests.servers.dovecot import dovecot_bin, running_dovecot

    need(dovecot_bin() is not None, "Dovecot not installed (apt-get install dovecot-imapd) or not running as root")
    with running_dovecot() as server:
        yield server


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """A real SMTP server (aiosmtpd) on a loopback port, for one test."""
    from tests.servers.smtp import SmtpServer

    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty register: once on SQLite, once on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/ingestd.db"
        return
    server = request.getfixturevalue("pg_server")
    name = "t_" + uuid.uuid4().hex[:12]
    url = server.create_database(name)
    yield url
    server.drop_database(name)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/ingestd.db"


def make_settings(db_url: str, data_dir: Path, **sections: object) -> Settings:
    base: dict[str, object] = {"store": {"database_url": db_url, "data_dir": str(data_dir)}}
    for key, value in sections.items():
        if key == "store":
            base["store"] = {**base["store"], **value}  # type: ignore[dict-item]
        else:
            base[key] = value
    return Settings.model_validate(base)


@pytest.fixture
def make_app(tmp_path: Path) -> Iterator[Callable[..., App]]:
    from ingestd.app import build_app

    apps: list[App] = []

    def factory(db_url: str, clock: Clock | None = None, **sections: object) -> App:
        settings = make_settings(db_url, tmp_path / "var", **sections)
        app = build_app(LoadedConfig(settings, None), **({"clock": clock} if clock else {}))
        apps.append(app)
        return app

    yield factory
    for app in apps:
        app.close()


@pytest.fixture
def app(make_app: Callable[..., App], db_url: str) -> App:
    return make_app(db_url)
