"""Document -> passages of whole sentences, with exact character offsets.

Passages never cross a paragraph boundary (a short heading is joined to the
paragraph after it, so it gives that passage its context). A paragraph longer
than ``passage_chars`` becomes a window of sentences that overlaps the
previous one by up to ``overlap_chars``. A single sentence longer than
``passage_chars`` is cut at whitespace.
"""

from __future__ import annotations

from dataclasses import dataclass

from qa.ingest.sentences import Span, is_heading, split_paragraphs, split_sentences
from qa.types import Document, Region


@dataclass(frozen=True)
class PassageSpan:
    """Offsets of one passage and of the sentences in it."""

    start: int
    end: int
    sentences: tuple[Span, ...]


def chunk_text(text: str, passage_chars: int = 800, overlap_chars: int = 200) -> list[PassageSpan]:
    """Split ``text`` into passages; ``text[p.start:p.end]`` is each passage.

    Raises:
        ValueError: if the sizes are not positive or the overlap is not smaller
            than the passage size.
    """
    if passage_chars <= 0:
        raise ValueError(f"passage_chars must be > 0, got {passage_chars}")
    if not 0 <= overlap_chars < passage_chars:
        raise ValueError(f"overlap_chars must be in [0, passage_chars), got {overlap_chars}")
    passages: list[PassageSpan] = []
    pending_heading: list[Span] = []
    for para_start, para_end in split_paragraphs(text):
        sentences = _cap_sentences(text, split_sentences(text, para_start, para_end), passage_chars)
        if is_heading(text, para_start, para_end):
            pending_heading.extend(sentences)
            if sum(e - s for s, e in pending_heading) > passage_chars // 2:
                passages.extend(_windows(pending_heading, passage_chars, overlap_chars))
                pending_heading = []
            continue
        passages.extend(_windows(pending_heading + sentences, passage_chars, overlap_chars))
        pending_heading = []
    if pending_heading:
        passages.extend(_windows(pending_heading, passage_chars, overlap_chars))
    return passages


def chunk_document(document: Document, passage_chars: int = 800, overlap_chars: int = 200) -> list[tuple[PassageSpan, Region]]:
    """Chunk each page or section of ``document`` on its own, so no passage spans two.

    Offsets stay absolute: ``document.text[p.start:p.end]`` is each passage.
    """
    regions = document.regions or (Region(0, len(document.text)),)
    out: list[tuple[PassageSpan, Region]] = []
    for region in regions:
        piece = document.text[region.start : region.end]
        if region.section and piece == region.section[-1]:
            continue  # a heading with nothing under it: the passages below carry it in their section path
        for span in chunk_text(piece, passage_chars, overlap_chars):
            shift = region.start
            moved = PassageSpan(span.start + shift, span.end + shift, tuple((s + shift, e + shift) for s, e in span.sentences))
            out.append((moved, region))
    return out


def _windows(sentences: list[Span], passage_chars: int, overlap_chars: int) -> list[PassageSpan]:
    """Pack consecutive sentences into windows of at most ``passage_chars``."""
    windows: list[PassageSpan] = []
    i = 0
    while i < len(sentences):
        j = i + 1
        while j < len(sentences) and sentences[j][1] - sentences[i][0] <= passage_chars:
            j += 1
        chosen = tuple(sentences[i:j])
        windows.append(PassageSpan(chosen[0][0], chosen[-1][1], chosen))
        if j >= len(sentences):
            break
        # Step back over trailing sentences that fit in the overlap, but always advance.
        k = j
        while k - 1 > i and sentences[j - 1][1] - sentences[k - 1][0] <= overlap_chars:
            k -= 1
        i = k
    return windows


def _cap_sentences(text: str, sentences: list[Span], limit: int) -> list[Span]:
    """Cut sentences longer than ``limit`` at whitespace (or hard, if there is none)."""
    out: list[Span] = []
    for start, end in sentences:
        while end - start > limit:
            cut = text.rfind(" ", start + 1, start + limit)
            cut = cut if cut > start else start + limit
            out.append((start, cut))
            start = cut
            while start < end and text[start].isspace():
                start += 1
        if end > start:
            out.append((start, end))
    return out
