"""The lexical store: BM25 over the same passage ids as the vector store.

The scores are bm25s's (Lucene BM25, k1 = 1.5, b = 0.75; a test checks them
against bm25s), but the index is built here, with numpy and scipy, from the
token ids every passage keeps:

* adding or removing passages tokenises only the new text;
* BM25 has no cheap incremental form (every score depends on the corpus
  size and mean passage length), and bm25s has no update at all, so the
  term-by-passage score matrix is rebuilt from the stored token ids after a
  change: no text processing, vectorised (100k passages: 0.5 s, against
  3.6 s for bm25s's own ``index`` of the same ids, which also holds every
  token as a Python int, and 11 s to re-tokenise; ``bench/bm25.py``);
* the matrix is saved (``.npy``, compressed sparse columns) and memory-mapped
  on open, so a query reads only the columns of its own words.

Saved as JSON and ``.npy`` files loaded with ``allow_pickle=False``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np

from qa.errors import IndexCorruptError
from qa.files import atomic_path, write_json_atomic
from qa.textutil import tokenize

K1 = 1.5
B = 0.75
FILES = ("vocab.json", "ids.npy", "offsets.npy", "tokens.npy", "indptr.npy", "rows.npy", "weights.npy")
FULL_CHECK_TOKENS = 20_000_000  # token arrays up to this size are range-checked on load
_TOKEN_CHUNK = 10_000_000  # tokens per block when building the matrix (bounds temporary memory)


class BM25Store:
    """add / remove / search / save / load over passage ids."""

    def __init__(self) -> None:
        self._vocab: dict[str, int] = {}
        # The corpus: passage ids (sorted), token ids of passage i at tokens[offsets[i]:offsets[i + 1]].
        self._ids = np.zeros(0, dtype=np.int64)
        self._offsets = np.zeros(1, dtype=np.int64)
        self._tokens = np.zeros(0, dtype=np.int32)
        self._added: dict[int, np.ndarray] = {}  # pending, not yet merged into the arrays
        self._removed: set[int] = set()  # pending removals of ids in self._ids
        # The score matrix, compressed by term: passages with term t are rows[indptr[t]:indptr[t + 1]].
        self._indptr = np.zeros(1, dtype=np.int64)
        self._rows = np.zeros(0, dtype=np.int32)
        self._weights = np.zeros(0, dtype=np.float32)
        self._fresh = True  # the matrix matches the corpus

    def __len__(self) -> int:
        return len(self._ids) - len(self._removed) + len(self._added)

    def add(self, ids: Sequence[int], texts: Sequence[str]) -> None:
        self.add_tokens(ids, [tokenize(text) for text in texts])

    def add_tokens(self, ids: Sequence[int], token_lists: Sequence[Sequence[str]]) -> None:
        """Add passages already tokenised by ``textutil.tokenize`` (e.g. read back from a remote index)."""
        vocab = self._vocab
        for pid, tokens in zip(ids, token_lists, strict=True):
            token_ids = [vocab.setdefault(t, len(vocab)) for t in tokens]
            self.remove([pid])  # adding an id again replaces it
            self._added[int(pid)] = np.asarray(token_ids, dtype=np.int32)
        self._fresh = False

    def token_arrays(self) -> tuple[np.ndarray, np.ndarray, int]:
        """The saved corpus as ``build_matrix`` reads it: passage offsets, token ids, vocabulary size (benchmarks)."""
        self.refresh()
        return self._offsets, self._tokens, len(self._vocab)

    def vocabulary(self) -> dict[str, int]:
        """Token -> token id (a copy)."""
        return dict(self._vocab)

    def add_copies(self, ids: Sequence[int], of: Sequence[int]) -> None:
        """Add passages with the same text as the not yet saved passages ``of`` (no tokenizing: synthetic corpora)."""
        for pid, source in zip(ids, of, strict=True):
            tokens = self._added[int(source)]
            self.remove([pid])
            self._added[int(pid)] = tokens
        self._fresh = False

    def remove(self, ids: Sequence[int]) -> None:
        for pid in ids:
            pid = int(pid)
            if self._added.pop(pid, None) is not None:
                self._fresh = False
            elif pid not in self._removed and self._holds(pid):
                self._removed.add(pid)
                self._fresh = False

    def search(self, query: str | list[str], k: int) -> list[tuple[int, float]]:
        """Top ``k`` (id, BM25 score) pairs with a positive score, best first.

        ``query`` is text, or tokens already made by ``textutil.tokenize``.
        A word repeated in the query counts once per occurrence (as in bm25s).
        """
        tokens = tokenize(query) if isinstance(query, str) else query
        token_ids = [self._vocab[t] for t in tokens if t in self._vocab]  # unknown words match nothing
        if not token_ids or not len(self) or k <= 0:
            return []
        self.refresh()
        scores = np.zeros(len(self._ids), dtype=np.float32)
        try:
            for t in token_ids:
                a, b = int(self._indptr[t]), int(self._indptr[t + 1])
                scores[self._rows[a:b]] += self._weights[a:b]  # a term's rows are distinct
        except IndexError:
            raise IndexCorruptError("lexical index has a passage number out of range; rebuild with `qa index --rebuild`") from None
        candidates = np.flatnonzero(scores)  # every weight is > 0: the passages with a query word
        values = scores[candidates]
        k = min(k, len(candidates))
        if not k:
            return []
        top = np.argpartition(-values, k - 1)[:k]
        top = top[np.lexsort((candidates[top], -values[top]))]  # best first; ties by passage order
        return [(int(self._ids[candidates[i]]), float(values[i])) for i in top if values[i] > 0]

    def idf(self, token: str) -> float:
        """Inverse document frequency of a (tokenised) word (BM25's formula); 0 for an empty store."""
        if not len(self):
            return 0.0
        self.refresh()
        tid = self._vocab.get(token)
        # A word no passage contains is as rare as a word can be: it gets the highest idf.
        df = int(self._indptr[tid + 1] - self._indptr[tid]) if tid is not None and tid + 1 < len(self._indptr) else 0
        return float(_idf(df, len(self._ids)))

    def save(self, folder: str | Path) -> None:
        """Write ``vocab.json`` and the ``.npy`` arrays of the corpus and its score matrix."""
        self.refresh()
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        vocab = sorted(self._vocab, key=self._vocab.__getitem__)
        write_json_atomic(folder / "vocab.json", vocab)
        arrays = {"ids": self._ids, "offsets": self._offsets, "tokens": self._tokens,
                  "indptr": self._indptr, "rows": self._rows, "weights": self._weights}
        for name, array in arrays.items():
            with atomic_path(folder / f"{name}.npy") as tmp:
                with open(tmp, "wb") as fh:
                    np.save(fh, np.asarray(array), allow_pickle=False)

    @classmethod
    def load(cls, folder: str | Path) -> BM25Store:
        """Memory-maps the arrays; raises IndexCorruptError when files are missing or disagree."""
        folder = Path(folder)
        store = cls()
        try:
            vocab = json.loads((folder / "vocab.json").read_text(encoding="utf-8"))
            if not isinstance(vocab, list):
                raise ValueError("vocab.json is not a list")
            arrays = {name: np.load(folder / f"{name}.npy", mmap_mode="r", allow_pickle=False)
                      for name in ("ids", "offsets", "tokens", "indptr", "rows", "weights")}
            ids, offsets, tokens = arrays["ids"], arrays["offsets"], arrays["tokens"]
            indptr, rows, weights = arrays["indptr"], arrays["rows"], arrays["weights"]
            expected = {"ids": np.int64, "offsets": np.int64, "tokens": np.int32,
                        "indptr": np.int64, "rows": np.int32, "weights": np.float32}
            for name, dtype in expected.items():
                if arrays[name].dtype != dtype or arrays[name].ndim != 1:
                    raise ValueError(f"{name}.npy has type {arrays[name].dtype}{arrays[name].shape}")
            if len(offsets) != len(ids) + 1 or offsets[0] != 0 or offsets[-1] != len(tokens):
                raise ValueError("array lengths disagree")
            if len(indptr) != len(vocab) + 1:
                raise ValueError(f"token id out of range: the matrix has {len(indptr) - 1} terms, the vocabulary {len(vocab)}")
            if indptr[0] != 0 or indptr[-1] != len(rows) or len(rows) != len(weights):
                raise ValueError("score matrix lengths disagree")
            if len(tokens) <= FULL_CHECK_TOKENS:  # larger indexes are checked as they are read
                if len(tokens) and (tokens.min() < 0 or tokens.max() >= len(vocab)):
                    raise ValueError("token id out of range")
                if len(rows) and (rows.min() < 0 or rows.max() >= len(ids)):
                    raise ValueError("passage number out of range")
                if len(ids) > 1 and np.any(ids[1:] <= ids[:-1]):
                    raise ValueError("passage ids are not sorted")
        except (OSError, EOFError, ValueError, json.JSONDecodeError, TypeError) as exc:  # np.load: EOFError on an empty file
            raise IndexCorruptError(f"lexical index in {folder} is corrupted or truncated ({exc}); rebuild with `qa index --rebuild`") from None
        store._vocab = {str(t): i for i, t in enumerate(vocab)}
        store._ids, store._offsets, store._tokens = ids, offsets, tokens
        store._indptr, store._rows, store._weights = indptr, rows, weights
        return store

    # ------------------------------------------------------------------ internals
    def _holds(self, pid: int) -> bool:
        i = int(np.searchsorted(self._ids, pid))
        return i < len(self._ids) and int(self._ids[i]) == pid

    def refresh(self) -> None:
        """Merge pending adds and removals into the arrays and rebuild the score matrix."""
        if self._fresh:
            return
        self._merge()
        self._indptr, self._rows, self._weights = build_matrix(self._offsets, self._tokens, len(self._vocab))
        self._fresh = True

    def _merge(self) -> None:
        ids, offsets = self._ids, self._offsets
        lengths = np.diff(offsets)
        parts: list[np.ndarray] = [self._tokens]
        if self._removed:  # copy the kept runs of passages (views of the stored array, no mask)
            keep = ~np.isin(ids, np.fromiter(self._removed, dtype=np.int64, count=len(self._removed)))
            edges = np.flatnonzero(np.diff(np.concatenate([[False], keep, [False]]).astype(np.int8)))
            parts = [self._tokens[offsets[a] : offsets[b]] for a, b in zip(edges[::2].tolist(), edges[1::2].tolist())]
            ids, lengths = ids[keep], lengths[keep]
        if self._added:
            new_ids = np.fromiter(self._added, dtype=np.int64, count=len(self._added))
            new_lengths = np.fromiter((len(v) for v in self._added.values()), dtype=np.int64, count=len(new_ids))
            ids = np.concatenate([ids, new_ids])
            lengths = np.concatenate([lengths, new_lengths])
            parts += list(self._added.values())
        tokens = np.concatenate(parts).astype(np.int32, copy=False) if parts else np.zeros(0, dtype=np.int32)
        del parts
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        if len(ids) > 1 and np.any(ids[1:] < ids[:-1]):  # keep passages in id order
            order = np.argsort(ids, kind="stable")
            ids, lengths = ids[order], lengths[order]
            starts = offsets[:-1][order]
            offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
            tokens = tokens[np.repeat(starts - offsets[:-1], lengths) + np.arange(offsets[-1])]
        if len(tokens) and (int(tokens.min()) < 0 or int(tokens.max()) >= len(self._vocab)):
            raise IndexCorruptError("lexical index has a token id out of range; rebuild with `qa index --rebuild`")
        self._ids, self._offsets, self._tokens = ids, offsets, np.ascontiguousarray(tokens, dtype=np.int32)
        self._added, self._removed = {}, set()


def _idf(df: np.ndarray | int, n: int) -> np.ndarray:
    return np.log(1 + (n - np.asarray(df, dtype=np.float64) + 0.5) / (np.asarray(df, dtype=np.float64) + 0.5))


def build_matrix(offsets: np.ndarray, tokens: np.ndarray, vocab_size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """BM25 weights of every (term, passage) pair, compressed by term: ``(indptr, rows, weights)``.

    Lucene's BM25 as bm25s computes it: ``idf(t) * tf / (tf + k1 * (1 - b + b * len / mean len))``
    with ``idf(t) = log(1 + (n - df + 0.5) / (df + 0.5))``. Two passes over blocks of about
    10M tokens (the first counts document frequencies, the second writes each block's
    entries into place), so memory beyond the result stays at one block's worth.
    """
    import scipy.sparse as sp

    n = len(offsets) - 1
    if n == 0 or vocab_size == 0:
        return np.zeros(vocab_size + 1, dtype=np.int64), np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.float32)
    lengths = np.diff(offsets)
    mean_length = float(lengths.mean()) or 1.0
    norm = (K1 * (1 - B + B * lengths / mean_length)).astype(np.float32)
    blocks = []
    start = 0
    while start < n:
        end = int(np.searchsorted(offsets, offsets[start] + _TOKEN_CHUNK, side="right")) - 1
        end = min(max(end, start + 1), n)
        blocks.append((start, end))
        start = end

    def term_frequencies(start: int, end: int):  # type: ignore[no-untyped-def]
        """Passages start:end x terms, each (passage, term) once with its count."""
        a, b = int(offsets[start]), int(offsets[end])
        block = sp.csr_matrix(
            (np.ones(b - a, dtype=np.float32), np.array(tokens[a:b], dtype=np.int32), (offsets[start : end + 1] - a)),  # a copy: sum_duplicates sorts it in place
            shape=(end - start, vocab_size),
        )
        block.sum_duplicates()
        return block

    df = np.zeros(vocab_size, dtype=np.int64)
    for start, end in blocks:
        df += np.bincount(term_frequencies(start, end).indices, minlength=vocab_size)
    indptr = np.concatenate([[0], np.cumsum(df)]).astype(np.int64)
    rows = np.empty(int(indptr[-1]), dtype=np.int32)
    weights = np.empty(int(indptr[-1]), dtype=np.float32)
    idf = _idf(df, n).astype(np.float32)
    filled = indptr[:-1].copy()  # next free slot of each term
    for start, end in blocks:  # in passage order, so each term's rows come out ascending
        block = term_frequencies(start, end).tocsc()
        counts = np.diff(block.indptr)
        # entry j of term t in this block goes to filled[t] + (j - block.indptr[t])
        where = np.arange(block.nnz, dtype=np.int64) + np.repeat(filled - block.indptr[:-1], counts)
        local = block.indices
        tf = block.data
        rows[where] = local + start
        weights[where] = np.repeat(idf, counts) * (tf / (tf + norm[start + local]))
        filled += counts
    return indptr, rows, weights
