"""Passages: whole sentences, exact offsets, bounded size, overlap, full coverage."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa.ingest.chunking import PassageSpan, chunk_text

LINE_BREAKS = "\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
MARKER_CHARS = set("-*\u2022+#0123456789.)")
PROPERTY_SETTINGS = settings(max_examples=400, deadline=None, derandomize=True, database=None)


def check_passages(text: str, passages: list[PassageSpan], passage_chars: int) -> None:
    """The invariants every chunking of every text must satisfy."""
    covered = [False] * len(text)
    previous_start = -1
    for p in passages:
        body = text[p.start : p.end]
        assert 0 <= p.start < p.end <= len(text)
        assert body == body.strip() and body, f"passage {body!r} is not trimmed"
        assert p.end - p.start <= passage_chars
        assert p.start > previous_start, "passages must advance"
        previous_start = p.start
        assert p.sentences, "a passage holds at least one sentence"
        assert (p.sentences[0][0], p.sentences[-1][1]) == (p.start, p.end)
        for (s, e), following in zip(p.sentences, p.sentences[1:] + ((p.end, p.end),)):
            assert p.start <= s < e <= p.end
            assert e <= following[0], "sentences are in order and do not overlap"
            assert not text[s].isspace() and not text[e - 1].isspace()
        for i in range(p.start, p.end):
            covered[i] = True
    for i, ch in enumerate(text):
        if covered[i] or ch.isspace():
            continue
        # Only a list or heading marker at the start of a line may be left out.
        line_start = max(text.rfind(b, 0, i) for b in LINE_BREAKS) + 1
        prefix = text[line_start : i + 1]
        assert set(prefix) <= MARKER_CHARS | set(" \t"), f"character {i} ({ch!r}) of {text!r} is in no passage"


def spans(text: str, passages: list[PassageSpan]) -> list[str]:
    return [text[p.start : p.end] for p in passages]


# Pieces that exercise the splitter: abbreviations, decimals, quotes, markers, odd line breaks.
PIECES = st.sampled_from(
    [
        "a", "b", "Z", "Q", "é", "7", "19", " ", " ", "  ", "\t", "\n", "\n\n", "\r\n", "\r", "\u2028", "\x0c", "\u00a0",
        ".", ". ", "!", "? ", "...", "\u2026", '"', "'", "\u201d", "(", ")", "[", "-", "- ", "* ", "1. ", "## ", "# ",
        "Dr. ", "U.S. ", "e.g. ", "J. ", "3.14", "No. 5", "word ", "Word ", "sentence. ", "Capital. Next ",
        "The end.\n\n", "Heading\n\n", "x" * 60, "long " * 30,
    ]
)
STRUCTURED_TEXT = st.lists(PIECES, max_size=120).map("".join)
SIZES = st.integers(min_value=50, max_value=400).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n - 1)))


@PROPERTY_SETTINGS
@given(text=STRUCTURED_TEXT, sizes=SIZES)
def test_passages_are_exact_trimmed_slices_covering_the_text(text: str, sizes: tuple[int, int]) -> None:
    passage_chars, overlap_chars = sizes
    check_passages(text, chunk_text(text, passage_chars, overlap_chars), passage_chars)


@PROPERTY_SETTINGS
@given(text=st.text(max_size=400), sizes=SIZES)
def test_passages_of_arbitrary_unicode_satisfy_the_invariants(text: str, sizes: tuple[int, int]) -> None:
    passage_chars, overlap_chars = sizes
    check_passages(text, chunk_text(text, passage_chars, overlap_chars), passage_chars)


def test_check_passages_detects_a_gap() -> None:
    # The property checker itself must be able to fail.
    text = "One sentence. Another sentence."
    bad = [PassageSpan(0, 13, ((0, 13),))]
    with pytest.raises(AssertionError, match="in no passage"):
        check_passages(text, bad, 800)


def test_heading_is_joined_to_the_paragraph_after_it() -> None:
    text = "The Solar System\n\nJupiter is the largest planet. Saturn has rings.\n\nMars is red.\n"
    assert spans(text, chunk_text(text)) == [
        "The Solar System\n\nJupiter is the largest planet. Saturn has rings.",
        "Mars is red.",
    ]
    first = chunk_text(text)[0]
    assert [text[s:e] for s, e in first.sentences] == ["The Solar System", "Jupiter is the largest planet.", "Saturn has rings."]


def test_passages_do_not_cross_paragraphs() -> None:
    text = "First paragraph here. It is short.\n\nSecond paragraph here. Also short.\n"
    assert spans(text, chunk_text(text, 800, 100)) == [
        "First paragraph here. It is short.",
        "Second paragraph here. Also short.",
    ]


def test_long_paragraph_becomes_overlapping_windows_of_whole_sentences() -> None:
    sentence_texts = [f"Sentence number {i} says something new." for i in range(20)]
    text = " ".join(sentence_texts)
    passages = chunk_text(text, passage_chars=200, overlap_chars=90)
    assert len(passages) > 3
    seen: list[str] = []
    for previous, current in zip(passages, passages[1:]):
        shared = set(previous.sentences) & set(current.sentences)
        assert shared, "consecutive windows share sentences"
        assert previous.end - current.start <= 90
        assert current.start > previous.start
    for p in passages:
        assert p.end - p.start <= 200
        seen.extend(text[s:e] for s, e in p.sentences)
    assert sorted(set(seen)) == sorted(sentence_texts)


def test_zero_overlap_windows_are_disjoint() -> None:
    text = " ".join(f"Short sentence {i} here." for i in range(30))
    passages = chunk_text(text, passage_chars=100, overlap_chars=0)
    for previous, current in zip(passages, passages[1:]):
        assert previous.end <= current.start
    assert sum(len(p.sentences) for p in passages) == 30


def test_overlong_sentence_is_cut_at_whitespace() -> None:
    text = " ".join(["word"] * 60) + "."  # one 300-character sentence
    passages = chunk_text(text, passage_chars=100, overlap_chars=0)
    assert len(passages) >= 3
    for p in passages:
        body = text[p.start : p.end]
        assert len(body) <= 100
        assert body.startswith("word") and body == body.strip()
    assert " ".join(text[p.start : p.end] for p in passages) == text


def test_overlong_word_is_cut_hard() -> None:
    text = "x" * 250
    passages = chunk_text(text, passage_chars=100, overlap_chars=0)
    assert spans(text, passages) == ["x" * 100, "x" * 100, "x" * 50]


def test_list_items_are_separate_passages_without_their_markers() -> None:
    text = "Steps\n\n- Create a virtual environment first.\n- Run the index command.\n1. Ask a question.\n"
    assert spans(text, chunk_text(text)) == [
        "Steps\n\n- Create a virtual environment first.",
        "Run the index command.",
        "Ask a question.",
    ]


def test_unicode_offsets_are_character_offsets() -> None:
    text = "Caf\u00e9 cr\u00e8me co\u00fbte 3,50 \u20ac. \U0001f600 Emoji come next! \u00dcber \u65e5\u672c\u8a9e ends here."
    passages = chunk_text(text)
    assert len(passages) == 1
    p = passages[0]
    assert text[p.start : p.end] == text
    assert [text[s:e] for s, e in p.sentences] == [
        "Caf\u00e9 cr\u00e8me co\u00fbte 3,50 \u20ac.",
        "\U0001f600 Emoji come next!",
        "\u00dcber \u65e5\u672c\u8a9e ends here.",
    ]


@pytest.mark.parametrize("text", ["", "   ", "\n\n\r\n\t"])
def test_blank_text_has_no_passages(text: str) -> None:
    assert chunk_text(text) == []


@pytest.mark.parametrize(("passage_chars", "overlap_chars"), [(0, 0), (-5, 0), (100, 100), (100, 150), (100, -1)])
def test_bad_sizes_are_rejected(passage_chars: int, overlap_chars: int) -> None:
    with pytest.raises(ValueError, match="must be"):
        chunk_text("Some text.", passage_chars, overlap_chars)
