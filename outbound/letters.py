"""Formal replies as printable letters: the `letter.html` template (HTML/CSS) rendered to PDF by WeasyPrint.

Chinese text needs a CJK font on the machine (Debian: `fonts-noto-cjk` or `fonts-wqy-zenhei`; the
templates' CSS names both) and, to embed it quickly, HarfBuzz's subsetter (`libharfbuzz-subset0`: without
it WeasyPrint falls back to fontTools, which takes ~10 s per letter with Noto CJK). Letters are written to the outgoing-letters folder
(`outbound.letters_dir`) for printing, and attached to the case.
"""

from __future__ import annotations

import re
from pathlib import Path

from ingestd.store.atomic import write_atomic

CJK_FONTS = ("Noto Serif CJK SC", "WenQuanYi Zen Hei", "Noto Sans CJK SC")


def render_pdf(html: str, *, base_url: Path | None = None) -> bytes:
    from weasyprint import HTML  # slow to import: only when a letter is written

    return HTML(string=html, base_url=str(base_url) if base_url else None).write_pdf()


def write_letter(folder: Path, name: str, pdf: bytes) -> Path:
    """Write atomically (a printer spool picking files up never sees half a letter)."""
    return write_atomic(folder / (re.sub(r"[^A-Za-z0-9._-]", "_", name)[:150] or "letter.pdf"), pdf)


def cjk_font_installed() -> bool:
    """Is one of the CJK fonts the letter templates name known to fontconfig?"""
    import shutil
    import subprocess

    if shutil.which("fc-list") is None:
        return False
    out = subprocess.run(["fc-list", ":lang=zh", "family"], capture_output=True, text=True, timeout=30).stdout
    return any(font in out for font in CJK_FONTS)
