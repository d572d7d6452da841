"""Plain result records. Every offset is a character offset into the document's
original text (the file decoded as UTF-8, newlines untouched), so
``original[start:end] == text`` holds for passages, hits and citations alike."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class Region:
    """A part of a document's text from one page (PDF) or one section (under headings)."""

    start: int
    end: int
    page: int | None = None
    section: tuple[str, ...] = ()


@dataclass(frozen=True)
class Document:
    """One source file: its id is the path relative to the documents folder.

    ``text`` is what is indexed: the file itself for ``.txt``, the extracted
    text for other formats (``qa extract FILE`` prints it). ``sha256``
    fingerprints the file, so an unchanged file is never read again.
    ``regions`` map parts of the text to pages or sections (empty: none).
    """

    id: str
    text: str
    sha256: str
    regions: tuple[Region, ...] = ()


@dataclass(frozen=True)
class Passage:
    """A run of whole sentences from one paragraph of one document.

    ``number`` counts passages within the document (0-based) and is what a
    citation shows; ``id`` is the index-wide id shared by the vector and
    lexical stores. ``sentences`` are absolute ``(start, end)`` spans.
    ``page`` (1-based, PDFs) and ``section`` (the heading path, Markdown,
    HTML and Word) say where a person would look; a passage never spans two
    pages or two sections.
    """

    id: int
    doc: str
    number: int
    start: int
    end: int
    text: str
    sentences: tuple[tuple[int, int], ...] = ()
    page: int | None = None
    section: tuple[str, ...] = ()

    @property
    def location(self) -> str:
        return format_location(self.doc, self.page, self.section)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def format_location(doc: str, page: int | None = None, section: tuple[str, ...] = ()) -> str:
    """How a citation names its place: ``report.pdf, p. 4`` or ``guide.md > Installation > Linux``."""
    where = doc
    if page is not None:
        where += f", p. {page}"
    if section:
        where += " > " + " > ".join(section)
    return where


@dataclass(frozen=True)
class Hit:
    """A retrieved passage with its fused score and the rank on each side."""

    passage: Passage
    score: float
    dense_rank: int | None = None
    sparse_rank: int | None = None

    @property
    def doc(self) -> str:
        return self.passage.doc

    @property
    def text(self) -> str:
        return self.passage.text

    @property
    def start(self) -> int:
        return self.passage.start

    @property
    def end(self) -> int:
        return self.passage.end

    def to_dict(self) -> dict[str, Any]:
        return {
            "doc": self.doc,
            "passage": self.passage.number,
            "page": self.passage.page,
            "section": list(self.passage.section),
            "location": self.passage.location,
            "start": self.start,
            "end": self.end,
            "score": self.score,
            "dense_rank": self.dense_rank,
            "sparse_rank": self.sparse_rank,
            "text": self.text,
        }


@dataclass(frozen=True)
class Citation:
    """Where an answer came from: check it with ``original[start:end] == text``.

    ``span_start``/``span_end`` mark the shortest phrase inside the answer
    that answers the question (equal to ``start``/``end`` when no shorter
    span was found); ``passage_text`` is the surrounding passage for context.
    """

    doc: str
    passage: int
    start: int
    end: int
    text: str
    score: float
    passage_start: int
    passage_end: int
    passage_text: str
    span_start: int
    span_end: int
    page: int | None = None
    section: tuple[str, ...] = ()

    @property
    def span_text(self) -> str:
        return self.text[self.span_start - self.start : self.span_end - self.start]

    @property
    def location(self) -> str:
        """``report.pdf, p. 4`` / ``guide.md > Installation > Linux`` / ``notes.txt``."""
        return format_location(self.doc, self.page, self.section)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "section": list(self.section), "location": self.location}


@dataclass(frozen=True)
class Answer:
    """The reply to a question. ``found`` is False for a no-answer, in which
    case ``text`` is empty and ``hits`` shows what was looked at."""

    question: str
    text: str
    score: float
    citations: tuple[Citation, ...] = ()
    hits: tuple[Hit, ...] = field(default=(), repr=False)
    asked: str = ""  # the self-contained question that was searched, when it differs (a follow-up)

    @property
    def found(self) -> bool:
        return bool(self.citations)

    @property
    def span(self) -> str:
        """The short answer phrase inside ``text`` ('' for a no-answer)."""
        return self.citations[0].span_text if self.citations else ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "asked": self.asked or self.question,
            "found": self.found,
            "text": self.text,
            "span": self.span,
            "score": self.score,
            "citations": [c.to_dict() for c in self.citations],
            "hits": [h.to_dict() for h in self.hits],
        }
