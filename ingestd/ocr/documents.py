"""Scan files → pages: PDF (text layer or rendered), TIFF (every frame), JPEG, PNG.

Runs in the OCR worker process: decoding untrusted files is where crashes and memory blow-ups happen.
Every refusal is an `UnreadableScan` whose reason ends up on the quarantine entry.
"""

from __future__ import annotations

import io
import math
import warnings
from dataclasses import dataclass
from typing import Any

from PIL import Image, ImageOps

A4_LONG_INCHES = 11.69
TEXT_LAYER_MIN_CHARS = 40  # fewer characters on a page that also holds an image: the image is the letter


class UnreadableScan(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(slots=True)
class PageInput:
    number: int  # 1-based
    text: str | None = None  # the PDF's text layer, when it carries the letter
    image: Image.Image | None = None  # greyscale, already scaled to the OCR's working size
    dpi: int = 300


def sniff(data: bytes) -> str:
    head = data[:1024]
    if not data:
        raise UnreadableScan("empty file (0 bytes)")
    if b"%PDF-" in head:
        return "pdf"
    if data[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "tiff"
    if data[:3] == b"\xff\xd8\xff":
        return "jpeg"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "png"
    raise UnreadableScan("not a PDF, TIFF, JPEG or PNG file")


class Document:
    """An opened scan. `page_count` is the whole document; `pages(limit)` yields at most `limit` of them."""

    def __init__(self, data: bytes, *, max_pixels: int, render_dpi: int = 300, max_side_px: int = 2000) -> None:
        self.kind = sniff(data)
        self.max_pixels = max_pixels
        self.render_dpi = render_dpi
        self.max_side_px = max_side_px
        self._pdf: Any = None
        self._image: Image.Image | None = None
        if self.kind == "pdf":
            self._open_pdf(data)
        else:
            self._open_image(data)

    # -- opening ------------------------------------------------------------------------------------
    def _open_pdf(self, data: bytes) -> None:
        import pypdfium2 as pdfium

        try:
            self._pdf = pdfium.PdfDocument(data)
        except pdfium.PdfiumError as exc:
            message = str(exc).lower()
            if "password" in message:
                raise UnreadableScan("PDF is password-protected") from None
            raise UnreadableScan(f"damaged PDF: {exc}") from None
        self.page_count = len(self._pdf)
        if self.page_count == 0:
            raise UnreadableScan("PDF has no pages")

    def _open_image(self, data: bytes) -> None:
        Image.MAX_IMAGE_PIXELS = None  # checked here, from each frame's header, before anything is decoded
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("error", Image.DecompressionBombWarning)
                image = Image.open(io.BytesIO(data))
                self._check_pixels(image.size, 1)
                self.page_count = getattr(image, "n_frames", 1)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise UnreadableScan(f"image too large: {exc}") from None
        except UnreadableScan:
            raise
        except Exception as exc:  # Pillow raises many kinds for a damaged file
            raise UnreadableScan(f"damaged {self.kind.upper()} image: {type(exc).__name__}: {exc}") from None
        self._image = image

    def _check_pixels(self, size: tuple[int, int], number: int) -> None:
        w, h = size
        if w * h > self.max_pixels:
            raise UnreadableScan(f"page {number} is {w}×{h} pixels, over the limit of {self.max_pixels:,} "
                                 "(max_image_pixels): refused as a possible decompression bomb")
        if w < 16 or h < 16:
            raise UnreadableScan(f"page {number} is only {w}×{h} pixels")

    # -- pages --------------------------------------------------------------------------------------
    def page(self, index: int) -> PageInput:
        return self._pdf_page(index) if self._pdf is not None else self._image_page(index)

    def _pdf_page(self, index: int) -> PageInput:
        import pypdfium2 as pdfium
        import pypdfium2.raw as pdfium_c

        number = index + 1
        try:
            page = self._pdf[index]
            text = page.get_textpage().get_text_bounded().replace("\r\n", "\n").replace("\r", "\n")
            chars = sum(1 for c in text if not c.isspace())
            images = sum(1 for _ in page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE], max_depth=2))
            if chars >= TEXT_LAYER_MIN_CHARS or (chars and not images):
                return PageInput(number, text=text.strip())
            w_pt, h_pt = page.get_size()
            scale = self.render_dpi / 72
            scale = min(scale, self.max_side_px / max(w_pt, h_pt, 1), math.sqrt(self.max_pixels / max(w_pt * h_pt, 1)))
            image = page.render(scale=scale, grayscale=True).to_pil().convert("L")
        except pdfium.PdfiumError as exc:
            raise UnreadableScan(f"page {number}: damaged PDF page: {exc}") from None
        return PageInput(number, image=image, dpi=max(round(scale * 72), 1))

    def _image_page(self, index: int) -> PageInput:
        number = index + 1
        image = self._image
        assert image is not None
        try:
            image.seek(index)
            self._check_pixels(image.size, number)
            frame = ImageOps.exif_transpose(image) if index == 0 else image
            dpi_info = image.info.get("dpi")
            frame = frame.convert("L")
        except UnreadableScan:
            raise
        except Exception as exc:
            raise UnreadableScan(f"page {number}: damaged image data: {type(exc).__name__}: {exc}") from None
        long_side = max(frame.size)
        dpi = round(float(dpi_info[0])) if dpi_info and dpi_info[0] and float(dpi_info[0]) > 50 else \
            round(long_side / A4_LONG_INCHES)
        if long_side > self.max_side_px:
            factor = self.max_side_px / long_side
            frame = frame.resize((max(1, round(frame.width * factor)), max(1, round(frame.height * factor))),
                                 Image.Resampling.LANCZOS)
            dpi = round(dpi * factor)
        return PageInput(number, image=frame, dpi=max(dpi, 50))

    def close(self) -> None:
        if self._pdf is not None:
            self._pdf.close()
        if self._image is not None:
            self._image.close()
