"""Rule-based paragraph and sentence splitting that keeps exact character offsets.

A careful rule set instead of a statistical splitter: it is fast, has no
dependencies, and every span it returns is a slice of the input, so offsets
can never drift. It handles abbreviations (``Dr.``, ``U.S.``, ``e.g.``),
initials (``J. R. R. Tolkien``), decimals (``3.14``), ellipses and closing
quotes/brackets after the terminator.
"""

from __future__ import annotations

import re

Span = tuple[int, int]

# Words that end in a period without ending a sentence (compared lower-case,
# without the final period).
ABBREVIATIONS = frozenset(
    """
    mr mrs ms dr prof sr jr st mt ft gen col lt sgt capt cmdr adm gov sen rep rev hon
    pres supt messrs mme mlle vs v cf e.g i.e viz al approx est fig figs eq no nos vol
    vols pp ch sec art dept univ assn bros jan feb mar apr jun jul aug sep sept oct nov
    dec u.s u.k u.n u.s.a e.u d.c a.m p.m ph.d b.a m.a b.sc m.sc ca c op
    """.split()
)
# Abbreviations that only bind to a following number ("No. 5", "p. 12").
NUMBER_ABBREVIATIONS = frozenset({"no", "nos", "p", "pp", "vol", "fig", "art", "sec", "ch"})

_TERMINATOR = re.compile(r"(?:[.!?]+|…)[\"'”’»)\]]*(?=\s)")
_NEXT_START = re.compile(r"\s+[\"'“‘«(\[]*(\S)")
_WORD_BEFORE = re.compile(r"([\w.]+)$")
_LIST_MARKER = re.compile(r"[ \t]*(?:[-*•+]|\d{1,3}[.)]|#{1,6})[ \t]+")
_HEADING_LINE = re.compile(r"[ \t]*#{1,6}[ \t]")
_SENTENCE_END = re.compile(r"[.!?…:][\"'”’»)\]]*\s*$")


def split_paragraphs(text: str) -> list[Span]:
    """Split ``text`` into paragraph spans (whitespace trimmed).

    Blank lines always separate paragraphs. A single newline also does,
    unless the file is hard-wrapped (it has blank-line paragraphs and no long
    lines), in which case it is just a space, except before list items and
    around Markdown headings.
    """
    lines: list[Span] = []
    pos = 0
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n\u2028\u2029\x0b\x0c\x1c\x1d\x1e\x85")
        lines.append((pos, pos + len(body)))
        pos += len(line)
    nonblank = [(s, e) for s, e in lines if text[s:e].strip()]
    has_blank = len(nonblank) < len(lines)
    hard_wrapped = has_blank and bool(nonblank) and max(e - s for s, e in nonblank) <= 120

    paragraphs: list[Span] = []
    current: Span | None = None
    for s, e in lines:
        line = text[s:e]
        if not line.strip():
            if current:
                paragraphs.append(current)
            current = None
            continue
        starts_new = (
            current is None
            or not hard_wrapped
            or _LIST_MARKER.match(line) is not None
            or _HEADING_LINE.match(line) is not None
            or _HEADING_LINE.match(text[current[0] : current[1]]) is not None
        )
        if starts_new:
            if current:
                paragraphs.append(current)
            current = (s, e)
        else:
            current = (current[0], e)
    if current:
        paragraphs.append(current)
    return [_trim(text, s, e) for s, e in paragraphs if text[s:e].strip()]


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[Span]:
    """Sentence spans inside ``text[start:end]`` (one paragraph), trimmed.

    A leading list marker or Markdown heading marker is left out of the
    first sentence, so an answer never begins with ``- `` or ``## ``.
    """
    end = len(text) if end is None else end
    marker = _LIST_MARKER.match(text, start, end)
    if marker and marker.end() < end:
        start = marker.end()
    spans: list[Span] = []
    sentence_start = start
    for match in _TERMINATOR.finditer(text, start, end):
        nxt = _NEXT_START.match(text, match.end(), end)
        if nxt is None:
            continue
        if not _is_boundary(text, sentence_start, match, nxt.group(1)):
            continue
        spans.append(_trim(text, sentence_start, match.end()))
        sentence_start = match.end()
    spans.append(_trim(text, sentence_start, end))
    return [(s, e) for s, e in spans if e > s]


def _is_boundary(text: str, sentence_start: int, match: re.Match[str], next_char: str) -> bool:
    """Decide whether the terminator in ``match`` really ends a sentence."""
    if not (next_char.isupper() or next_char.isdigit() or not next_char.isalpha()):
        return False  # lower-case continuation: "e.g. the", '"Stop!" he said'
    terminator = match.group(0)
    if not terminator.startswith(".") or terminator.startswith(".."):
        return True  # ! ? and ellipses end sentences when a capital follows
    if len(terminator.rstrip("\"'”’»)]")) > 1:
        return True
    word = _WORD_BEFORE.search(text, sentence_start, match.start())
    if word is None:
        return True
    token = word.group(1).lower().strip(".")
    if len(token) == 1 and token.isalpha():
        return False  # an initial: "J. R. R. Tolkien", "George W. Bush"
    if token in NUMBER_ABBREVIATIONS:
        return not next_char.isdigit()
    if token in ABBREVIATIONS:
        return False
    # Dotted acronyms not in the list ("N.A.S.A.") behave like abbreviations.
    return not re.fullmatch(r"(?:\w\.)+\w", token)


def is_heading(text: str, start: int, end: int) -> bool:
    """A short paragraph without sentence-final punctuation: a title or heading."""
    body = text[start:end]
    return (end - start) <= 100 and "\n" not in body and _SENTENCE_END.search(body) is None


def _trim(text: str, start: int, end: int) -> Span:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end
