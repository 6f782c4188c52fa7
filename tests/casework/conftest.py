"""A case's life on a fake clock: an app with two departments, a real SMTP peer, and helpers to move time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from ingestd.app import App
from tests.outbound.conftest import START, clock, get_case, make_outbound_app  # noqa: F401  (fixtures)
from tests.servers.smtp import SmtpServer

ROUTING = """
default_department = "triage"
grades = ["重大", "一般", "轻微"]
default_grade = "一般"

[[departments]]
key = "triage"
name = "Complaint desk"
inbox = "desk@org.example"
supervisor = "desk-lead@org.example"

[[departments]]
key = "logistics"
name = "Logistics"
inbox = "logistics@org.example"
supervisor = "logistics-head@org.example"

[[departments]]
key = "billing"
name = "Billing"
inbox = "billing@org.example"
supervisor = "cfo@org.example"

[[rules]]
name = "delivery"
any = ["快递", "延误", "送达", "delivery"]
department = "logistics"

[[rules]]
name = "lawyer"
any = ["律师", "起诉", "lawyer"]
grade = "重大"
"""


@pytest.fixture
def make_life_app(tmp_path: Path, make_outbound_app: Callable[..., App]) -> Callable[..., App]:  # noqa: F811
    """Apps with the routing above (departments' inboxes from it, not from [outbound.departments])."""
    rules = tmp_path / "routing.toml"
    rules.write_text(ROUTING, encoding="utf-8")

    def factory(db_url: str, server: SmtpServer | None, **sections: Any) -> App:
        return make_outbound_app(db_url, server, departments={}, supervisors={},
                                 sections={"routing": {"file": str(rules)}, **sections})

    return factory


def local(text: str) -> datetime:
    """'2026-11-02 09:30' in Shanghai time."""
    from zoneinfo import ZoneInfo

    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo("Asia/Shanghai"))
