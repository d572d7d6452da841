"""Word (.docx): paragraphs and tables in document order, headings as sections.

A paragraph is a heading when its style is ``Title`` or ``Heading N`` (in
any language Word names them, by the style's outline level as a fallback).
"""

from __future__ import annotations

import io
import re
import zipfile

from qa.ingest.formats.base import Builder, ExtractError, Extracted

MIB = 1024 * 1024
# Unpacked sizes checked before python-docx reads anything: it parses every XML part with lxml (several
# times its size in memory) and holds every other part as bytes. A 500-page book's XML is about 20 MiB.
MAX_XML_BYTES = 32 * MIB  # all XML parts together
MAX_UNPACKED_BYTES = 256 * MIB  # all parts together, images included
_HEADING_STYLE = re.compile(r"^(?:heading|überschrift|titre|titolo|encabezado|kop)\s*(\d)$", re.I)


def extract_docx(data: bytes) -> Extracted:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            archive.getinfo("word/document.xml")
            parts = archive.infolist()
            xml = sum(i.file_size for i in parts if i.filename.endswith((".xml", ".rels")))
            unpacked = sum(i.file_size for i in parts)
            if xml > MAX_XML_BYTES:
                raise ExtractError(f"its XML unpacks to {xml // MIB} MiB, over the {MAX_XML_BYTES // MIB} MiB limit")
            if unpacked > MAX_UNPACKED_BYTES:
                raise ExtractError(f"it unpacks to {unpacked // MIB} MiB, over the {MAX_UNPACKED_BYTES // MIB} MiB limit")
    except zipfile.BadZipFile:
        raise ExtractError("corrupted or not a Word .docx file (not a valid zip archive)") from None
    except KeyError:
        raise ExtractError("corrupted or not a Word .docx file (no word/document.xml inside)") from None
    import docx
    from docx.oxml.ns import qn

    try:
        document = docx.Document(io.BytesIO(data))
        out = Builder()
        stack: list[tuple[int, str]] = []
        body = document.element.body
        levels: dict[str | None, int | None] = {}  # style id -> heading level; style lookups are slow
        for child in body.iterchildren():
            if child.tag == qn("w:p"):
                paragraph = docx.text.paragraph.Paragraph(child, document)
                style_id = child.style
                if style_id not in levels:
                    levels[style_id] = _heading_level(paragraph)
                level = levels[style_id]
                if level is not None:
                    out.heading(level, paragraph.text, stack)
                else:
                    out.paragraph(" ".join(paragraph.text.split()))
            elif child.tag == qn("w:tbl"):
                table = docx.table.Table(child, document)
                for row in table.rows:
                    cells = _unique(" ".join(cell.text.split()) for cell in row.cells)
                    out.paragraph(" | ".join(c for c in cells if c))
    except ExtractError:
        raise
    except Exception as exc:  # noqa: BLE001 - python-docx and lxml raise many types on broken files
        raise ExtractError(f"corrupted Word file ({type(exc).__name__}: {str(exc)[:120]})") from None
    return out.build()


def _heading_level(paragraph) -> int | None:  # type: ignore[no-untyped-def]
    style = paragraph.style
    name = (style.name or "") if style is not None else ""
    if name.lower() == "title":
        return 0
    match = _HEADING_STYLE.match(name.strip())
    if match:
        return int(match.group(1))
    from docx.oxml.ns import qn

    while style is not None:  # a custom style based on a heading keeps its outline level
        ppr = style.element.find(qn("w:pPr"))
        outline = ppr.find(qn("w:outlineLvl")) if ppr is not None else None
        if outline is not None:
            level = int(outline.get(qn("w:val"), "9"))
            return level + 1 if level < 9 else None
        style = style.base_style
    return None


def _unique(cells) -> list[str]:  # type: ignore[no-untyped-def]
    """Merged cells repeat their text in every grid cell they span: keep it once."""
    out: list[str] = []
    for cell in cells:
        if not out or out[-1] != cell:
            out.append(cell)
    return out
