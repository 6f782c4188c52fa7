"""Reading `ingestd.toml` and explaining what is wrong with it as `file:line: problem`.

`tomllib` keeps no positions, so after validation fails we find the line of the offending key by
walking the file's table headers and keys: cheap, and good enough for hand-edited config.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ingestd.config.model import Settings

DEFAULT_PATH = Path("config/ingestd.toml")


@dataclass(frozen=True)
class Problem:
    file: str
    line: int | None
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line or 1}: {self.message}"


class ConfigError(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class LoadedConfig:
    settings: Settings
    path: Path | None  # None: built-in defaults

    @property
    def config_dir(self) -> Path:
        return self.path.parent if self.path else Path("config")


def resolve_path(explicit: str | Path | None) -> Path | None:
    """--config, then $INGESTD_CONFIG, then ./config/ingestd.toml; None means built-in defaults."""
    if explicit:
        return Path(explicit)
    if os.environ.get("INGESTD_CONFIG"):
        return Path(os.environ["INGESTD_CONFIG"])
    return DEFAULT_PATH if DEFAULT_PATH.exists() else None


def load(explicit: str | Path | None = None) -> LoadedConfig:
    path = resolve_path(explicit)
    if path is None:
        return LoadedConfig(Settings(), None)
    if not path.exists():
        raise ConfigError([Problem(str(path), None, "config file not found")])
    text = path.read_text(encoding="utf-8")
    data = parse_toml(text, str(path))
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(problems_from(exc, text, str(path))) from None
    return LoadedConfig(_beside_config(settings, path.parent), path)


def _beside_config(settings: Settings, folder: Path) -> Settings:
    """Files that belong to the configuration (the routing rules) are named relative to the config file."""
    routing = settings.routing
    if routing.file is not None and not routing.file.is_absolute():
        settings = settings.model_copy(update={"routing": routing.model_copy(update={"file": folder / routing.file})})
    return settings


def parse_toml(text: str, filename: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"\(at line (\d+), column \d+\)", str(exc))
        line = int(match.group(1)) if match else None
        message = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        raise ConfigError([Problem(filename, line, f"TOML syntax: {message}")]) from None


def problems_from(exc: ValidationError, text: str, filename: str) -> list[Problem]:
    problems = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        where = ".".join(str(p) for p in loc) or "(top level)"
        message = err["msg"].removeprefix("Value error, ")
        message = f"unknown key {where!r}" if err["type"] == "extra_forbidden" else f"{where}: {message}"
        problems.append(Problem(filename, locate(text, loc), message))
    return problems


_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-\"'.]+)\s*=")


def locate(text: str, loc: tuple[Any, ...]) -> int | None:
    """Line number (1-based) where the setting at `loc` is written, or its table, or None."""
    names = [str(p) for p in loc if not isinstance(p, int)]
    indices = [p for p in loc if isinstance(p, int)]
    table: list[str] = []
    array_counts: dict[str, int] = {}
    best: int | None = None
    best_depth = -1
    for lineno, raw in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(raw)
        if header:
            table = [p.strip().strip("\"'") for p in header.group(2).split(".")]
            if header.group(1) == "[[":
                key = ".".join(table)
                array_counts[key] = array_counts.get(key, -1) + 1
            depth = _match_depth(table, names, indices, array_counts)
            if depth > best_depth:
                best, best_depth = lineno, depth
            continue
        key_match = _KEY.match(raw)
        if key_match:
            full = table + [p.strip("\"'") for p in key_match.group(1).split(".")]
            depth = _match_depth(full, names, indices, array_counts, table)
            if depth > best_depth:
                best, best_depth = lineno, depth
    return best


def _match_depth(path: list[str], names: list[str], indices: list[int], counts: dict[str, int],
                 table: list[str] | None = None) -> int:
    """How many leading names of the error location this line's key path accounts for."""
    if len(path) > len(names) or path != names[: len(path)]:
        return -1
    array_key = ".".join(table if table is not None else path)
    if indices and array_key in counts and counts[array_key] != indices[0]:
        return -1
    return len(path)
