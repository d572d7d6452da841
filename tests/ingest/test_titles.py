"""Document titles, and the text the models read for a passage: its title (or section path) first."""

from __future__ import annotations

from qa.ingest.titles import document_title, embedding_input
from qa.types import Document, Passage


def test_passages_are_read_after_their_document_title() -> None:
    text = "Harbour Report\n\nThe pier was rebuilt in 1990. It cost a lot.\n"
    doc = Document("notes/harbour_report-2024.txt", text, "x")
    assert document_title(doc) == "Harbour Report"
    assert document_title(Document("notes/harbour_report-2024.txt", "The pier was rebuilt.", "x")) == "harbour report 2024"
    start = text.index("The pier")
    mid = text.index(" It cost")
    passage = Passage(1, doc.id, 1, start, len(text) - 1, text[start:-1], ((start, mid), (mid + 1, len(text) - 1)))
    read, spans = embedding_input(passage, "Harbour Report")
    assert read == "Harbour Report: The pier was rebuilt in 1990. It cost a lot."
    assert [read[a:b] for a, b in spans] == ["The pier was rebuilt in 1990.", "It cost a lot."]
    first = Passage(0, doc.id, 0, 0, len(text) - 1, text[:-1], ((0, 14),))
    assert embedding_input(first, "Harbour Report")[0].startswith("Harbour Report The pier")  # no repeat
