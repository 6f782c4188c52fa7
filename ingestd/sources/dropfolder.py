"""A drop folder: `.eml` files appear, become cases, and move to `processed/` (or `failed/`).

A file is taken only once it has stopped changing (its size and mtime unchanged for
`settle_seconds`), and only after its case (or quarantine entry) is committed is it moved. A crash in
between leaves the file where it was; taking it again finds the recorded input and adds nothing.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

from loguru import logger

from ingestd.config.model import DropFolder
from ingestd.pipeline.items import Outcome, RawInput
from ingestd.sources.files import is_candidate


class DropFolderSource:
    def __init__(self, config: DropFolder) -> None:
        self.config = config
        self.source_id = f"folder:{config.name}"
        self.inbox = config.path
        self.processed = config.path / "processed"
        self.failed = config.path / "failed"
        for folder in (self.inbox, self.processed, self.failed):
            folder.mkdir(parents=True, exist_ok=True)

    def ready_files(self, *, now: float | None = None) -> list[Path]:
        """Files whose last change is at least `settle_seconds` old."""
        now = time.time() if now is None else now
        ready = []
        for path in sorted(self.inbox.iterdir()):
            if not path.is_file() or not is_candidate(path):
                continue
            try:
                st = path.stat()
            except FileNotFoundError:
                continue
            if st.st_size > 0 and now - st.st_mtime >= self.config.settle_seconds:
                ready.append(path)
            elif st.st_size == 0 and now - st.st_mtime >= max(self.config.settle_seconds, 5):
                ready.append(path)  # an empty file that stays empty: quarantine it rather than wait forever
        return ready

    def inputs(self) -> Iterator[RawInput]:
        for path in self.ready_files():
            try:
                data = path.read_bytes()
            except FileNotFoundError:
                continue
            yield RawInput(data=data, source=self.source_id, source_ref=path.name, mailbox=self.config.name)

    def settle(self, raw: RawInput, outcome: Outcome) -> None:
        """After commit: move the file out of the way; failed inputs go to `failed/` beside their twins."""
        src = self.inbox / raw.source_ref
        parked = outcome.status == "quarantined" or (outcome.status == "duplicate" and outcome.case_no is None)
        target_dir = self.failed if parked else self.processed
        if not src.exists():
            return
        target = _free_name(target_dir / src.name)
        try:
            os.replace(src, target)
        except OSError:
            shutil.move(str(src), str(target))
        logger.bind(source=self.source_id).debug("moved {} to {}", src.name, target_dir.name)


def _free_name(path: Path) -> Path:
    if not path.exists():
        return path
    stem, suffix = path.stem, path.suffix
    for n in range(1, 100000):
        candidate = path.with_name(f"{stem}.{n}{suffix}")
        if not candidate.exists():
            return candidate
    raise FileExistsError(path)
