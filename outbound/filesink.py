"""Delivery to `.eml` files, for when no SMTP server is configured (the demo and the default config).

Each outbox row becomes one file, named after its creation date, case and kind; writing it again (a
crash before the row was marked sent) replaces the file with the same bytes.
"""

from __future__ import annotations

import re
from pathlib import Path

from ingestd.store.atomic import write_atomic
from ingestd.store.models import OutboxMessage


class FileSink:
    name = "file"

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path_for(self, row: OutboxMessage) -> Path:
        case_no = row.idempotency_key.split(":")[1] if row.idempotency_key.count(":") >= 2 else "none"
        case_no = re.sub(r"[^A-Za-z0-9_-]", "_", case_no)[:64]
        kind = re.sub(r"[^a-z0-9]", "_", row.kind)[:16]
        return self.folder / f"{row.created_at:%Y%m%d}-{case_no}-{kind}-{row.id:06d}.eml"

    def send(self, row: OutboxMessage, raw: bytes) -> str:
        return str(write_atomic(self.path_for(row), raw))

    def close(self) -> None:
        pass
