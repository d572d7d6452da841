"""Titles of documents, and what the models read for a passage (its text after its heading path or title)."""

from __future__ import annotations

import bisect
from pathlib import Path

from qa.ingest.sentences import is_heading, split_paragraphs
from qa.textutil import normalize_whitespace, normalize_with_offsets
from qa.types import Document, Passage


def embedding_input(passage: Passage, title: str = "") -> tuple[str, list[tuple[int, int]]]:
    """What the models read for a passage, and its sentences' spans inside it.

    The normalised passage text, after its heading path when it has one
    ("Guide > Installation > Linux: ...") or else its document's ``title``,
    so a passage deep in a document still matches questions that name the
    document's or section's subject.
    """
    text, where = normalize_with_offsets(passage.text)
    context = " > ".join(passage.section) if passage.section else title
    prefix = f"{context}: " if context and not text.startswith(context) else ""
    spans = []
    for start, end in passage.sentences:
        a = bisect.bisect_left(where, start - passage.start)
        b = bisect.bisect_left(where, end - passage.start)
        spans.append((a + len(prefix), b + len(prefix)))
    return prefix + text, spans


def document_title(document: Document) -> str:
    """A document's first paragraph when it is a heading, else its file name as words."""
    paragraphs = split_paragraphs(document.text)
    if paragraphs:
        start, end = paragraphs[0]
        if is_heading(document.text, start, end):
            return normalize_whitespace(document.text[start:end]).lstrip("#").strip()
    return file_title(document.id)


def file_title(doc: str) -> str:
    """A file name as words: ``New_Delhi.txt`` -> ``New Delhi``."""
    return " ".join(Path(doc).stem.replace("_", " ").replace("-", " ").split())
