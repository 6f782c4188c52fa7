"""One document through an engine, page by page, as plain dicts (they cross a process boundary as is).

The meta dict: {"kind", "page_count", "pages_to_read"}; each page dict: {"n", "method" ("ocr" |
"text-layer"), "text", "lines" ([text, confidence] pairs), "confidence", "rotation", "skew", "dpi",
"seconds", "notes"} or {"n", "error"} when that page could not be read.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from ingestd.ocr.documents import Document, UnreadableScan
from ingestd.ocr.engines import Engine


def read_pages(data: bytes, engine: Engine, *, page_limit: int, max_pixels: int, render_dpi: int = 300,
               max_side_px: int | None = None, start: int = 0) -> Iterator[dict[str, Any]]:
    """Yields the meta dict, then one dict per page from `start` up to the page limit. Raises
    `UnreadableScan` when the document cannot be opened at all."""
    document = Document(data, max_pixels=max_pixels, render_dpi=render_dpi,
                        max_side_px=max_side_px or engine.default_max_side)
    try:
        to_read = min(document.page_count, page_limit)
        yield {"kind": document.kind, "page_count": document.page_count, "pages_to_read": to_read}
        for index in range(start, to_read):
            yield read_page(document, index, engine)
    finally:
        document.close()


def read_page(document: Document, index: int, engine: Engine) -> dict[str, Any]:
    started, cpu = time.perf_counter(), time.process_time()
    number = index + 1
    try:
        page = document.page(index)
        if page.text is not None:
            return {"n": number, "method": "text-layer", "text": page.text, "lines": None, "confidence": 1.0,
                    "rotation": 0, "skew": 0.0, "dpi": None, "notes": [],
                    "seconds": round(time.perf_counter() - started, 3)}
        assert page.image is not None
        result = engine.read(page.image, page.dpi)
        page.image.close()
    except UnreadableScan as exc:
        return {"n": number, "error": exc.reason}
    except MemoryError:
        return {"n": number, "error": "out of memory reading this page"}
    except Exception as exc:  # an engine failure on one page: note it, read the others
        return {"n": number, "error": f"OCR failed: {type(exc).__name__}: {exc}"}
    lines = [[line.text, round(line.score, 4)] for line in result.lines]
    return {"n": number, "method": "ocr", "engine": engine.name, "text": "\n".join(t for t, _ in lines),
            "lines": lines, "confidence": round(result.confidence, 4), "rotation": result.rotation,
            "skew": result.skew, "dpi": page.dpi, "notes": result.notes,
            "seconds": round(time.perf_counter() - started, 3), "cpu_seconds": round(time.process_time() - cpu, 3)}
