"""`ingestd check-config`: every problem in the config and the files it names, as `file:line: problem`.

Later subsystems (routing rules, templates, mailboxes) add their checks here, so that one command, run
by admins and by CI, says whether a config will start.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from ingestd.config.loader import ConfigError, LoadedConfig, Problem, load, locate
from ingestd.store.db import normalise_url

if TYPE_CHECKING:
    from ingestd.routing.model import RoutingFile


def check(path: Path | None) -> list[Problem]:
    try:
        loaded = load(path)
    except ConfigError as exc:
        return exc.problems
    return check_loaded(loaded)


def check_loaded(loaded: LoadedConfig) -> list[Problem]:
    problems: list[Problem] = []
    filename = str(loaded.path) if loaded.path else "(built-in defaults)"
    text = loaded.path.read_text(encoding="utf-8") if loaded.path else ""
    settings = loaded.settings
    try:
        url = make_url(normalise_url(settings.store.database_url))
        if url.get_backend_name() not in ("sqlite", "postgresql"):
            problems.append(Problem(filename, locate(text, ("store", "database_url")),
                                    f"store.database_url: unsupported database {url.get_backend_name()!r} "
                                    "(use sqlite:/// or postgresql://)"))
    except ArgumentError as exc:
        problems.append(Problem(filename, locate(text, ("store", "database_url")),
                                f"store.database_url: {exc}"))
    for index, folder in enumerate(settings.sources.folders):
        if folder.path.exists() and not folder.path.is_dir():
            problems.append(Problem(filename, locate(text, ("sources", "folders", index, "path")),
                                    f"sources.folders[{index}].path: {folder.path} exists and is not a folder"))
    if settings.routing.file:
        from ingestd.routing.loader import read

        routing, routing_problems = read(settings.routing.file)  # read once, for both checks
        problems.extend(routing_problems)
        if routing is not None:
            problems.extend(_deadline_keys(routing, filename, text))
    if settings.outbound.enabled:
        from outbound.templates import check_templates

        problems.extend(check_templates(settings.outbound))
    if settings.limits.max_attachment_bytes > settings.limits.max_message_bytes:
        problems.append(Problem(filename, locate(text, ("limits", "max_attachment_bytes")),
                                "limits.max_attachment_bytes is larger than limits.max_message_bytes"))
    return problems


def _deadline_keys(routing: RoutingFile, filename: str, text: str) -> list[Problem]:
    """A deadline policy for a grade or department the routing file does not have would never apply: say so."""
    found: list[Problem] = []
    known = {"grades": list(routing.grades), "departments": [d.key for d in routing.departments]}
    written = tomllib.loads(text).get("deadlines", {}) if text else {}  # the shipped defaults are not the admin's
    for section, names in known.items():
        for key in written.get(section, {}):
            if key not in names:
                found.append(Problem(filename, locate(text, ("deadlines", section, key)),
                                     f"deadlines.{section}.{key}: the routing file has no such "
                                     f"{section[:-1]} ({', '.join(names)})"))
    return found
