"""What an extractor returns, and the one error it raises."""

from __future__ import annotations

from dataclasses import dataclass, field

from qa.types import Region


class ExtractError(Exception):
    """A file that cannot be indexed; the message is the reason shown to the user."""


class EmptyDocument(ExtractError):
    """The file has no text at all: an indexed version of it is dropped, not kept."""


class TooLarge(ExtractError):
    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"too large: {human_size(size)}, the limit for this format is {human_size(limit)}")


def human_size(n: int) -> str:
    if n >= 2**20:
        return f"{n / 2**20:.1f} MiB".replace(".0 MiB", " MiB")
    return f"{n / 1024:.1f} KiB".replace(".0 KiB", " KiB") if n >= 1024 else f"{n} bytes"


@dataclass
class Extracted:
    """Indexable text; ``regions`` cover it in order (empty means one region)."""

    text: str
    regions: list[Region] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class Builder:
    """Appends paragraphs (separated by a blank line) and closes regions as it goes.

    Extractors describe structure ("a heading", "a paragraph", "a new page");
    the builder owns the offsets, so they are right by construction.
    """

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._length = 0
        self.regions: list[Region] = []
        self._region_start = 0
        self._page: int | None = None
        self._section: tuple[str, ...] = ()

    def paragraph(self, text: str) -> None:
        text = text.strip()
        if not text:
            return
        if self._length:
            self._parts.append("\n\n")
            self._length += 2
        self._parts.append(text)
        self._length += len(text)

    def new_region(self, *, page: int | None = None, section: tuple[str, ...] = ()) -> None:
        """Close the current region; what follows belongs to ``page``/``section``."""
        self._close()
        self._region_start = self._length + (2 if self._length else 0)
        self._page, self._section = page, section

    def heading(self, level: int, text: str, stack: list[tuple[int, str]]) -> None:
        """Start a section: ``stack`` holds the open (level, title) pairs and is updated."""
        text = " ".join(text.split())
        if not text:
            return
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, text))
        self.new_region(page=self._page, section=tuple(title for _, title in stack))
        self.paragraph(text)

    def _close(self) -> None:
        if self._length > self._region_start:
            self.regions.append(Region(self._region_start, self._length, self._page, self._section))

    def build(self, warnings: list[str] | None = None) -> Extracted:
        self._close()
        self._region_start = self._length
        return Extracted("".join(self._parts), self.regions, warnings or [])
