"""Plain text: the file decoded as UTF-8, newlines untouched, so offsets are file offsets."""

from __future__ import annotations

from qa.ingest.formats.base import ExtractError, Extracted


def decode_utf8(data: bytes) -> tuple[str, str | None]:
    """The text (leading BOM dropped) and a warning when bytes had to be replaced."""
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        text = data.decode("utf-8", errors="replace").removeprefix("\ufeff")
        return text, f"not valid UTF-8 (first bad byte at {exc.start}); read with replacement characters"


def looks_binary(data: bytes) -> bool:
    """NUL bytes or many control characters in the first 8 KiB mean 'not text'."""
    head = data[:8192]
    if b"\x00" in head:
        return True
    if not head:
        return False
    control = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13))
    return control / len(head) > 0.05


def extract_text(data: bytes) -> Extracted:
    if looks_binary(data):
        raise ExtractError("looks like a binary file, not text")
    text, warning = decode_utf8(data)
    return Extracted(text, [], [warning] if warning else [])
