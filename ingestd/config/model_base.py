"""Base classes shared by every config section."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, model_validator


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Secret(Strict):
    """A secret named by where it lives, never written in the config file itself."""

    env: str | None = None
    file: Path | None = None
    command: str | None = None  # e.g. an OAuth2 token helper; its stdout is the secret

    @model_validator(mode="after")
    def _exactly_one(self) -> Secret:
        given = [x for x in (self.env, self.file, self.command) if x]
        if len(given) != 1:
            raise ValueError("give exactly one of env, file or command")
        return self

    def reveal(self) -> str:
        if self.env:
            value = os.environ.get(self.env)
            if value is None:
                raise LookupError(f"environment variable {self.env} is not set")
            return value
        if self.file:
            return self.file.read_text(encoding="utf-8").strip()
        import subprocess

        out = subprocess.run(self.command, shell=True, capture_output=True, text=True, timeout=30, check=True)
        return out.stdout.strip()

    def __repr__(self) -> str:  # never print the secret, only where it comes from
        where = f"env:{self.env}" if self.env else f"file:{self.file}" if self.file else "command"
        return f"Secret({where})"
