"""Pure functions that merge ranked lists from the dense and lexical sides."""

from __future__ import annotations

from enum import Enum
from typing import Sequence

Ranked = Sequence[tuple[int, float]]  # (id, score), best first

RRF_K = 60  # the standard constant from Cormack et al. (2009)
# Weight of the cosine in ``convex``; chosen on SQuAD *train* articles (hit@5 best at 0.7,
# hit@1 flat from 0.6 to 0.7), see README "Quality".
DENSE_WEIGHT = 0.7


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
