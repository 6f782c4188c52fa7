"""A scan folder: scanned letters (PDF, TIFF, JPEG, PNG) appear, are read by OCR, and become cases.

Like a drop folder, a file is taken only once it has stopped changing for `settle_seconds`, and moves to
`processed/` (or `failed/`) only after its case (or quarantine entry) is committed. The OCR runs here, in
the source, in a worker process (see `ocr_worker`): the pipeline receives the original scan bytes with the
OCR result in `RawInput.extra["ocr"]`, and the parse stage turns that into the letter's case.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

from loguru import logger

from ingestd.config.scans import ScanFolder
from ingestd.pipeline.items import RawInput
from ingestd.sources.dropfolder import DropFolderSource
from ingestd.sources.ocr_worker import OcrUnavailable, OcrWorker, WorkerOptions
from parsers.letter import case_extras


class LetterReader:
    """Scan bytes → a letter `RawInput` (OCR in the worker process); used by scan folders and by the demo."""

    def __init__(self, config: ScanFolder, *, known: Callable[[list[str]], set[str]] | None = None) -> None:
        self.config = config
        self.known = known  # which of these digests the register holds already (no OCR for those)
        self.worker = OcrWorker(WorkerOptions(
            engine=config.engine, page_limit=config.page_limit, page_timeout=config.page_timeout_seconds,
            start_timeout=config.start_timeout_seconds, max_pixels=config.max_image_pixels,
            render_dpi=config.render_dpi, max_side_px=config.max_side_px))

    def letter(self, data: bytes, filename: str, *, source: str, source_ref: str | None = None) -> RawInput:
        """The letter as the pipeline takes it. An empty or already-recorded scan is not read (the pipeline says
        what it is); an unreadable one carries the reason in extra["ocr"]["error"]. Raises `OcrUnavailable`."""
        raw = RawInput(data=data, source=source, source_ref=filename if source_ref is None else source_ref,
                       channel="letter", mailbox=self.config.name, extra={"filename": filename})
        if not data or (self.known is not None and raw.sha256 in self.known([raw.sha256])):
            return raw
        started = time.perf_counter()
        ocr = self.worker.read(data)
        ocr.update(engine=self.config.engine, threshold=self.config.needs_review_below,
                   seconds=round(time.perf_counter() - started, 3))
        raw.extra["ocr"] = ocr
        if not ocr.get("error"):
            fields, flags = case_extras(ocr, self.config.needs_review_below)
            raw.extra.update(case_fields=fields, case_flags=flags)
        return raw

    def close(self) -> None:
        self.worker.stop()


class ScanFolderSource(DropFolderSource):
    def __init__(self, config: ScanFolder, *, known: Callable[[list[str]], set[str]] | None = None) -> None:
        self.config = config  # type: ignore[assignment]  # the drop-folder fields it shares: path, settle_seconds
        self.scan_config = config
        self.source_id = f"scan:{config.name}"
        self.inbox = config.path
        self.processed = config.path / "processed"
        self.failed = config.path / "failed"
        for folder in (self.inbox, self.processed, self.failed):
            folder.mkdir(parents=True, exist_ok=True)
        self.reader = LetterReader(config, known=known)
        self.worker = self.reader.worker

    def start(self) -> None:
        """Start the OCR process now (models loaded), so that a broken engine shows at start-up."""
        self.worker.start()

    def close(self) -> None:
        self.reader.close()

    def inputs(self) -> Iterator[RawInput]:
        files = self.ready_files()
        if not files:
            self._stop_when_idle()
            return
        for path in files:
            try:
                before = path.stat()
                data = path.read_bytes()
                after = path.stat()
            except FileNotFoundError:
                continue
            if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns) or len(data) != after.st_size:
                logger.bind(source=self.source_id).debug("{} changed while being read; next pass", path.name)
                continue
            try:
                yield self.reader.letter(data, path.name, source=self.source_id)
            except OcrUnavailable as exc:  # an outage, not a bad scan: leave the files for the next pass
                logger.bind(source=self.source_id).error("{}; {} file(s) left for the next pass", exc, len(files))
                return

    def _stop_when_idle(self) -> None:
        idle = self.scan_config.idle_stop_seconds
        if idle and self.worker.running and time.monotonic() - self.worker.last_used > idle:
            logger.bind(source=self.source_id).debug("OCR process idle for {:g} s: stopping it", idle)
            self.worker.stop()
