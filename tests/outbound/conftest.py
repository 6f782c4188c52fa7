"""Fixtures for outbound mail: a real SMTP server on loopback, apps on a fake clock that send to it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from ingestd.app import App, build_app
from ingestd.clock import FakeClock
from ingestd.config import LoadedConfig
from ingestd.pipeline.items import Outcome, RawInput
from ingestd.store.models import Case, CaseEvent, OutboxMessage
from tests.conftest import make_settings
from tests.servers.smtp import SmtpServer

START = datetime(2026, 11, 2, 1, 30, tzinfo=UTC)  # a Monday, 09:30 in Shanghai



@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(START)


def outbound_section(server: SmtpServer | None, **overrides: Any) -> dict[str, Any]:
    section: dict[str, Any] = {
        "default_from": "complaints@ingestd.example",
        "departments": {"triage": "triage@dept.example"},
        "supervisors": {"triage": "triage-lead@dept.example"},
        "retry_base_seconds": 60,
    }
    if server is not None:
        section["smtp"] = {"host": server.host, "port": server.port, "tls": "plain", "timeout_seconds": 5}
    section.update(overrides)
    return section


@pytest.fixture
def make_outbound_app(tmp_path: Path, clock: FakeClock) -> Iterator[Callable[..., App]]:
    apps: list[App] = []

    def factory(db_url: str, server: SmtpServer | None, *, data_dir: Path | None = None,
                sections: dict[str, Any] | None = None, **outbound: Any) -> App:
        """`sections`: other config sections (routing, reminders, ...) beside the outbound one."""
        sections = {**(sections or {}), "outbound": outbound_section(server, **outbound)}
        settings = make_settings(db_url, data_dir or tmp_path / "var", **sections)
        app = build_app(LoadedConfig(settings, None), clock=clock)
        apps.append(app)
        return app

    yield factory
    for app in apps:
        app.close()


def take(app: App, data: bytes, ref: str = "") -> Outcome:
    return app.intake.take(RawInput(data=data, source="test", source_ref=ref))


def events(app: App, case_no: str, kind: str | None = None) -> list[CaseEvent]:
    with app.db.read() as session:
        query = select(CaseEvent).join(Case, CaseEvent.case_id == Case.id).where(Case.case_no == case_no)
        if kind:
            query = query.where(CaseEvent.kind == kind)
        return list(session.exec(query.order_by(CaseEvent.id)).all())


def outbox(app: App, **where: Any) -> list[OutboxMessage]:
    with app.db.read() as session:
        query = select(OutboxMessage).order_by(OutboxMessage.id)
        for key, value in where.items():
            query = query.where(getattr(OutboxMessage, key) == value)
        return list(session.exec(query).all())


def get_case(app: App, case_no: str) -> Case:
    with app.db.read() as session:
        return session.exec(select(Case).where(Case.case_no == case_no)).one()
