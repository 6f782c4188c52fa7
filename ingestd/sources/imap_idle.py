"""IDLE watchers: one thread per watched folder keeps a connection in IDLE and runs a pass as soon as the
server announces a new message. Polling stays on beside it as a safety net (and is all there is when the
server offers no IDLE). Each watcher stops within about a second of its stop event. When several workers share
the register, a watcher idles only while its worker holds the folder's lease, and waits otherwise.
"""

from __future__ import annotations

import contextlib
import threading
import time
from typing import TYPE_CHECKING

from imapclient import IMAPClient

from ingestd.sources.imap import FolderSync, MailboxSource
from ingestd.sources.imap_conn import ConnectionDropped, capabilities, close, connect

if TYPE_CHECKING:
    from ingestd.pipeline.runner import Intake

RENEW_SECONDS = 25 * 60  # re-issue IDLE before servers' 30-minute inactivity limit
CHECK_SECONDS = 1.0


class IdleWatcher(threading.Thread):
    def __init__(self, sync: FolderSync, intake: Intake, stop: threading.Event, *,
                 renew_seconds: float = RENEW_SECONDS) -> None:
        super().__init__(name=f"idle:{sync.source_id}", daemon=True)
        self.sync = sync
        self.intake = intake
        self.stop = stop
        self.renew_seconds = renew_seconds
        self.idling = threading.Event()  # set while the server has us in IDLE (tests wait on it)

    def run(self) -> None:
        sync = self.sync
        while not self.stop.is_set():
            wait = sync.backoff.remaining()
            if wait > 0:
                self.stop.wait(min(wait, CHECK_SECONDS))
                continue
            if not sync.may_take():  # another worker holds the folder: no pass, no IDLE session, until ours
                self.stop.wait(CHECK_SECONDS)
                continue
            self._pass()  # first, whatever arrived while we were not idling
            if sync.last_fault is not None or self.stop.is_set():
                continue  # the pass logged the fault and set the backoff
            client = None
            try:
                client = connect(sync.config)
                if "IDLE" not in capabilities(client):
                    sync.log.info("the server offers no IDLE: polling every {:g} s", sync.config.poll_seconds)
                    return
                client.select_folder(sync.folder, readonly=True)
                self._idle(client)
            except Exception as exc:
                if self.stop.is_set():
                    break
                sync.fail(exc, "IDLE: ")
            finally:
                self.idling.clear()
                close(client)

    def _pass(self) -> None:
        try:
            self.sync.take_pass(self.intake, stop=self.stop, respect_backoff=False, blocking=True)
        except Exception as exc:  # the register, or a bug: the poll job will retry too
            self.sync.log.error("pass failed, will retry: {}: {}", type(exc).__name__, exc)

    def _idle(self, client: IMAPClient) -> None:
        client.idle()
        self.idling.set()
        since = time.monotonic()
        while not self.stop.is_set() and self.sync.may_take():
            started = time.monotonic()
            responses = client.idle_check(timeout=CHECK_SECONDS)
            if any(_is(r, b"BYE") for r in responses):
                raise ConnectionDropped("the server said BYE")
            if any(_is(r, b"EXISTS") or _is(r, b"RECENT") for r in responses):
                self.idling.clear()
                client.idle_done()
                self._pass()
                if self.sync.last_fault is not None:
                    return
                client.idle()
                self.idling.set()
                since = time.monotonic()
            elif not responses and time.monotonic() - started < CHECK_SECONDS / 2:
                # readable but nothing to read: imapclient swallows EOF here, so ask (raises if gone)
                client.idle_done()
                client.idle()
            elif time.monotonic() - since > self.renew_seconds:
                client.idle_done()
                client.noop()
                client.idle()
                since = time.monotonic()
        with contextlib.suppress(Exception):
            client.idle_done()


def _is(response: object, word: bytes) -> bool:
    if not isinstance(response, tuple) or not response:
        return False
    return any(isinstance(part, bytes) and part.upper() == word for part in response[:2])


def start_idle_watchers(mailboxes: list[MailboxSource], intake: Intake, stop: threading.Event) -> list[IdleWatcher]:
    watchers = [IdleWatcher(sync, intake, stop) for mb in mailboxes if mb.config.idle for sync in mb.folders]
    for w in watchers:
        w.start()
    return watchers
