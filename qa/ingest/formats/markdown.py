"""Markdown: CommonMark parsed by markdown-it-py; markup stripped, headings become sections.

The indexed text is what a reader sees: link text without the URL, image alt
text, code without fences, list items and table rows as paragraphs. Offsets
therefore point into this text (``qa extract FILE`` prints it), and the
section path points into the file.
"""

from __future__ import annotations

import re

from qa.ingest.formats.base import Builder, ExtractError, Extracted
from qa.ingest.formats.text import decode_utf8, looks_binary

_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n.*?\r?\n(?:---|\.\.\.)[ \t]*(?:\r?\n|\Z)", re.S)


def extract_markdown(data: bytes) -> Extracted:
    if looks_binary(data):
        raise ExtractError("looks like a binary file, not text")
    source, warning = decode_utf8(data)
    source = _FRONT_MATTER.sub("", source, count=1)
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").enable("table").parse(source)
    out = Builder()
    stack: list[tuple[int, str]] = []
    row: list[str] | None = None
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.type == "heading_open":
            out.heading(int(tok.tag[1]), _inline_text(tokens[i + 1]), stack)
            i += 3
            continue
        if tok.type == "tr_open":
            row = []
        elif tok.type == "tr_close":
            out.paragraph(" | ".join(cell for cell in row or [] if cell))
            row = None
        elif tok.type == "inline":
            text = _inline_text(tok)
            if row is not None:
                row.append(text)
            else:
                out.paragraph(text)
        elif tok.type in ("fence", "code_block"):
            out.paragraph(tok.content)
        elif tok.type == "html_block":
            out.paragraph(_strip_tags(tok.content))
        i += 1
    return out.build([warning] if warning else [])


def _inline_text(token) -> str:  # type: ignore[no-untyped-def]
    parts: list[str] = []
    for child in token.children or []:
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append(" ")
        elif child.type == "image":
            parts.append(_inline_text(child))
        elif child.type == "html_inline":
            continue
    return " ".join("".join(parts).split())


def _strip_tags(html: str) -> str:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(html, "html.parser")
    for tag in soup(["script", "style"]):
        tag.decompose()
    return " ".join(soup.get_text(" ").split())
