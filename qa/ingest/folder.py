"""Read a documents folder into Documents, reporting what was skipped and why.

Each supported file goes through its format's extractor (``qa.ingest.formats``).
For ``.txt`` the indexed text is the file decoded as UTF-8 with newlines
untouched (only a leading byte-order mark is dropped), so offsets can be
checked with ``open(path, encoding="utf-8-sig", newline="").read()``; for
other formats they point into the extracted text that ``qa extract`` prints.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

from qa.errors import DocumentsError
from qa.ingest.formats import (
    EXTRACTOR_VERSION,
    SUFFIXES,
    EmptyDocument,
    ExtractError,
    TooLarge,
    extract,
    kind_of,
    max_bytes,
)
from qa.ingest.formats.text import looks_binary  # noqa: F401 - re-exported for the chat's upload checks
from qa.textutil import encodes_as_utf8
from qa.types import Document

SUPPORTED_SUFFIXES = frozenset(SUFFIXES)


@dataclass(frozen=True)
class Skipped:
    """A file that was not indexed, with the reason a user can act on."""

    path: str
    reason: str


@dataclass
class IngestResult:
    documents: list[Document] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    unsupported: int = 0
    # Already indexed and still valid: unchanged files, and files that now fail
    # to read but whose indexed version is kept (see ``skipped``).
    kept: list[str] = field(default_factory=list)


def read_folder(folder: str | Path, known: Mapping[str, str] | None = None) -> IngestResult:
    """Read every supported file under ``folder``, recursively, sorted by path.

    Args:
        folder: the documents folder.
        known: fingerprints (``Document.sha256``) of what is already indexed.
            A PDF, HTML, Markdown or Word file whose bytes match is not
            extracted again; an indexed file that now fails to read is listed
            in ``skipped`` and kept, so nothing indexed is lost.

    Hidden files and folders (``.git``) are ignored; other extensions are
    counted in ``unsupported``; unreadable, empty, encrypted, corrupted,
    oversized or too deeply nested files, names that are not UTF-8 and links
    to files outside ``folder`` are listed in ``skipped`` and the rest is
    still read.

    Raises:
        DocumentsError: if ``folder`` does not exist or is not a folder.
    """
    root = Path(folder)
    if not root.exists():
        raise DocumentsError(f"documents folder not found: {root}")
    if not root.is_dir():
        raise DocumentsError(f"not a folder: {root}")
    known = known or {}
    result = IngestResult()
    inside = root.resolve()
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts) or not path.is_file():
            continue
        if kind_of(path) is None:
            result.unsupported += 1
            continue
        doc_id = rel.as_posix()
        if not encodes_as_utf8(doc_id):
            shown = doc_id.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            result.skipped.append(Skipped(shown, "the file name is not valid UTF-8; rename the file"))
            continue
        if not path.resolve().is_relative_to(inside):
            result.skipped.append(Skipped(doc_id, "a link to a file outside the documents folder; copy the file in instead"))
            continue
        try:
            data = _read_bytes(path)
            fingerprint = file_fingerprint(path, data)
            if fingerprint is not None and known.get(doc_id) == fingerprint:
                result.kept.append(doc_id)
                continue
            document, warnings = read_document(path, doc_id, data)
        except Exception as exc:  # noqa: BLE001 - one unreadable file is reported and skipped, never fatal
            if not isinstance(exc, ExtractError):
                exc = ExtractError(f"could not be read ({type(exc).__name__}: {str(exc)[:120]})")
            if doc_id in known and not isinstance(exc, EmptyDocument):
                result.kept.append(doc_id)
                result.skipped.append(Skipped(doc_id, f"{exc}; its previously indexed version is kept"))
            else:
                result.skipped.append(Skipped(doc_id, str(exc)))
            continue
        result.warnings.extend(f"{doc_id}: {w}" for w in warnings)
        result.documents.append(document)
    return result


def _read_bytes(path: Path) -> bytes:
    kind = kind_of(path) or "text"
    try:
        size = path.stat().st_size
        if size > max_bytes(kind):
            raise TooLarge(size, max_bytes(kind))
        return path.read_bytes()
    except OSError as exc:
        raise ExtractError(f"cannot be read ({exc.strerror or exc})") from None


def file_fingerprint(path: Path, data: bytes) -> str | None:
    """What identifies an extracted file's content without extracting it (None for .txt,
    whose fingerprint is the hash of its decoded text, as before other formats existed)."""
    kind = kind_of(path)
    if kind == "text":
        return None
    return f"{kind}-v{EXTRACTOR_VERSION}:{hashlib.sha256(data).hexdigest()}"


def read_document(path: Path, doc_id: str, data: bytes | None = None) -> tuple[Document, list[str]]:
    """Extract one file; returns the document and its warnings.

    Raises:
        ExtractError: the file cannot be indexed (the message says why).
    """
    if data is None:
        data = _read_bytes(path)
    extracted = extract(path, data)
    fingerprint = file_fingerprint(path, data) or hashlib.sha256(extracted.text.encode("utf-8")).hexdigest()
    return Document(doc_id, extracted.text, fingerprint, tuple(extracted.regions)), extracted.warnings
