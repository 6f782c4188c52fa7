"""From recognised text boxes to lines in reading order, and page skew.

OCR engines return one box per run of text. A page tilted by a degree or two interleaves boxes of
neighbouring lines when sorted by their raw y, so the boxes are first turned by the page's skew
(measured from the boxes' own top edges) and grouped into lines there.
"""

from __future__ import annotations

import itertools
import math
import statistics
from dataclasses import dataclass


@dataclass(slots=True)
class Box:
    text: str
    score: float
    points: list[tuple[float, float]]  # four corners, clockwise from top left

    @property
    def angle(self) -> float:
        """Angle of the top edge in degrees (positive: descending to the right, in image coordinates)."""
        (x0, y0), (x1, y1) = self.points[0], self.points[1]
        return math.degrees(math.atan2(y1 - y0, x1 - x0)) if x1 != x0 else 0.0

    @property
    def width(self) -> float:
        (x0, y0), (x1, y1) = self.points[0], self.points[1]
        return math.hypot(x1 - x0, y1 - y0)

    @property
    def height(self) -> float:
        (x0, y0), (x3, y3) = self.points[0], self.points[3]
        return math.hypot(x3 - x0, y3 - y0)


@dataclass(slots=True)
class Line:
    text: str
    score: float
    top: float


def page_skew(boxes: list[Box]) -> float:
    """The page's skew in degrees, from the top edges of boxes much wider than tall (0 when unsure)."""
    angles = [b.angle for b in boxes if b.width > 3 * max(b.height, 1) and abs(b.angle) < 10]
    return statistics.median(angles) if len(angles) >= 2 else 0.0


def group_lines(boxes: list[Box], skew: float | None = None) -> list[Line]:
    """Boxes → lines, top to bottom, each line's boxes left to right (in the deskewed frame)."""
    if not boxes:
        return []
    skew = page_skew(boxes) if skew is None else skew
    cos, sin = math.cos(math.radians(-skew)), math.sin(math.radians(-skew))
    placed = []
    for box in boxes:
        xs = [x * cos - y * sin for x, y in box.points]
        ys = [x * sin + y * cos for x, y in box.points]
        placed.append((min(xs), max(xs), (min(ys) + max(ys)) / 2, max(max(ys) - min(ys), 1.0), box))
    placed.sort(key=lambda p: p[2])
    heights = statistics.median(p[3] for p in placed)
    rows: list[list[tuple[float, float, float, float, Box]]] = []
    for item in placed:
        if rows:
            row = rows[-1]
            centre = statistics.fmean(p[2] for p in row)
            if abs(item[2] - centre) < 0.5 * min(heights, item[3]) + 0.15 * heights:
                row.append(item)
                continue
        rows.append([item])
    lines = []
    for row in rows:
        row.sort(key=lambda p: p[0])
        text = row[0][4].text.strip()
        for prev, cur in itertools.pairwise(row):
            gap = cur[0] - prev[1]
            piece = cur[4].text.strip()
            sep = "  " if gap > 1.5 * heights else (" " if _needs_space(text, piece) or gap > 0.6 * heights else "")
            text = f"{text}{sep}{piece}"
        chars = sum(len(p[4].text) for p in row) or 1
        score = sum(p[4].score * len(p[4].text) for p in row) / chars
        lines.append(Line(text=text, score=score, top=min(p[2] - p[3] / 2 for p in row)))
    return lines


def _needs_space(left: str, right: str) -> bool:
    return bool(left and right and left[-1].isascii() and right[0].isascii() and left[-1].isalnum()
                and right[0].isalnum())


def page_confidence(lines: list[Line]) -> float:
    """Character-weighted mean of the line scores (0 for a page with no text)."""
    chars = sum(len(line.text) for line in lines)
    if not chars:
        return 0.0
    return sum(line.score * len(line.text) for line in lines) / chars
