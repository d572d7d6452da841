"""HTML: the visible text of the page, headings kept as sections.

Scripts, styles, forms and navigation boilerplate (``nav``, ``header``,
``footer``, ``aside``, ARIA navigation/banner roles, hidden elements) are
dropped; when the page marks its content with ``<main>`` or ``<article>``,
only that is read. The encoding is taken from a byte-order mark, then the
page's own ``<meta charset>``, then UTF-8 if the bytes are valid UTF-8, and
only then guessed with charset-normalizer (with a warning).
"""

from __future__ import annotations

import codecs
import re

from qa.ingest.formats.base import Builder, ExtractError, Extracted
from qa.ingest.formats.text import looks_binary

DROP = {"script", "style", "noscript", "template", "nav", "header", "footer", "aside", "form", "button",
        "select", "option", "textarea", "svg", "canvas", "iframe", "object", "embed", "head", "menu", "dialog"}
DROP_ROLES = {"navigation", "banner", "contentinfo", "search", "menu", "menubar", "complementary"}
BLOCKS = {"p", "div", "section", "article", "main", "li", "ul", "ol", "dl", "dt", "dd", "blockquote", "pre",
          "table", "tr", "thead", "tbody", "tfoot", "figure", "figcaption", "caption", "address", "br", "hr",
          "details", "summary", "body", "html"}
CELLS = {"td", "th"}
HEADINGS = {f"h{n}": n for n in range(1, 7)}
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)


def decode_html(data: bytes) -> tuple[str, str | None]:
    """Text and a warning when the encoding had to be guessed."""
    for bom, name in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            return data.decode(name, errors="replace"), None
    declared = _META_CHARSET.search(data[:4096])
    if declared:
        name = declared.group(1).decode("ascii").lower()
        name = "cp1252" if name in ("iso-8859-1", "latin-1", "latin1", "us-ascii", "ascii") else name  # as browsers do
        try:
            return data.decode(name), None
        except (LookupError, UnicodeDecodeError):
            pass  # a wrong declaration: fall through to detection
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None:
        raise ExtractError("the text encoding could not be detected")
    return str(best), f"no usable charset declared and not UTF-8; decoded as {best.encoding} (detected)"


def extract_html(data: bytes) -> Extracted:
    if b"\x00" in data[:8192] and not data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise ExtractError("looks like a binary file, not HTML")
    text, warning = decode_html(data)
    if looks_binary(text[:8192].encode("utf-8", "replace")):
        raise ExtractError("looks like a binary file, not HTML")
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(text, "html.parser")
    _drop_boilerplate(soup)
    root = soup.find("main") or soup.find("article") or soup.body or soup
    walker = _Walker()
    walker.walk(root)
    walker.flush()
    return walker.out.build([warning] if warning else [])


def _drop_boilerplate(soup) -> None:  # type: ignore[no-untyped-def]
    from bs4 import Comment, Doctype, ProcessingInstruction

    for node in soup.find_all(string=lambda s: isinstance(s, (Comment, Doctype, ProcessingInstruction))):
        node.extract()
    doomed = []
    for tag in soup.find_all(True):
        attrs = tag.attrs or {}
        style = str(attrs.get("style", "")).replace(" ", "").lower()
        if (
            tag.name in DROP
            or str(attrs.get("role", "")).lower() in DROP_ROLES
            or "hidden" in attrs
            or str(attrs.get("aria-hidden", "")).lower() == "true"
            or "display:none" in style
            or "visibility:hidden" in style
        ):
            doomed.append(tag)
    for tag in doomed:
        if not tag.decomposed:  # a dropped tag inside another dropped tag is already gone
            tag.decompose()


class _Walker:
    """Inline text gathers into a paragraph; a block element or heading ends it."""

    def __init__(self) -> None:
        self.out = Builder()
        self.stack: list[tuple[int, str]] = []
        self.inline: list[str] = []
        self.row: list[str] | None = None

    def flush(self) -> None:
        text = " ".join("".join(self.inline).split())
        self.inline = []
        if text:
            self.out.paragraph(text)

    def walk(self, node) -> None:  # type: ignore[no-untyped-def]
        from bs4 import NavigableString, Tag

        for child in node.children:
            if isinstance(child, NavigableString):
                self.inline.append(str(child))
            elif isinstance(child, Tag):
                name = child.name.lower()
                if name in HEADINGS:
                    self.flush()
                    self.out.heading(HEADINGS[name], child.get_text(" "), self.stack)
                elif name == "tr":
                    self.flush()
                    cells = [" ".join(c.get_text(" ").split()) for c in child.find_all(["td", "th"], recursive=False)]
                    self.out.paragraph(" | ".join(c for c in cells if c))
                elif name in BLOCKS or name in CELLS:
                    self.flush()
                    self.walk(child)
                    self.flush()
                elif name == "img":
                    continue
                else:
                    self.walk(child)
