"""OCR engines: RapidOCR (default; PP-OCR models bundled in its wheel, Chinese + English) and Tesseract.

Each engine turns one greyscale page into lines in reading order with a confidence per line, after
turning the page upright (90/180/270°) and allowing for skew. Engines run in the OCR worker process only.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Protocol

from PIL import Image

from ingestd.ocr.layout import Box, Line, group_lines, page_confidence, page_skew


@dataclass(slots=True)
class PageText:
    lines: list[Line]
    rotation: int = 0  # degrees the page was turned (counter-clockwise) to read it
    skew: float = 0.0  # degrees of tilt found on the upright page
    notes: list[str] = field(default_factory=list)

    @property
    def confidence(self) -> float:
        return page_confidence(self.lines)


class Engine(Protocol):
    name: str
    default_max_side: int

    def warm_up(self) -> None: ...

    def read(self, image: Image.Image, dpi: int) -> PageText: ...


def make_engine(name: str, *, page_timeout: float | None = None) -> Engine:
    if name == "rapidocr":
        return RapidOcrEngine()
    if name == "tesseract":
        return TesseractEngine(timeout=page_timeout)
    raise ValueError(f"unknown OCR engine {name!r}")


def _scaled(image: Image.Image, long_side: int) -> tuple[Image.Image, float]:
    factor = min(1.0, long_side / max(image.size))
    if factor >= 1.0:
        return image, 1.0
    size = (max(1, round(image.width * factor)), max(1, round(image.height * factor)))
    return image.resize(size, Image.Resampling.BILINEAR), factor


class RapidOcrEngine:
    """RapidOCR with its default settings: the bundled models, checked at start, never downloaded."""

    name = "rapidocr"
    default_max_side = 1600  # RapidOCR itself stops at 2000; 1600 is ~20% less CPU for the same CER on letters
    text_score = 0.5  # boxes under this are left out of the text (and count against the page's confidence)

    def __init__(self) -> None:
        from rapidocr import RapidOCR

        _no_spinning_threads()
        self._ocr = RapidOCR(params={"Global.log_level": "warning"})

    def warm_up(self) -> None:
        """Load all three models now (RapidOCR loads them on the first page): a bad setup fails at start."""
        for loader in ("_load_det_model", "_load_cls_model", "_load_rec_model"):
            getattr(self._ocr, loader)()

    def _flipped(self, arr: object, boxes: list[Box]) -> bool:
        """Is the page upside down? The text-line classifier (0/180°) on the widest lines, weighted by width."""
        import numpy as np

        wide = sorted((b for b in boxes if b.width > 2 * b.height), key=lambda b: -b.width)[:30]
        if not wide:
            return False
        crops = self._ocr.crop_text_regions(arr, np.array([b.points for b in wide], dtype=np.float32))
        labels = self._ocr._load_cls_model()(crops).cls_res or []
        weight = {"0": 0.0, "180": 0.0}
        for (label, score), box in zip(labels, wide, strict=False):
            weight["180" if "180" in str(label) else "0"] += float(score) * box.width
        return weight["180"] > weight["0"]

    def _boxes(self, arr: object) -> tuple[list[Box], float]:
        result = self._ocr(arr, text_score=0.3)
        boxes: list[Box] = []
        dropped = 0.0
        if result.txts:
            for points, text, score in zip(result.boxes, result.txts, result.scores, strict=False):
                if score < self.text_score:
                    dropped += len(text)
                    continue
                boxes.append(Box(text=text, score=float(score), points=[(float(x), float(y)) for x, y in points]))
        return boxes, dropped

    def read(self, image: Image.Image, dpi: int) -> PageText:
        import numpy as np

        turn = 0
        arr = np.asarray(image.convert("RGB"))
        boxes, dropped = self._boxes(arr)
        tall = sum(1 for b in boxes if b.height > 1.5 * b.width)
        if boxes and tall > len(boxes) / 2:  # a sideways page: turn it a quarter and read it again
            turn = 90
            image = image.rotate(90, expand=True)
            arr = np.asarray(image.convert("RGB"))
            boxes, dropped = self._boxes(arr)
        if boxes and self._flipped(arr, boxes):  # upside down: read it again the right way up (the classifier
            turn = (turn + 180) % 360            # turns most lines, but a line it is unsure of comes out as junk)
            image = image.rotate(180)
            boxes, dropped = self._boxes(np.asarray(image.convert("RGB")))
        skew = page_skew(boxes)
        lines = group_lines(boxes, skew)
        notes = []
        if dropped:  # text too unsure to keep still lowers the page's confidence
            kept = sum(len(line.text) for line in lines)
            factor = kept / (kept + dropped)
            lines = [Line(line.text, line.score * factor, line.top) for line in lines]
            notes.append(f"{int(dropped)} characters left out as unreadable")
        return PageText(lines=lines, rotation=turn, skew=round(skew, 2), notes=notes)


def _no_spinning_threads() -> None:
    """ONNX Runtime's threads spin while waiting for work: on a 2-core machine shared with the daemon that burns
    ~25% more CPU per page for no gain in wall time (measured: 3.2 → 2.45 CPU s/page). RapidOCR does not expose
    the session option, so it is added where RapidOCR builds its session options; if that ever moves, the
    default (spinning) stays and nothing else changes."""
    try:
        from rapidocr.inference_engine.onnxruntime.main import OrtInferSession
    except ImportError:
        return
    original = OrtInferSession.__dict__.get("_init_sess_opts")
    if not isinstance(original, staticmethod) or getattr(original.__func__, "_ingestd", False):
        return

    def init_sess_opts(cfg: object) -> object:
        options = original.__func__(cfg)
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return options

    init_sess_opts._ingestd = True  # type: ignore[attr-defined]
    OrtInferSession._init_sess_opts = staticmethod(init_sess_opts)  # type: ignore[method-assign,assignment]


_WIDE = r"[\u3000-\u303f\u4e00-\u9fff\uff00-\uffef]"
_CJK_SPACE = re.compile(rf"(?<={_WIDE}) (?={_WIDE}|\w)|(?<=\w) (?={_WIDE})")  # Tesseract spaces out CJK characters


class TesseractEngine:
    """Tesseract 5 (`chi_sim+eng`), one OpenMP thread, Sauvola thresholding, the page's dpi passed on."""

    name = "tesseract"
    default_max_side = 3600
    lang = "chi_sim+eng"

    def __init__(self, timeout: float | None = None) -> None:
        os.environ["OMP_THREAD_LIMIT"] = "1"  # OpenMP makes Tesseract 1.5-2.5× slower on 2 cores
        self.timeout = timeout or 0

    def warm_up(self) -> None:
        import pytesseract

        pytesseract.get_tesseract_version()
        missing = set(self.lang.split("+")) - set(pytesseract.get_languages(config=""))
        if missing:
            raise RuntimeError(f"Tesseract language data missing: {', '.join(sorted(missing))} "
                               "(apt-get install tesseract-ocr-chi-sim)")

    def _upright(self, image: Image.Image, dpi: int) -> int:
        import pytesseract

        try:
            osd = pytesseract.image_to_osd(image, config=f"--psm 0 --dpi {dpi}", output_type=pytesseract.Output.DICT,
                                           timeout=self.timeout)
        except (pytesseract.TesseractError, RuntimeError):
            return 0  # too little text to tell: leave it
        if float(osd.get("orientation_conf", 0)) < 1.5:
            return 0
        return (-int(osd.get("rotate", 0))) % 360  # OSD says how far to turn clockwise

    def read(self, image: Image.Image, dpi: int) -> PageText:
        import pytesseract

        turn = self._upright(image, dpi)
        if turn:
            image = image.rotate(turn, expand=True)
        skew = projection_skew(image)
        if abs(skew) > 0.2:
            image = image.rotate(skew, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=255)
        data = pytesseract.image_to_data(
            image, lang=self.lang, config=f"--dpi {dpi} --psm 3 -c thresholding_method=2",
            output_type=pytesseract.Output.DICT, timeout=self.timeout)
        rows: dict[tuple[int, int, int], list[tuple[str, float, int]]] = {}
        for i, word in enumerate(data["text"]):
            conf = float(data["conf"][i])
            if not word.strip() or conf < 0:
                continue
            key = (data["block_num"][i], data["par_num"][i], data["line_num"][i])
            rows.setdefault(key, []).append((word, conf / 100, data["top"][i]))
        lines = []
        for words in rows.values():
            text = _CJK_SPACE.sub("", " ".join(w for w, _, _ in words))
            chars = sum(len(w) for w, _, _ in words) or 1
            lines.append(Line(text=text, score=sum(c * len(w) for w, c, _ in words) / chars,
                              top=min(t for _, _, t in words)))
        return PageText(lines=lines, rotation=turn, skew=round(skew, 2))


def projection_skew(image: Image.Image, limit: float = 3.0, step: float = 0.25) -> float:
    """The tilt (degrees, counter-clockwise to correct) that makes the rows of ink sharpest."""
    import numpy as np

    small, _ = _scaled(image, 1000)
    ink = small.point(lambda v: 255 if v < 128 else 0)
    best, best_score = 0.0, -1.0
    for angle in np.arange(-limit, limit + step / 2, step):
        rows = np.asarray(ink.rotate(float(angle), expand=False), dtype=np.float32).sum(axis=1)
        score = float(np.var(np.diff(rows)))
        if score > best_score:
            best, best_score = float(angle), score
    return best
