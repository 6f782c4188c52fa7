"""`ingestd ingest PATH...`: single messages, mbox files, Maildir folders and directories of them.

Read-only: files are never moved or deleted here (a drop folder does that), so importing a shared
archive twice is safe and adds nothing the second time.
"""

from __future__ import annotations

import mailbox
from collections.abc import Iterator
from pathlib import Path

from ingestd.pipeline.items import RawInput

SKIPPED_SUFFIXES = {".json", ".md", ".rst", ".py", ".toml", ".yaml", ".yml"}
SKIPPED_NAMES = {"COPYING", "LICENSE", "LICENCE", "README", "NOTICE", "AUTHORS"}
IN_FLIGHT_SUFFIXES = (".part", ".tmp", "~", ".partial", ".crdownload")


def is_candidate(path: Path) -> bool:
    """Files that may hold a message: not hidden, not documentation, not still being written."""
    name = path.name
    if name.startswith(".") or name.endswith(IN_FLIGHT_SUFFIXES):
        return False
    return not (path.suffix.lower() in SKIPPED_SUFFIXES or path.stem.upper() in SKIPPED_NAMES)


def is_maildir(path: Path) -> bool:
    return path.is_dir() and all((path / sub).is_dir() for sub in ("cur", "new", "tmp"))


def is_mbox(path: Path) -> bool:
    if path.suffix.lower() == ".mbox":
        return True
    try:
        with path.open("rb") as fh:
            head = fh.read(5)
    except OSError:
        return False
    return head == b"From " and path.suffix.lower() != ".eml"


def count_inputs(paths: list[Path]) -> int:
    return sum(1 for _ in _walk(paths))


def read_inputs(paths: list[Path], *, source: str = "file") -> Iterator[RawInput]:
    for kind, path in _walk(paths):
        if kind == "file":
            yield RawInput(data=path.read_bytes(), source=source, source_ref=str(path))
        elif kind == "mbox":
            box = mailbox.mbox(path, create=False)
            try:
                for index, msg_key in enumerate(box.iterkeys()):
                    yield RawInput(data=box.get_bytes(msg_key), source=source, source_ref=f"{path}#{index}")
            finally:
                box.close()
        else:
            maildir = mailbox.Maildir(path, factory=None, create=False)
            for msg_key in sorted(maildir.iterkeys()):
                yield RawInput(data=maildir.get_bytes(msg_key), source=source, source_ref=f"{path}/{msg_key}")


def _walk(paths: list[Path]) -> Iterator[tuple[str, Path]]:
    for path in paths:
        if is_maildir(path):
            yield ("maildir", path)
        elif path.is_dir():
            children = sorted(path.iterdir())
            yield from _walk([c for c in children if c.is_dir() or is_candidate(c)])
        elif path.is_file():
            if is_mbox(path):
                yield ("mbox", path)
            else:
                yield ("file", path)
        else:
            raise FileNotFoundError(f"no such file or folder: {path}")
