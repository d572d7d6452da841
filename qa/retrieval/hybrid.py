"""Hybrid retrieval: dense (FAISS) and BM25 candidates, re-scored with sentence-level evidence, fused.

The default fusion (``sentence-words``) also looks inside each candidate
passage: its sentence closest to the question (sentence vectors) and its
sentence holding most of the question's words, weighted by rarity.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Protocol

import numpy as np

from qa.query import Query
from qa.retrieval.fusion import DEFAULT_FUSION, FUSIONS, Mode, convex, rrf, sentence_convex, sentence_words, weighted
from qa.textutil import idf_weights, tokenize
from qa.types import Hit, Passage

SENTENCE_WORD_CACHE = 50_000  # passages whose sentences' words are kept between questions (about 1 KB each)


def read_many(mapping: Mapping[int, Any], ids: Iterable[int]) -> dict[int, Any]:
    """``mapping``'s values for ``ids`` (those it holds), in one batched read when it is remote (``get_many``)."""
    get_many = getattr(mapping, "get_many", None)
    if get_many is not None:
        return get_many(ids)
    out = {}
    for pid in ids:
        value = mapping.get(pid)
        if value is not None:
            out[pid] = value
    return out


def prefetch(mapping: Mapping[int, Any], ids: Iterable[int]) -> None:
    """Read ``ids`` ahead in one batch when ``mapping`` is remote (later reads hit its cache); nothing for a folder."""
    get_many = getattr(mapping, "get_many", None)
    if get_many is not None:
        get_many(ids)


def check_k(k: object) -> None:
    """Raises ValueError unless ``k`` (how many passages) is a whole number >= 1."""
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise ValueError(f"k must be a whole number >= 1, got {k!r}")


class Searchable(Protocol):
    """What retrieval reads of an index: its passages, sentence vectors and the two stores."""

    passages: Mapping[int, Passage]
    sentence_vectors: Mapping[int, np.ndarray]
    dense: object | None  # a vector store: search(vectors, k) -> [[(id, score)]]
    lexical: object  # a lexical store: search(tokens, k) -> [(id, score)], idf(token)


class HybridRetriever:
    """Searches ``data`` (read at every question, so it follows the index's updates)."""

    def __init__(self, data: Searchable) -> None:
        self.data = data
        self._sentence_words: dict[int, tuple[np.ndarray, np.ndarray, int]] = {}  # see words_of_sentences

    def forget(self) -> None:
        """Drop what is kept about passages: after an update, an id may come back with other text."""
        self._sentence_words.clear()

    def search(self, query: Query, k: int, mode: Mode, query_vector: np.ndarray | None,
               fusion: str = DEFAULT_FUSION) -> list[Hit]:
        """The ``k`` best passages; ``query_vector`` (1, dim) is needed unless ``mode`` is BM25.

        Raises:
            ValueError: ``k`` is not a whole number >= 1, or an unknown fusion.
        """
        check_k(k)
        if fusion not in FUSIONS:
            raise ValueError(f"unknown fusion {fusion!r}; choose {', '.join(FUSIONS[:-1])} or {FUSIONS[-1]}")
        fetch = max(50, 4 * k)
        dense_ranked: list[tuple[int, float]] = []
        sparse_ranked: list[tuple[int, float]] = []
        if query_vector is not None and mode is not Mode.BM25 and self.data.dense is not None:
            dense_ranked = self.data.dense.search(query_vector, fetch)[0]  # type: ignore[attr-defined]
        if mode in (Mode.BM25, Mode.HYBRID):
            sparse_ranked = self.data.lexical.search(list(query.tokens), fetch)  # type: ignore[attr-defined]
        if mode is Mode.DENSE:
            fused = dense_ranked
        elif mode is Mode.BM25:
            fused = sparse_ranked
        else:
            fused = self._fuse(query, query_vector, dense_ranked, sparse_ranked, fusion)
        dense_rank = {pid: r for r, (pid, _) in enumerate(dense_ranked, 1)}
        sparse_rank = {pid: r for r, (pid, _) in enumerate(sparse_ranked, 1)}
        passages = read_many(self.data.passages, [pid for pid, _ in fused[:k]])
        return [
            Hit(passages[pid], float(score), dense_rank.get(pid), sparse_rank.get(pid))
            for pid, score in fused[:k]
        ]

    def _fuse(self, query: Query, query_vector: np.ndarray | None, dense_ranked: list[tuple[int, float]],
              sparse_ranked: list[tuple[int, float]], fusion: str) -> list[tuple[int, float]]:
        if fusion == "convex":
            return convex(dense_ranked, sparse_ranked)
        if fusion == "weighted":
            return weighted([dense_ranked, sparse_ranked], [0.5, 0.5])
        if fusion == "rrf":
            return rrf([dense_ranked, sparse_ranked])
        ids = {pid for pid, _ in dense_ranked} | {pid for pid, _ in sparse_ranked}
        cosines = self.best_sentence_cosines(ids, query_vector)
        if fusion == "sentence":
            return sentence_convex(dense_ranked, sparse_ranked, cosines)
        return sentence_words(dense_ranked, sparse_ranked, cosines, self.best_sentence_word_shares(ids, query))

    def best_sentence_cosines(self, ids: set[int], query_vector: np.ndarray | None) -> dict[int, float]:
        """Each passage's highest sentence cosine with the question (passages without sentence vectors are left out)."""
        if query_vector is None:
            return {}
        found = read_many(self.data.sentence_vectors, sorted(ids))
        blocks = {pid: found[pid] for pid in sorted(found) if len(found[pid])}
        if not blocks:
            return {}
        cosines = np.concatenate(list(blocks.values())).astype(np.float32) @ np.asarray(query_vector, dtype=np.float32).reshape(-1)
        starts = np.cumsum([0] + [len(v) for v in blocks.values()])[:-1]
        return dict(zip(blocks, np.maximum.reduceat(cosines, starts).tolist()))

    def best_sentence_word_shares(self, ids: set[int], query: Query) -> dict[int, float]:
        """Per passage, the largest IDF-weighted share of the question's words that one of its sentences holds."""
        weights = idf_weights(query.tokens, self.data.lexical.idf)  # type: ignore[attr-defined]
        total = sum(weights.values())
        if not total or not ids:
            return {}
        order = sorted(ids)
        prefetch(self.data.passages, [pid for pid in order if pid not in self._sentence_words])
        parts = [self.words_of_sentences(pid) for pid in order]
        counts = np.array([n for _, _, n in parts], dtype=np.int64)
        first = np.concatenate([[0], np.cumsum(counts)[:-1]])
        words = np.concatenate([w for w, _, _ in parts])
        sentence = np.concatenate([s + f for (_, s, _), f in zip(parts, first.tolist())])
        values = np.zeros(len(words))
        for token, weight in weights.items():
            values[words == hash(token)] = weight
        best = np.zeros(len(order))
        if counts.sum():
            per_sentence = np.bincount(sentence, weights=values, minlength=int(counts.sum()))
            has = counts > 0
            best[has] = np.maximum.reduceat(per_sentence, first[has])
        return dict(zip(order, (best / total).tolist()))

    def words_of_sentences(self, pid: int) -> tuple[np.ndarray, np.ndarray, int]:
        """A passage's sentences' distinct words (hashed), the sentence of each, and how many sentences.

        Tokenized the first time a question reaches the passage (about 60 µs),
        then kept (about 1 KB; at most ``SENTENCE_WORD_CACHE`` passages). The hashes are Python's own, so they
        only ever meet hashes of the same process.
        """
        cached = self._sentence_words.get(pid)
        if cached is None:
            p = self.data.passages[pid]
            words: list[int] = []
            owner: list[int] = []
            for j, (start, end) in enumerate(p.sentences):
                distinct = {hash(t) for t in tokenize(p.text[start - p.start : end - p.start])}
                words.extend(distinct)
                owner.extend([j] * len(distinct))
            cached = (np.array(words, dtype=np.int64), np.array(owner, dtype=np.int32), len(p.sentences))
            if len(self._sentence_words) >= SENTENCE_WORD_CACHE:
                self._sentence_words.clear()
            self._sentence_words[pid] = cached
        return cached
