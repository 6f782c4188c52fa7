"""Wiring: from a loaded config to a register, a blob store, an intake pipeline and its sources."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING

from ingestd.casework.actions import Casework
from ingestd.casework.responders import department_reply
from ingestd.casework.responders import responders as casework_responders
from ingestd.clock import SYSTEM_CLOCK, Clock
from ingestd.config import LoadedConfig
from ingestd.pipeline.runner import Intake
from ingestd.routing.reload import ReloadingRouter
from ingestd.sources.dropfolder import DropFolderSource
from ingestd.sources.imap import MailboxSource
from ingestd.sources.scans import ScanFolderSource
from ingestd.store.blobs import BlobStore
from ingestd.store.db import Database
from outbound.service import Outbound

if TYPE_CHECKING:
    from ingestd.workers import LeaseKeeper


@dataclass
class App:
    config: LoadedConfig
    db: Database
    blobs: BlobStore
    intake: Intake
    clock: Clock = SYSTEM_CLOCK
    drop_folders: list[DropFolderSource] = field(default_factory=list)
    mailboxes: list[MailboxSource] = field(default_factory=list)
    scans: list[ScanFolderSource] = field(default_factory=list)  # scanned letters (OCR worker per folder)
    outbound: Outbound | None = None  # acknowledgements, notifications, replies; the outbox sender
    casework: Casework | None = None  # deadlines, actions, reminders and escalations
    keeper: LeaseKeeper | None = None  # while `run` runs: this worker's source leases (ingestd.workers)

    @property
    def router(self) -> ReloadingRouter | None:
        classifier = self.intake.classifier
        return classifier if isinstance(classifier, ReloadingRouter) else None

    @property
    def settings(self):  # type: ignore[no-untyped-def]
        return self.config.settings

    def close(self) -> None:
        for mailbox in self.mailboxes:
            mailbox.close()
        for scan in self.scans:
            scan.close()
        self.intake.close()
        if self.outbound is not None:
            self.outbound.close()
        self.db.dispose()


def build_app(config: LoadedConfig, *, clock: Clock = SYSTEM_CLOCK, migrate: bool = True) -> App:
    settings = config.settings
    db = Database(settings.store.database_url)
    if migrate:
        db.migrate()
    blobs = BlobStore(settings.store.blob_dir)
    router = ReloadingRouter(settings.routing.file) if settings.routing.file else None
    outbound = Outbound(settings, db, blobs, clock=clock,
                        directory=router.department_contacts if router is not None else None,
                        department_names=router.department_name if router is not None else None)
    casework = Casework(settings, outbound if settings.outbound.enabled else None,
                        grades=router.grades if router is not None else None,
                        departments=router.department_keys if router is not None else None)
    outbound.after_reply = casework.replied
    outbound.after_department_reply = partial(department_reply, casework)
    intake = Intake(db, blobs, settings, classifier=router, clock=clock, casework=casework,
                    responders=[*outbound.responders(), *casework_responders(casework)])
    folders = [DropFolderSource(f) for f in settings.sources.folders]
    mailboxes = [MailboxSource(m, db) for m in settings.mailboxes]
    scans = [ScanFolderSource(s, known=intake._known_digests) for s in settings.scans]
    return App(config=config, db=db, blobs=blobs, intake=intake, clock=clock, drop_folders=folders,
               mailboxes=mailboxes, scans=scans, outbound=outbound, casework=casework)
