"""Where the routing rules live (`[routing]`); the rules file itself is modelled in `ingestd.routing`."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from ingestd.config.model_base import Strict


class RoutingConfig(Strict):
    file: Path | None = None  # e.g. "config/routing.toml"; none: every case goes to intake.default_department
    reload_seconds: float = Field(default=2.0, gt=0)  # how often `run` checks the file for edits
