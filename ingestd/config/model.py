"""The shape of `ingestd.toml`. Every field has a default, so an empty file (or none) is the demo setup.

Unknown keys are errors: a typo in a config file must not silently fall back to a default.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from ingestd.casework.calendar import WorkCalendar
from ingestd.config.casework import ActionConfig, CalendarConfig, DeadlineConfig, ReminderConfig, RepeatConfig
from ingestd.config.mailbox import Mailbox
from ingestd.config.model_base import Secret, Strict
from ingestd.config.outbound import OutboundConfig
from ingestd.config.reports import OpsConfig, ReportConfig
from ingestd.config.routing import RoutingConfig
from ingestd.config.scans import ScanFolder, ScanFolders
from ingestd.config.workers import WorkersConfig
from ingestd.store import case_numbers

__all__ = ["Mailbox", "RoutingConfig", "ScanFolder", "Secret", "Settings", "Strict"]


class StoreConfig(Strict):
    database_url: str = "sqlite:///var/ingestd.db"
    data_dir: Path = Path("var")
    case_number_pattern: str = "TS-{yyyy}{mm}-{seq:05d}"
    timezone: str = "Asia/Shanghai"

    @field_validator("case_number_pattern")
    @classmethod
    def _pattern_ok(cls, value: str) -> str:
        case_numbers.validate_pattern(value)
        return value

    @field_validator("timezone")
    @classmethod
    def _zone_ok(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @property
    def blob_dir(self) -> Path:
        return self.data_dir / "blobs"


class LimitsConfig(Strict):
    max_message_bytes: int = Field(default=60 * 1024 * 1024, gt=0)
    max_attachment_bytes: int = Field(default=40 * 1024 * 1024, gt=0)


class IntakeConfig(Strict):
    default_department: str = "triage"
    batch_size: int = Field(default=100, ge=1, le=1000)  # inputs per transaction (see bench/RESULTS.md)
    parse_workers: int = Field(default=0, ge=0, le=64)  # 0: auto (cores - 1 processes; 1: parse in-process)
    repeat_window_days: int = Field(default=90, ge=1)  # an earlier case this recent makes a repeat complainant


class DropFolder(Strict):
    """A folder where `.eml` files are dropped (by staff, or by another system)."""

    name: str
    path: Path
    poll_seconds: float = Field(default=5.0, gt=0)
    settle_seconds: float = Field(default=2.0, ge=0)
    channel: Literal["email"] = "email"


class SourcesConfig(Strict):
    folders: list[DropFolder] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_names(self) -> SourcesConfig:
        names = [f.name for f in self.folders]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"source names must be unique; repeated: {', '.join(dupes)}")
        return self


class LoggingConfig(Strict):
    level: Literal["TRACE", "DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR"] = "INFO"
    json_lines: bool = False
    file: Path | None = None
    mask_personal_data: bool = True


class Settings(Strict):
    store: StoreConfig = StoreConfig()
    limits: LimitsConfig = LimitsConfig()
    intake: IntakeConfig = IntakeConfig()
    sources: SourcesConfig = SourcesConfig()
    mailboxes: list[Mailbox] = Field(default_factory=list)
    scans: ScanFolders = Field(default_factory=list)  # scanned-letter folders (OCR), see config/scans.py
    routing: RoutingConfig = RoutingConfig()
    outbound: OutboundConfig = OutboundConfig()  # outgoing mail and letters, see config/outbound.py
    calendar: CalendarConfig = CalendarConfig()  # working days and hours (config/casework.py)
    deadlines: DeadlineConfig = DeadlineConfig()  # per grade, channel, department
    reminders: ReminderConfig = ReminderConfig()
    repeats: RepeatConfig = RepeatConfig()
    actions: ActionConfig = ActionConfig()
    reports: ReportConfig = ReportConfig()
    ops: OpsConfig = OpsConfig()
    workers: WorkersConfig = WorkersConfig()  # several workers on one register: source leases
    logging: LoggingConfig = LoggingConfig()

    def work_calendar(self) -> WorkCalendar:
        """The working-time calendar of `[calendar]` in the register's time zone (deadlines, statistics)."""
        return self.calendar.build(self.store.timezone)

    @model_validator(mode="after")
    def _unique_mailbox_names(self) -> Settings:
        names = [m.name for m in self.mailboxes]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"mailbox names must be unique; repeated: {', '.join(dupes)}")
        return self
