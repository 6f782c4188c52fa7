"""`[reports]` (the monthly complaint report, made by `ingestd run` and sent through the outbox) and `[ops]`."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator

from ingestd.config.model_base import Strict
from ingestd.config.outbound import check_address


class ReportConfig(Strict):
    monthly: bool = True  # make last month's report on `day` at `hour` (local time)
    day: int = Field(default=1, ge=1, le=28)  # the 1st: out well before the 15th that regulations ask for
    hour: int = Field(default=8, ge=0, le=23)
    recipients: list[str] = Field(default_factory=list)  # e-mailed the HTML report (and CSVs) through the outbox
    out_dir: Path | None = None  # default: {store.data_dir}/reports
    pdf: bool = False  # also a PDF of the page (WeasyPrint)

    @field_validator("recipients")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        for address in value:
            check_address(address)
        return value

    def folder(self, data_dir: Path) -> Path:
        return self.out_dir or data_dir / "reports"


class OpsConfig(Strict):
    """`[ops]`: the optional HTTP endpoint for monitoring (`/healthz`, Prometheus `/metrics`)."""

    listen: str | None = None  # e.g. "127.0.0.1:9108"; none: no endpoint (`ingestd health` still works)

    @field_validator("listen")
    @classmethod
    def _host_port(cls, value: str | None) -> str | None:
        if value is not None:
            _host, sep, port = value.rpartition(":")
            if not sep or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"listen {value!r}: write HOST:PORT, e.g. 127.0.0.1:9108")
        return value
