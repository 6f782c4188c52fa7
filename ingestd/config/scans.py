"""Scan folders in `ingestd.toml` (`[[scans]]`): scanned letters (PDF, TIFF, JPEG, PNG) read by OCR.

```toml
[[scans]]
name = "letters"
path = "var/scans"
engine = "rapidocr"              # rapidocr (default: Chinese + English, bundled models) | tesseract (chi_sim+eng)
poll_seconds = 10
settle_seconds = 5               # a file is taken once it has not changed for this long
page_limit = 20                  # pages read per document; the rest are noted on the case
page_timeout_seconds = 60        # per page; the OCR process is killed and restarted when it is over
needs_review_below = 0.85        # page confidence under this: the case is flagged needs_review
max_image_pixels = 60000000      # per page: larger images (decompression bombs) are refused
```
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, Field

from ingestd.config.model_base import Strict

SCAN_SUFFIXES = (".pdf", ".tif", ".tiff", ".jpg", ".jpeg", ".png")


class ScanFolder(Strict):
    """A folder where scanned letters are dropped; each file becomes one case (channel `letter`)."""

    name: str = Field(min_length=1, pattern=r"^[^\s/:]+$")  # in the source id `scan:NAME`
    path: Path
    engine: Literal["rapidocr", "tesseract"] = "rapidocr"
    poll_seconds: float = Field(default=10.0, gt=0)
    settle_seconds: float = Field(default=5.0, ge=0)
    page_limit: int = Field(default=20, ge=1, le=1000)
    page_timeout_seconds: float = Field(default=60.0, gt=0)
    start_timeout_seconds: float = Field(default=120.0, gt=0)  # starting the OCR process and loading its models
    needs_review_below: float = Field(default=0.85, ge=0, le=1)
    max_image_pixels: int = Field(default=60_000_000, ge=100_000)  # ~ A3 at 600 dpi; a page over this is refused
    render_dpi: int = Field(default=300, ge=72, le=600)  # PDF pages without a text layer are rendered at this
    max_side_px: int | None = Field(default=None, ge=800, le=10000)  # scale pages to this first; None: engine default
    idle_stop_seconds: float = Field(default=600.0, ge=0)  # stop the OCR process (~0.5 GB) after this idle; 0: never


def _unique_names(folders: list[ScanFolder]) -> list[ScanFolder]:
    names = [f.name for f in folders]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"scan folder names must be unique; repeated: {', '.join(dupes)}")
    return folders


ScanFolders = Annotated[list[ScanFolder], AfterValidator(_unique_names)]
