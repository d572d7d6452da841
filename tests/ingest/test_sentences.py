"""Sentence and paragraph splitting: every span is a trimmed slice of the input."""

from __future__ import annotations

import pytest

from qa.ingest.sentences import is_heading, split_paragraphs, split_sentences


def sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in split_sentences(text)]


def paragraphs(text: str) -> list[str]:
    return [text[s:e] for s, e in split_paragraphs(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # abbreviations
        ("Dr. Smith went to Washington. He arrived on Monday.", ["Dr. Smith went to Washington.", "He arrived on Monday."]),
        ("Mr. and Mrs. Smith arrived. They sat down.", ["Mr. and Mrs. Smith arrived.", "They sat down."]),
        ("The U.S. economy grew. The E.U. did not.", ["The U.S. economy grew.", "The E.U. did not."]),
        ("He served in the U.S. Army for years.", ["He served in the U.S. Army for years."]),
        ("Eat fruit, e.g. an apple. It helps.", ["Eat fruit, e.g. an apple.", "It helps."]),
        ("The N.A.S.A. Team won. Others lost.", ["The N.A.S.A. Team won.", "Others lost."]),
        ("See No. 5 on the list. Then p. 12 explains it.", ["See No. 5 on the list.", "Then p. 12 explains it."]),
        # initials
        ("J. R. R. Tolkien wrote books. He was born in 1892.", ["J. R. R. Tolkien wrote books.", "He was born in 1892."]),
        ("George W. Bush spoke. Everyone listened.", ["George W. Bush spoke.", "Everyone listened."]),
        # decimals and numbers
        ("Pi is about 3.14 in value. It is irrational.", ["Pi is about 3.14 in value.", "It is irrational."]),
        ("Version 2.0 was released. Great news.", ["Version 2.0 was released.", "Great news."]),
        ("It ended in 1990. 2000 was different.", ["It ended in 1990.", "2000 was different."]),
        # quotes and brackets after the terminator
        ('"Stop!" he said. Then he left.', ['"Stop!" he said.', "Then he left."]),
        ('She said, "I am done." Then she left.', ['She said, "I am done."', "Then she left."]),
        ("He said \u201cGo now.\u201d Then he went.", ["He said \u201cGo now.\u201d", "Then he went."]),
        ("(This is bracketed.) Next one.", ["(This is bracketed.)", "Next one."]),
        # other terminators
        ("Is it here? Yes! Good.", ["Is it here?", "Yes!", "Good."]),
        ("Wait... What happened? Nothing!", ["Wait...", "What happened?", "Nothing!"]),
        # no terminator at all, surrounding whitespace
        ("  no full stop here  ", ["no full stop here"]),
    ],
)
def test_sentence_boundaries(text: str, expected: list[str]) -> None:
    assert sentences(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("- Create a virtual environment.", "Create a virtual environment."),
        ("* Starred item", "Starred item"),
        ("1. Numbered step", "Numbered step"),
        ("2) Other numbering", "Other numbering"),
        ("## A heading", "A heading"),
    ],
)
def test_list_and_heading_markers_are_left_out_of_the_sentence(text: str, expected: str) -> None:
    assert sentences(text) == [expected]


def test_sentences_of_a_slice_keep_absolute_offsets() -> None:
    text = "Intro line.\n\nFirst one. Second one.\n"
    start = text.index("First")
    spans = split_sentences(text, start, len(text))
    assert [text[s:e] for s, e in spans] == ["First one.", "Second one."]
    assert spans[0][0] == start


def test_empty_and_blank_text_have_no_sentences() -> None:
    assert split_sentences("") == []
    assert split_sentences(" \n\t ") == []


def test_blank_lines_separate_paragraphs_and_markdown_blocks() -> None:
    text = "# Title\n\nSome text here.\nIt goes on.\n\n- one\n- two\n"
    assert paragraphs(text) == ["# Title", "Some text here.\nIt goes on.", "- one", "- two"]


def test_hard_wrapped_lines_join_into_one_paragraph() -> None:
    text = "This paragraph was wrapped\nby an editor at a short width.\nIt continues here.\n\nSecond paragraph.\n"
    assert paragraphs(text) == [
        "This paragraph was wrapped\nby an editor at a short width.\nIt continues here.",
        "Second paragraph.",
    ]
    first = split_paragraphs(text)[0]
    assert [text[s:e] for s, e in split_sentences(text, *first)] == [
        "This paragraph was wrapped\nby an editor at a short width.",
        "It continues here.",
    ]


def test_heading_line_in_hard_wrapped_text_stays_separate() -> None:
    text = "Some wrapped text\nthat goes on.\n## Next part\nMore text.\n\nEnd.\n"
    assert paragraphs(text) == ["Some wrapped text\nthat goes on.", "## Next part", "More text.", "End."]


def test_without_blank_lines_every_line_is_a_paragraph() -> None:
    text = "Line one has no full stop\nLine two has none either\n"
    assert paragraphs(text) == ["Line one has no full stop", "Line two has none either"]


def test_long_lines_mean_the_file_is_not_hard_wrapped() -> None:
    long_line = "word " * 40  # 200 characters: a file with lines this long is not hard-wrapped
    text = f"{long_line.strip()}\nnext line starts a new paragraph\n\nlast\n"
    assert paragraphs(text) == [long_line.strip(), "next line starts a new paragraph", "last"]


def test_crlf_is_never_part_of_a_span_edge() -> None:
    text = "Windows notes\r\n\r\nFirst line of text\r\nwraps here. Another one.\r\n\r\n- item\r\n"
    assert paragraphs(text) == ["Windows notes", "First line of text\r\nwraps here. Another one.", "- item"]
    for s, e in split_paragraphs(text):
        for a, b in split_sentences(text, s, e):
            assert text[a:b] == text[a:b].strip()
    para = split_paragraphs(text)[1]
    assert [text[s:e] for s, e in split_sentences(text, *para)] == ["First line of text\r\nwraps here.", "Another one."]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The Solar System", True),
        ("## Steps", True),
        ("Jupiter is the largest planet.", False),
        ("Read this:", False),
        ("A" * 101, False),
    ],
)
def test_is_heading(text: str, expected: bool) -> None:
    assert is_heading(text, 0, len(text)) is expected
