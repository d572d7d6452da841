"""PDF: text per page with pypdf, lines joined back into paragraphs.

pypdf returns a page's text line by line, in content-stream order (which is
reading order for the PDFs most tools write). Lines are re-joined into
paragraphs: a word hyphenated at a line end is mended (``exam-`` + ``ple``),
and a paragraph ends at a blank line, or after a line that ends a sentence
and is clearly shorter than the page's usual line. Each page is its own
region, so a passage never spans two pages and its citation names the page.
"""

from __future__ import annotations

import io
import logging
import re
import statistics

from qa.ingest.formats.base import Builder, ExtractError, Extracted

_HYPHENATED = re.compile(r"(\w)[-\u00ad]$")
_SENTENCE_END = re.compile(r"[.!?:;\"'”’)\]]$")


def extract_pdf(data: bytes) -> Extracted:
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError, PdfReadError, PdfStreamError

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # malformed-but-readable files warn on every page
    if not data.lstrip()[:1024].startswith(b"%PDF") and b"%PDF" not in data[:1024]:
        raise ExtractError("not a PDF file (no %PDF header)")
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            try:
                opened = reader.decrypt("")  # many PDFs are encrypted with an empty user password
            except (DependencyError, NotImplementedError) as exc:
                raise ExtractError(f"encrypted with an unsupported method ({exc})") from None
            if not opened:
                raise ExtractError("encrypted: it needs a password to open")
        pages = [page.extract_text() or "" for page in reader.pages]
    except ExtractError:
        raise
    except FileNotDecryptedError:
        raise ExtractError("encrypted: it needs a password to open") from None
    except (PdfReadError, PdfStreamError, ValueError, KeyError, TypeError, AttributeError, IndexError,
            AssertionError, RecursionError, OSError, EOFError, ZeroDivisionError) as exc:
        raise ExtractError(f"corrupted or not a valid PDF ({type(exc).__name__}: {str(exc)[:120]})") from None
    if not pages:
        raise ExtractError("corrupted or not a valid PDF (no pages)")
    out = Builder()
    for number, page_text in enumerate(pages, start=1):
        out.new_region(page=number)
        for paragraph in page_paragraphs(page_text):
            out.paragraph(paragraph)
    result = out.build()
    if not result.text.strip():
        raise ExtractError(
            f"no extractable text in its {len(pages)} page(s): probably scanned images (OCR is not supported)"
        )
    empty = sum(1 for t in pages if not t.strip())
    if empty:
        result.warnings.append(f"{empty} of {len(pages)} pages have no text layer (scanned images?) and were skipped")
    return result


def page_paragraphs(text: str) -> list[str]:
    """Join a page's lines into paragraphs, mending words hyphenated at line ends."""
    lines = [" ".join(line.split()) for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n")]
    widths = [len(line) for line in lines if len(line) > 20]
    usual = statistics.median(widths) if widths else 0
    paragraphs: list[str] = []
    current = ""
    for line in lines:
        if not line:
            if current:
                paragraphs.append(current)
            current = ""
            continue
        short = bool(usual) and len(line) < 0.7 * usual
        if current and short and _looks_like_heading(line) and _SENTENCE_END.search(current):
            paragraphs.append(current)  # a heading after a finished paragraph starts a new one
            current = ""
        if not current:
            current = line
        elif _HYPHENATED.search(current) and line[:1].islower():
            current = current[:-1] + line
        else:
            current = f"{current} {line}"
        if short and (_SENTENCE_END.search(line) or _looks_like_heading(line)):
            paragraphs.append(current)
            current = ""
    if current:
        paragraphs.append(current)
    return paragraphs


def _looks_like_heading(line: str) -> bool:
    """A short line without final punctuation that starts with a capital or a number."""
    return (
        len(line) <= 80
        and not _SENTENCE_END.search(line)
        and not line.endswith((",", "-", "\u00ad"))
        and bool(re.match(r"[A-Z0-9]", line))
    )
