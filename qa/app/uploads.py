"""Documents added from the chat page: check an upload or a paste, then save it into the documents folder.

Nothing here indexes: a checked ``NewDocument`` is saved by ``save_document``
and indexed by the service's update thread.
"""

from __future__ import annotations

import os
import re
import secrets
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qa.errors import QAError
from qa.ingest.formats import ExtractError, extract, kind_of
from qa.ingest.folder import SUPPORTED_SUFFIXES, looks_binary

MAX_UPLOAD_BYTES = 2 * 1024 * 1024  # per text file (.txt, .md, .html) or pasted text; the page states it
MAX_BINARY_UPLOAD_BYTES = 20 * 1024 * 1024  # per PDF or Word file: they carry fonts and images
# The text one upload may yield: as much as a text upload may hold. A small PDF or Word file can unpack
# to far more (a 1 MB .docx to 190 MiB); the check runs before the document is saved or indexed.
MAX_UPLOAD_CHARS = MAX_UPLOAD_BYTES
BINARY_KINDS = frozenset({"pdf", "docx", "html"})  # stored byte for byte (HTML may be in a legacy encoding)
ACCEPTED = ", ".join(sorted(SUPPORTED_SUFFIXES))
MAX_FILENAME_CHARS = 120


class UploadError(QAError):
    """A file or pasted text that cannot be added; the message names it and why."""


_UNSAFE_CHARS = re.compile(r"[^\w .()\[\]+,-]")


def safe_filename(name: Any) -> str:
    """A plain file name of a supported type that can only land inside the documents folder.

    Folders, ``..``, absolute paths, hidden names, control characters and
    other extensions are refused rather than repaired, so a user sees what
    was wrong; odd but harmless characters become ``_``.

    Raises:
        UploadError: the name is unusable; the message says why.
    """
    if not isinstance(name, str):
        raise UploadError(f"the file name must be text, got {type(name).__name__}")
    shown = name if len(name) <= 80 else name[:77] + "..."
    name = unicodedata.normalize("NFC", name.strip())
    if not name:
        raise UploadError("the file has no name")
    if any(unicodedata.category(ch) == "Cc" for ch in name):
        raise UploadError(f"{shown!r}: the file name contains control characters")
    if "/" in name or "\\" in name or name in (".", "..") or re.match(r"^[A-Za-z]:", name):
        raise UploadError(f"{shown!r}: give a plain file name, without folders or '..'")
    if name.startswith("."):
        raise UploadError(f"{shown!r}: hidden file names (starting with '.') are not indexed")
    stem, dot, suffix = name.rpartition(".")
    if not dot or f".{suffix.lower()}" not in SUPPORTED_SUFFIXES or not stem.strip(" ."):
        raise UploadError(f"{shown!r}: only these file types can be added: {ACCEPTED}")
    stem = _UNSAFE_CHARS.sub("_", stem).strip(" ")[: MAX_FILENAME_CHARS - len(suffix) - 1]
    return f"{stem}.{suffix.lower()}"


def title_filename(title: Any) -> str:
    """The file name for pasted text: the title with unsafe characters replaced, plus ``.txt``.

    Raises:
        UploadError: no usable title.
    """
    if not isinstance(title, str) or not title.strip():
        raise UploadError("give the pasted text a title: it becomes the document name shown in citations")
    title = unicodedata.normalize("NFC", title.strip())
    if title.lower().endswith((".txt", ".md")):
        title = title.rsplit(".", 1)[0]
    cleaned = re.sub(r"[^\w .()\[\]+,-]+", "-", title)
    cleaned = re.sub(r"-{2,}", "-", cleaned).strip(" .-_")[: MAX_FILENAME_CHARS - 4].rstrip(" .")
    if not cleaned:
        raise UploadError(f"the title {title[:80]!r} has no letters or digits to name a file with")
    return f"{cleaned}.txt"


def decode_text(name: str, data: bytes) -> str:
    """The text of an upload, if it is non-empty UTF-8 text within the size limit.

    Raises:
        UploadError: too large, empty, binary or not UTF-8.
    """
    if len(data) > MAX_UPLOAD_BYTES:
        raise UploadError(f"{name}: {_size(len(data))} is over the {_size(MAX_UPLOAD_BYTES)} limit per document")
    if looks_binary(data):
        raise UploadError(f"{name}: this looks like a binary file, not text; save it as .txt or .md first")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UploadError(f"{name}: not UTF-8 text (bad byte at position {exc.start}); save it as UTF-8 and try again") from None
    if not text.strip():
        raise UploadError(f"{name}: the file is empty")
    return text


def _size(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB" if n >= 1024 * 1024 else f"{n / 1024:.0f} KB" if n >= 1024 else f"{n} bytes"


def upload_limit(name: str) -> int:
    """The size limit for an upload with this (safe) name."""
    return MAX_BINARY_UPLOAD_BYTES if kind_of(name) in ("pdf", "docx") else MAX_UPLOAD_BYTES


@dataclass(frozen=True)
class NewDocument:
    """A checked document waiting to be written: a safe file name and its text
    (``.txt``/``.md``/pasted), or its bytes (``data``: PDF, Word, HTML)."""

    name: str
    text: str = ""
    data: bytes | None = field(default=None, repr=False)

    @property
    def content(self) -> bytes:
        return self.data if self.data is not None else self.text.encode("utf-8")


def prepare_upload(name: str, data: bytes) -> NewDocument:
    """Check an uploaded file's name and content.

    Raises:
        UploadError: the name or the content is unusable.
    """
    safe = safe_filename(name)
    if kind_of(safe) not in BINARY_KINDS:
        return NewDocument(safe, decode_text(safe, data))
    limit = upload_limit(safe)
    if len(data) > limit:
        raise UploadError(f"{safe}: {_size(len(data))} is over the {_size(limit)} limit per document")
    try:
        extract(safe, data, max_chars=MAX_UPLOAD_CHARS)  # refuse now what the index would skip later, or choke on
    except ExtractError as exc:
        raise UploadError(f"{safe}: {exc}") from None
    return NewDocument(safe, data=data)


def prepare_paste(title: str, text: Any) -> NewDocument:
    """Check pasted text and its title.

    Raises:
        UploadError: no title, or the text is empty or too large.
    """
    name = title_filename(title)
    if not isinstance(text, str) or not text.strip():
        raise UploadError("the pasted text is empty")
    return NewDocument(name, decode_text(name, text.encode("utf-8")))


def save_document(docs_dir: str | Path, doc: NewDocument) -> tuple[Path | None, str]:
    """Write ``doc`` into ``docs_dir`` without replacing any existing file.

    An existing file with the same text is left alone; one with other text
    keeps its name and the new document gets ``name (2).txt``. The write goes
    to a hidden temp file first (never indexed), then is hard-linked into
    place, which fails rather than overwrite a file that appeared meanwhile.

    Returns:
        ``(path written or None, what happened)``.

    Raises:
        UploadError: the final path would leave ``docs_dir`` (cannot happen
            with names from :func:`safe_filename`; checked anyway).
    """
    root = Path(docs_dir).resolve()
    root.mkdir(parents=True, exist_ok=True)
    stem, suffix = doc.name.rsplit(".", 1)
    for n in range(1, 1000):
        name = doc.name if n == 1 else f"{stem} ({n}).{suffix}"
        target = root / name
        if target.parent != root or target.name != name:
            raise UploadError(f"{doc.name!r} would be written outside the documents folder")
        if target.is_symlink() or target.exists():
            try:
                if target.is_file() and not target.is_symlink() and _same_content(target, doc):
                    return None, f"{name} is already in the documents folder with the same text"
            except (OSError, UnicodeDecodeError):
                pass
            continue
        tmp = root / f".upload-{secrets.token_hex(6)}.tmp"
        try:
            with open(tmp, "xb") as fh:
                fh.write(doc.content)
            # link() fails if a file appeared meanwhile, so nothing is ever overwritten.
            os.link(tmp, target)
        except FileExistsError:
            continue
        finally:
            tmp.unlink(missing_ok=True)
        note = "" if name == doc.name else f" ({doc.name} already exists with other text)"
        return target, f"saved as {name}{note}"
    raise UploadError(f"too many documents named like {doc.name}; rename the file")


def _same_content(path: Path, doc: NewDocument) -> bool:
    data = path.read_bytes()
    if doc.data is not None:
        return data == doc.data
    return data.decode("utf-8-sig") == doc.text
