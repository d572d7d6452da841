"""Turn one file of any supported format into indexable text with its structure.

Every extractor returns :class:`Extracted`: the text that is indexed (and
that citation offsets point into) plus regions that say which page or
section each part of it came from. A file that cannot be read raises
:class:`ExtractError` with a reason a person can act on; the caller skips it.

Formats and the libraries behind them (imported only when such a file is read):

* ``.txt``            plain text, decoded as UTF-8 (no library)
* ``.md .markdown``   markdown-it-py (CommonMark); markup stripped, headings become sections
* ``.html .htm``      Beautiful Soup with Python's own parser; charset-normalizer for legacy encodings
* ``.pdf``            pypdf (pure Python; AES decryption through ``cryptography``)
* ``.docx``           python-docx
"""

from __future__ import annotations

from pathlib import Path

from qa.ingest.formats.base import EmptyDocument, ExtractError, Extracted, Region, TooLarge

__all__ = ["EmptyDocument", "ExtractError", "Extracted", "Region", "TooLarge", "EXTRACTOR_VERSION", "MAX_CHARS", "SUFFIXES", "extract", "kind_of", "max_bytes"]

# Bump when an extractor's output changes, so indexed files are re-extracted.
EXTRACTOR_VERSION = 1

SUFFIXES: dict[str, str] = {
    ".txt": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
    ".docx": "docx",
}

MIB = 1024 * 1024
# Text formats beyond 20 MiB are almost surely not prose; PDF and Word files
# carry images and fonts, so they may be larger for the same amount of text.
MAX_BYTES = {"text": 20 * MIB, "markdown": 20 * MIB, "html": 20 * MIB, "pdf": 100 * MIB, "docx": 50 * MIB}
# The most text one file may yield, whatever its format: as much as the largest .txt allowed.
# A small compressed PDF or Word file can unpack to far more; beyond this it is refused, not indexed.
MAX_CHARS = 20 * MIB


def kind_of(path: str | Path) -> str | None:
    """The format name for a file, or None when its suffix is not supported."""
    return SUFFIXES.get(Path(path).suffix.lower())


def max_bytes(kind: str) -> int:
    return MAX_BYTES[kind]


def extract(path: str | Path, data: bytes | None = None, *, max_chars: int = MAX_CHARS) -> Extracted:
    """Extract the indexable text of ``path`` (its bytes may be passed in ``data``).

    Raises:
        ExtractError: unsupported, too large (in bytes, or over ``max_chars`` of text), too deeply
            nested, encrypted, corrupted, or without text.
    """
    path = Path(path)
    kind = kind_of(path)
    if kind is None:
        raise ExtractError(f"unsupported file type {path.suffix or '(none)'!r}")
    if data is None:
        try:
            size = path.stat().st_size
            if size > MAX_BYTES[kind]:
                raise TooLarge(size, MAX_BYTES[kind])
            data = path.read_bytes()
        except OSError as exc:
            raise ExtractError(f"cannot be read ({exc.strerror or exc})") from None
    if len(data) > MAX_BYTES[kind]:
        raise TooLarge(len(data), MAX_BYTES[kind])
    try:
        result = _extract(kind, data)
    except RecursionError:
        raise ExtractError("nested too deeply to read (hundreds of elements inside one another)") from None
    if len(result.text) > max_chars:
        raise ExtractError(f"its text is {len(result.text):,} characters, over the {max_chars:,} limit per document")
    if not result.text.strip():
        raise EmptyDocument("empty")
    return result


def _extract(kind: str, data: bytes) -> Extracted:
    if kind == "text":
        from qa.ingest.formats.text import extract_text
        return extract_text(data)
    if kind == "markdown":
        from qa.ingest.formats.markdown import extract_markdown
        return extract_markdown(data)
    if kind == "html":
        from qa.ingest.formats.html import extract_html
        return extract_html(data)
    if kind == "pdf":
        from qa.ingest.formats.pdf import extract_pdf
        return extract_pdf(data)
    from qa.ingest.formats.docx import extract_docx
    return extract_docx(data)
