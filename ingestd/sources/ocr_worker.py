"""The OCR worker: one child process that decodes scans and runs the OCR engine, so that a crash, a hang or a
memory blow-up in a decoder or in the engine costs a page, never the daemon.

The daemon sends a document's bytes; the worker answers with the document's meta, then one message per page.
Each answer has a time limit: past it (or when the worker dies) the worker's whole process group is killed
(Tesseract runs as a child of it), the page is noted as unread, a new worker is started and the document
goes on from the next page. The models load when the worker starts, so a broken setup shows at once.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass
from multiprocessing import get_context
from multiprocessing.connection import Connection
from typing import Any

from loguru import logger


class OcrUnavailable(Exception):
    """The OCR process cannot start (engine missing, models broken): an outage, not a bad scan."""


@dataclass(frozen=True, slots=True)
class WorkerOptions:
    engine: str = "rapidocr"
    page_limit: int = 20
    page_timeout: float = 60.0
    start_timeout: float = 120.0
    max_pixels: int = 60_000_000
    render_dpi: int = 300
    max_side_px: int | None = None


def worker_main(conn: Connection, engine_name: str, page_timeout: float) -> None:
    """Child process: load the engine, then serve documents until told to stop or the pipe closes."""
    with contextlib.suppress(OSError):
        os.setpgrp()  # so that the parent can kill us together with any Tesseract child
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    try:
        from ingestd.ocr.engines import make_engine
        from ingestd.ocr.reader import read_pages

        engine = make_engine(engine_name, page_timeout=page_timeout)
        engine.warm_up()
    except BaseException as exc:
        conn.send(("failed", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ready", engine_name))
    from ingestd.ocr.documents import UnreadableScan

    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message[0] == "stop":
            return
        _, data, opts, start = message
        try:
            pages = read_pages(data, engine, page_limit=opts["page_limit"], max_pixels=opts["max_pixels"],
                               render_dpi=opts["render_dpi"], max_side_px=opts["max_side_px"], start=start)
            conn.send(("meta", next(pages)))
            number = start + 1
            while True:
                _test_faults(opts, number)
                item = next(pages, None)
                if item is None:
                    break
                conn.send(("page", item))
                number += 1
        except UnreadableScan as exc:
            conn.send(("error", exc.reason))
            continue
        except Exception as exc:
            conn.send(("error", f"could not read the document: {type(exc).__name__}: {exc}"))
            continue
        conn.send(("done", None))


def _test_faults(opts: dict[str, Any], number: int) -> None:
    """Faults on demand, for the tests of the kill-and-restart path (never set by configuration)."""
    if opts.get("_stall_page") == number:
        time.sleep(3600)
    if opts.get("_crash_page") == number:
        os.kill(os.getpid(), signal.SIGSEGV)


class OcrWorker:
    """The daemon's handle on the worker process; not thread-safe (one poll job per scan folder uses it)."""

    def __init__(self, options: WorkerOptions) -> None:
        self.options = options
        self._process: Any = None
        self._conn: Connection | None = None
        self.restarts = 0
        self.last_used = time.monotonic()
        self.test_faults: dict[str, int] = {}

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.is_alive()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def start(self) -> None:
        if self.running:
            return
        if self._process is not None:  # died while idle (killed, out of memory): clear up, start afresh
            self.kill()
            self.restarts += 1
        ctx = get_context("forkserver")
        parent, child = ctx.Pipe(duplex=True)
        process = ctx.Process(target=worker_main, args=(child, self.options.engine, self.options.page_timeout),
                              name=f"ingestd-ocr-{self.options.engine}", daemon=True)
        process.start()
        child.close()
        self._process, self._conn = process, parent
        reply = self._receive(self.options.start_timeout)
        if reply is None or reply[0] != "ready":
            if reply:
                why = reply[1]
            elif process.exitcode is not None:
                why = f"the OCR process exited (code {process.exitcode})"
            else:
                why = f"no answer within {self.options.start_timeout:g} s"
            self.kill()
            raise OcrUnavailable(f"OCR engine {self.options.engine} did not start: {why}")
        logger.debug("OCR worker {} started (pid {})", self.options.engine, process.pid)

    def stop(self) -> None:
        if self._conn is not None and self.running:
            try:
                self._conn.send(("stop",))
                self._process.join(timeout=5)
            except OSError:
                pass
        self.kill()

    def kill(self) -> None:
        process, conn = self._process, self._conn
        self._process = self._conn = None
        if conn is not None:
            conn.close()
        if process is None:
            return
        if process.is_alive():
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except OSError:
                process.kill()
        process.join(timeout=10)

    def read(self, data: bytes) -> dict[str, Any]:
        """OCR one document. Returns {"kind", "page_count", "pages_to_read", "pages": [...]} or {"error": why}.
        Raises `OcrUnavailable` when the worker cannot be (re)started."""
        self.last_used = time.monotonic()
        opts = {"page_limit": self.options.page_limit, "max_pixels": self.options.max_pixels,
                "render_dpi": self.options.render_dpi, "max_side_px": self.options.max_side_px, **self.test_faults}
        limit = self.options.page_timeout
        result: dict[str, Any] = {"pages": []}
        start = 0
        while True:
            self.start()
            assert self._conn is not None
            self._conn.send(("doc", data, opts, start))
            reply = self._receive(limit)
            if reply is None:
                why = self._failure("opening the document", limit)
                return {"error": why}
            if reply[0] == "error":
                return {"error": reply[1]}
            meta = reply[1]
            result.update(meta)
            to_read = meta["pages_to_read"]
            number = start + 1
            while number <= to_read:
                reply = self._receive(limit)
                if reply is None:
                    result["pages"].append({"n": number, "error": self._failure(f"page {number}", limit)})
                    start = number  # go on from the next page with a fresh worker
                    break
                if reply[0] == "error":
                    result["pages"].append({"n": number, "error": reply[1]})
                    return result
                result["pages"].append(reply[1])
                number += 1
            else:
                reply = self._receive(limit)  # the worker's "done"
                self.last_used = time.monotonic()
                return result
            if start >= to_read:
                return result

    def _receive(self, timeout: float) -> tuple[str, Any] | None:
        conn = self._conn
        if conn is None:
            return None
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                if conn.poll(min(max(remaining, 0), 0.5)):
                    return conn.recv()  # type: ignore[no-any-return]
            except (EOFError, OSError):
                return None
            if not self.running or remaining <= 0:
                return None

    def _failure(self, what: str, limit: float) -> str:
        """The worker died or overran: say which, kill it (a new one starts for the next request)."""
        process = self._process
        if process is not None:
            process.join(timeout=1)  # a worker that just died closes its pipe a moment before it can be reaped
        exitcode = process.exitcode if process is not None else None
        self.kill()
        self.restarts += 1
        if exitcode is None:
            why = f"OCR timed out on {what} after {limit:g} s (OCR process killed and restarted)"
        else:
            why = f"OCR process died on {what} (exit code {exitcode}); restarted"
        logger.warning(why)
        return why
