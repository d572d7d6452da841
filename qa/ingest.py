"""Read a documents folder into Documents, reporting what was skipped and why.

The text of a Document is the file decoded as UTF-8 with newlines untouched
(only a leading byte-order mark is dropped), so every offset the index
stores can be checked with ``open(path, encoding="utf-8-sig", newline="").read()``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from .errors import DocumentsError
from .types import Document

SUPPORTED_SUFFIXES = frozenset({".txt", ".md"})
MAX_FILE_BYTES = 20 * 1024 * 1024  # a text document beyond 20 MiB is almost surely not prose


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


def read_folder(folder: str | Path) -> IngestResult:
    """Read every ``.txt``/``.md`` file under ``folder``, recursively, sorted by path.

    Hidden files and folders (``.git``) are ignored; other extensions are
    counted in ``unsupported``; unreadable, empty, binary or oversized files
    are listed in ``skipped`` and the rest is still read.

    Raises:
        DocumentsError: if ``folder`` does not exist or is not a folder.
    """
    root = Path(folder)
    if not root.exists():
        raise DocumentsError(f"documents folder not found: {root}")
    if not root.is_dir():
        raise DocumentsError(f"not a folder: {root}")
    result = IngestResult()
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if any(part.startswith(".") for part in rel.parts) or not path.is_file():
            continue
        if path.suffix.lower() not in SUPPORTED_SUFFIXES:
            result.unsupported += 1
            continue
        doc_id = rel.as_posix()
        try:
            document, warning = read_document(path, doc_id)
        except _Skip as skip:
            result.skipped.append(Skipped(doc_id, str(skip)))
            continue
        if warning:
            result.warnings.append(f"{doc_id}: {warning}")
        result.documents.append(document)
    return result


class _Skip(Exception):
    pass


def read_document(path: Path, doc_id: str) -> tuple[Document, str | None]:
    """Decode one file; returns the document and an optional warning."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise _Skip(f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MiB ({size} bytes)")
        data = path.read_bytes()
    except OSError as exc:
        raise _Skip(f"cannot be read ({exc.strerror or exc})") from None
    if looks_binary(data):
        raise _Skip("looks like a binary file, not text")
    warning = None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        text = data.decode("utf-8", errors="replace").removeprefix("\ufeff")
        warning = f"not valid UTF-8 (first bad byte at {exc.start}); read with replacement characters"
    if not text.strip():
        raise _Skip("empty")
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return Document(id=doc_id, text=text, sha256=digest), warning


def looks_binary(data: bytes) -> bool:
    """NUL bytes or many control characters in the first 8 KiB mean 'not text'."""
    head = data[:8192]
    if b"\x00" in head:
        return True
    if not head:
        return False
    control = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13))
    return control / len(head) > 0.05
