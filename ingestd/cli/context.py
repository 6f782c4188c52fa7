"""What every command shares: the config path given on the command line, logging set-up, the app."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ingestd import logs
from ingestd.config import LoadedConfig, load

if TYPE_CHECKING:
    from ingestd.app import App


@dataclass
class State:
    config_path: Path | None = None
    log_json: bool = False
    log_level: str | None = None
    _config: LoadedConfig | None = None

    def config(self) -> LoadedConfig:
        if self._config is None:
            self._config = load(self.config_path)
            cfg = self._config.settings.logging
            logs.setup(self.log_level or cfg.level, json_lines=self.log_json or cfg.json_lines, file=cfg.file,
                       mask_personal_data=cfg.mask_personal_data)
        return self._config

    def app(self, *, migrate: bool = True) -> App:
        """`migrate=False` for commands that must answer even when the register cannot be opened (health)."""
        from ingestd.app import build_app  # the pipeline (parsers and all) only when a command needs it

        return build_app(self.config(), migrate=migrate)


state = State()
