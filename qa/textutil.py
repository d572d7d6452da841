"""Small text helpers shared by indexing, answering and evaluation."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Callable, Iterable

_WORD = re.compile(r"\w\w+|\d")
# A compact English stop-word list: question words are stop words for matching
# but kept by the answer-type features, which look at the raw question.
STOPWORDS = frozenset(
    """
    a an the and or but if of at by for with about against between into through during
    before after above below to from up down in out on off over under again further then
    once here there when where why how all any both each few more most other some such no
    nor not only own same so than too very can will just should now is are was were be
    been being have has had having do does did doing i me my myself we our ours you your
    he him his she her it its they them their what which who whom this that these those
    am would could also may might must shall s t don as until while
    """.split()
)


def encodes_as_utf8(text: str) -> bool:
    """False when ``text`` holds bytes that were not UTF-8 (Python keeps them as lone surrogates)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def normalize_whitespace(text: str) -> str:
    """Collapse runs of whitespace (newlines included) into single spaces."""
    return " ".join(text.split())


@lru_cache(maxsize=1)
def _stemmer():  # type: ignore[no-untyped-def]
    try:
        import Stemmer  # PyStemmer: Snowball, fast C implementation
    except ImportError:  # pragma: no cover - declared dependency, but stay usable without it
        return None
    return Stemmer.Stemmer("english")


@lru_cache(maxsize=1 << 17)
def _stem(word: str) -> str:
    """Snowball's stem of one word, remembered: stemming was two thirds of tokenizing a passage (0.7 µs a word)."""
    stemmer = _stemmer()
    return stemmer.stemWord(word) if stemmer is not None else word


def tokenize(text: str) -> list[str]:
    """Lower-cased, stop-word-free, stemmed word tokens for lexical matching."""
    return [_stem(w) for w in _WORD.findall(text.lower()) if w not in STOPWORDS]


def idf_weights(tokens: Iterable[str], idf: Callable[[str], float]) -> dict[str, float]:
    """Each distinct token's IDF, at least 0.1: how much a sentence holding it says it matches the question.

    The answer ranker's word-overlap features and the ``sentence-words`` fusion share it.
    """
    return {t: max(idf(t), 0.1) for t in set(tokens)}


def normalize_with_offsets(text: str) -> tuple[str, list[int]]:
    """``normalize_whitespace`` plus, for each output character, its index in ``text``.

    Lets offsets found in the normalised text (what the models read) be
    mapped back to the original characters.
    """
    out: list[str] = []
    index: list[int] = []
    pending_space = False
    for i, ch in enumerate(text):
        if ch.isspace():
            pending_space = bool(out)
            continue
        if pending_space:
            out.append(" ")
            index.append(i - 1)
            pending_space = False
        out.append(ch)
        index.append(i)
    return "".join(out), index


# Generic nouns that name the *kind* of answer after "which"/"what" (question
# classification in the style of Li & Roth): the answer sentence names the thing
# itself ("Vietnam"), rarely the kind ("country").
ANSWER_TYPE_NOUNS = frozenset(
    """
    country countries city cities state states nation town village place region province county continent
    island river mountain year years month day date century decade era period time person people man woman
    name names team company organization organisation group party language type kind sort form percentage
    amount number role title position job profession field event building street
    """.split()
)
_WH_HEAD = re.compile(r"\b(?:which|what)\s+(\w+)", re.I)


def matching_tokens(question: str) -> list[str]:
    """Question tokens that an answer sentence is expected to share.

    A generic noun after "which"/"what" names the kind of answer ("which
    *country*") while the answer sentence names the thing itself ("Vietnam"),
    so that noun is left out.
    """
    tokens = tokenize(question)
    head = _WH_HEAD.search(question)
    if head and head.group(1).lower() in ANSWER_TYPE_NOUNS:
        drop = set(tokenize(head.group(1)))
        tokens = [t for t in tokens if t not in drop] or tokens
    return tokens
