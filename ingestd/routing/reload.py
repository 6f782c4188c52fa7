"""Hot reload: the routing file is checked every few seconds while `ingestd run` runs.

A valid edit takes effect at once; an invalid one is refused with one logged error per edit, and the
last good rules stay in force. Implements the pipeline's Classifier, so intake never sees a gap.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

from loguru import logger

from ingestd.config.loader import ConfigError
from ingestd.pipeline.items import Classification, Parsed
from ingestd.routing.loader import load_router


class ReloadingRouter:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.router = load_router(path)  # at start an invalid file is fatal: check-config says why
        self._digest = self._read_digest()
        self._refused: str | None = None
        self._lock = threading.Lock()

    def classify(self, parsed: Parsed) -> Classification:
        return self.router.classify(parsed)

    def department_contacts(self, key: str) -> tuple[str, str | None] | None:
        """(inbox, supervisor) of a department in the rules now in force, so an edit to an inbox takes effect
        with the next reload, like the rules (outbound's DepartmentDirectory)."""
        for department in self.router.routing.departments:
            if department.key == key:
                return (department.inbox, department.supervisor) if department.inbox else None
        return None

    def grades(self) -> list[str]:
        return list(self.router.routing.grades)

    def department_keys(self) -> list[str]:
        return [d.key for d in self.router.routing.departments]

    def department_name(self, key: str) -> str | None:
        return next((d.name for d in self.router.routing.departments if d.key == key and d.name), None)

    def check(self) -> bool:
        """Reload if the file changed. True when new rules took effect."""
        digest = self._read_digest()
        if digest is None or digest == self._digest or digest == self._refused:
            return False
        with self._lock:
            try:
                router = load_router(self.path)
            except ConfigError as exc:
                self._refused = digest
                logger.bind(source=f"routing:{self.path.name}").error(
                    "routing file edit refused, the previous rules stay in force:\n{}", exc)
                return False
            self.router, self._digest, self._refused = router, digest, None
        logger.bind(source=f"routing:{self.path.name}").info(
            "routing rules reloaded: {} rules, {} keywords", len(router.rules), len(router.index.keywords))
        return True

    def _read_digest(self) -> str | None:
        try:
            return hashlib.sha256(self.path.read_bytes()).hexdigest()
        except OSError:
            return None
