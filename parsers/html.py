"""HTML mail to readable text: scripts and styles dropped, paragraphs and line breaks kept."""

from __future__ import annotations

import re

from bs4 import BeautifulSoup

_BLOCKS = {"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "table", "pre",
           "section", "article", "header", "footer", "ul", "ol", "hr"}


def html_to_text(html: str) -> str:
    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["script", "style", "head", "title", "meta", "noscript", "template", "iframe", "object"]):
        tag.decompose()
    for tag in soup.find_all(True):
        if tag.name in _BLOCKS:
            tag.insert_before("\n")
            tag.insert_after("\n")
        if tag.name == "li":
            tag.insert_before("- ")
    text = soup.get_text()
    text = text.replace("\xa0", " ")
    lines = [re.sub(r"[ \t]+", " ", line).strip() for line in text.splitlines()]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()
