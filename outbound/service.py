"""The outbound side of an app, in one object: responders for the intake, the sender, formal replies."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import date, datetime
from functools import cached_property
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from ingestd.casework.calendar import WorkCalendar
from ingestd.clock import SYSTEM_CLOCK, Clock
from ingestd.config.outbound import DepartmentDirectory
from ingestd.store.blobs import BlobStore
from ingestd.store.db import Database
from outbound import deadlines
from outbound.smtp import OutboxSender, make_transport
from outbound.templates import Templates, resolve_dir
from outbound.transport import Transport


def chain_directories(*directories: DepartmentDirectory | None) -> DepartmentDirectory:
    """The first directory that knows the department wins (e.g. routing.toml's, then `[outbound.departments]`)."""
    present = [d for d in directories if d is not None]

    def lookup(key: str) -> tuple[str, str | None] | None:
        for directory in present:
            found = directory(key)
            if found and found[0]:
                return found
        return None

    return lookup


class Outbound:
    def __init__(self, settings: Any, db: Database, blobs: BlobStore, *, clock: Clock = SYSTEM_CLOCK,
                 directory: DepartmentDirectory | None = None,
                 department_names: Callable[[str], str | None] | None = None,
                 transport_factory: Callable[[], Transport] | None = None) -> None:
        self.settings = settings
        self.config = settings.outbound
        self.db = db
        self.blobs = blobs
        self.clock = clock
        self.zone = ZoneInfo(settings.store.timezone)
        self.data_dir = Path(settings.store.data_dir)
        self.directory: DepartmentDirectory = chain_directories(directory, self.config.department_addresses)
        self.transport_factory = transport_factory
        self._transport: Transport | None = None  # kept across drains: the SMTP courier is one process
        self._department_names = department_names
        # called in the transaction that sends a formal reply (the case's life goes on: see ingestd.casework)
        self.after_reply: Callable[[Any, Any, datetime], None] | None = None
        # called in the intake transaction of a department's reply to our mail (its commands)
        self.after_department_reply: Callable[[Any, str, str], None] | None = None

    def department_name(self, key: str) -> str:
        """How a department is addressed in mail (routing.toml's `name`), its key when it has none."""
        return (self._department_names(key) if self._department_names else None) or key

    @cached_property
    def templates(self) -> Templates:
        return Templates(resolve_dir(self.config))

    @property
    def outbox_dir(self) -> Path:
        return self.config.resolved_outbox_dir(self.data_dir)

    @property
    def letters_dir(self) -> Path:
        return self.config.resolved_letters_dir(self.data_dir)

    def answer_by(self, case: Any, now: datetime) -> date:
        """The date promised to the complainant: the case's resolve-by deadline (from the policy per grade, see
        ingestd.casework), or `answer_within_days` working days when the case has none."""
        if getattr(case, "resolve_due", None) is not None:
            return case.resolve_due.astimezone(self.zone).date()
        return deadlines.answer_by(case, now, working_days=self.config.answer_within_days, zone=self.zone,
                                   calendar=self._calendar)

    @cached_property
    def _calendar(self) -> WorkCalendar:
        """The register's working calendar (`[calendar]`: holidays, make-up working days)."""
        return self.settings.work_calendar()  # type: ignore[no-any-return]

    def from_name(self, language: str) -> str:
        head = self.config.letterhead
        return self.config.from_name or (head.org_name_en if language == "en" else head.org_name)

    def responders(self) -> list[Any]:
        if not self.config.enabled:
            return []
        from outbound.responders import (
            AcknowledgementResponder,
            BounceResponder,
            DepartmentNotificationResponder,
            DepartmentReplyResponder,
        )

        found: list[Any] = [BounceResponder(self), DepartmentReplyResponder(self)]
        if self.config.acknowledge:
            found.append(AcknowledgementResponder(self))
        if self.config.notify_departments:
            found.append(DepartmentNotificationResponder(self))
        return found

    def sender(self) -> OutboxSender:
        if self.transport_factory is not None:
            transport = self.transport_factory()
        else:
            if self._transport is None:
                self._transport = make_transport(self.config, self.data_dir)
            transport = self._transport
        return OutboxSender(self.db, self.blobs, self.config, self.data_dir, clock=self.clock, transport=transport)

    def close(self) -> None:
        """Stop the SMTP courier, if one was started (it has no message in hand between drains)."""
        transport, self._transport = self._transport, None
        stop = getattr(transport, "stop", None)
        if stop is not None:
            stop()

    def drain(self) -> Counter[str]:
        """Deliver everything due now (SMTP, or `.eml` files under outbox_dir)."""
        return self.sender().drain()

    def reply(self, case_no: str, text: str, *, actor: str = "cli", letter: bool = False) -> Any:
        from outbound.replies import send_reply

        return send_reply(self, case_no, text, actor=actor, letter=letter)
