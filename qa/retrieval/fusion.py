"""Pure functions that merge ranked lists from the dense and lexical sides."""

from __future__ import annotations

from enum import Enum
from typing import Mapping, Sequence

Ranked = Sequence[tuple[int, float]]  # (id, score), best first

RRF_K = 60  # the standard constant from Cormack et al. (2009)
# Weight of the cosine in ``convex``; chosen on SQuAD *train* articles (hit@5 best at 0.7,
# hit@1 flat from 0.6 to 0.7), see README "Quality".
DENSE_WEIGHT = 0.7
# Weights of ``sentence`` fusion (passage cosine, best sentence cosine, BM25 / best BM25), the default:
# chosen on SQuAD *train* articles, retrieval alone. On the scorer's 100 training articles (3,000
# questions of each half) hit@5 rose from 0.936 / 0.943 (convex) to 0.948 / 0.953 and hit@1 from
# 0.806 / 0.811 to 0.830 / 0.833; on 20 held-out ones 0.956 -> 0.960 and 0.854 -> 0.871. Flat for
# sentence weights 0.6-0.75 and BM25 weights 0.2-0.25, see README "Quality".
SENTENCE_WEIGHTS = (0.1, 0.65, 0.25)
# Weights of ``sentence-words`` fusion (the default): those three terms, then the share of the
# question's words (IDF-weighted) in the passage's best-matching sentence. Chosen on the same
# train questions, retrieval alone: hit@5 0.948 / 0.953 -> 0.953 / 0.959, hit@1 0.830 / 0.833 ->
# 0.842 / 0.856 and hit@15 0.968 / 0.970 -> 0.975 / 0.976 over ``sentence``; on the 20 held-out
# articles hit@5 0.960 -> 0.963, hit@1 0.871 -> 0.884. Flat for word weights 0.2-0.35 with BM25 at
# 0.05-0.1, see README "Quality".
SENTENCE_WORDS_WEIGHTS = (0.1, 0.6, 0.05, 0.25)
# What `search`, `ask`, `qa eval` and the answer scorer's training retrieve with unless told otherwise.
DEFAULT_FUSION = "sentence-words"
FUSIONS = ("sentence-words", "sentence", "convex", "rrf", "weighted")


class Mode(str, Enum):
    """Which retriever(s) to use."""

    HYBRID = "hybrid"
    DENSE = "dense"
    BM25 = "bm25"

    @classmethod
    def from_str(cls, value: str | Mode) -> Mode:
        if isinstance(value, Mode):
            return value
        aliases = {"keyword": "bm25", "lexical": "bm25", "sparse": "bm25", "semantic": "dense"}
        value = aliases.get(str(value).lower(), str(value).lower())
        try:
            return cls(value)
        except ValueError:
            valid = ", ".join(m.value for m in cls)
            raise ValueError(f"unknown retrieval mode {value!r}; choose one of: {valid}") from None


def rrf(rankings: Sequence[Ranked], k: int = RRF_K) -> list[tuple[int, float]]:
    """Reciprocal-rank fusion: sum of 1 / (k + rank) over the lists an id appears in."""
    scores: dict[int, float] = {}
    for ranking in rankings:
        for rank, (item, _score) in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


def weighted(rankings: Sequence[Ranked], weights: Sequence[float]) -> list[tuple[int, float]]:
    """Weighted sum of min-max normalised scores; an id missing from a list gets 0 there."""
    scores: dict[int, float] = {}
    for ranking, weight in zip(rankings, weights, strict=True):
        if not ranking:
            continue
        values = [s for _, s in ranking]
        low, high = min(values), max(values)
        span = (high - low) or 1.0
        for item, score in ranking:
            scores[item] = scores.get(item, 0.0) + weight * (score - low) / span
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


def convex(dense: Ranked, lexical: Ranked, dense_weight: float = DENSE_WEIGHT) -> list[tuple[int, float]]:
    """``w * cosine + (1 - w) * bm25 / best_bm25``: scores, not just ranks, count.

    Cosines of unit vectors are already on a fixed scale; BM25 scores are not,
    so they are divided by the query's best BM25 score. An id missing from a
    list gets 0 from it. Measured better than RRF (README "Quality").
    """
    scores: dict[int, float] = {}
    for item, score in dense:
        scores[item] = dense_weight * score
    if lexical:
        best = lexical[0][1] or 1.0
        for item, score in lexical:
            scores[item] = scores.get(item, 0.0) + (1.0 - dense_weight) * score / best
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


def sentence_convex(dense: Ranked, lexical: Ranked, best_sentence: Mapping[int, float],
                    weights: tuple[float, float, float] = SENTENCE_WEIGHTS) -> list[tuple[int, float]]:
    """``convex`` with a third term: the cosine of the passage's sentence closest to the question.

    A question usually asks about one sentence; a passage's own vector averages
    all of them, so a passage whose answer sentence is one of six ranks low on it.
    ``best_sentence`` maps every id of both lists to that cosine (an id missing
    from it falls back to its passage cosine, or 0). Ids missing from ``dense``
    get 0 passage cosine, as in ``convex``.
    """
    w_passage, w_sentence, w_lexical = weights
    passage = dict(dense)
    lexical_best = (lexical[0][1] or 1.0) if lexical else 1.0
    bm25 = {item: score / lexical_best for item, score in lexical}
    scores = {
        item: w_passage * passage.get(item, 0.0)
        + w_sentence * best_sentence.get(item, passage.get(item, 0.0))
        + w_lexical * bm25.get(item, 0.0)
        for item in passage.keys() | bm25.keys()
    }
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))


def sentence_words(dense: Ranked, lexical: Ranked, best_sentence: Mapping[int, float], best_words: Mapping[int, float],
                   weights: tuple[float, float, float, float] = SENTENCE_WORDS_WEIGHTS) -> list[tuple[int, float]]:
    """``sentence_convex`` plus the share of the question's words found in the passage's best sentence for them.

    BM25 scores a passage by its words wherever they are; the answer to a
    question usually sits in the one sentence that repeats most of the
    question's (rare) words. ``best_words`` maps ids to that share, in [0, 1]
    (the sum of the IDF of the question words the sentence holds over the sum
    for all of them); a missing id gets 0.
    """
    w_passage, w_sentence, w_lexical, w_words = weights
    base = sentence_convex(dense, lexical, best_sentence, (w_passage, w_sentence, w_lexical))
    scores = {item: score + w_words * best_words.get(item, 0.0) for item, score in base}
    return sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))
