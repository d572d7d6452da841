"""The lexical store: BM25 (bm25s) over the same passage ids as the vector store.

Token ids of every passage are kept, so adding or removing passages only
tokenises the new text; bm25s has no incremental update, so its score
matrix is rebuilt from the stored token ids (fast: no text processing).
Saved as JSON and ``.npy`` files loaded with ``allow_pickle=False``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np

from .errors import IndexCorruptError
from .storage import atomic_path, write_json_atomic
from .textutil import tokenize


class BM25Store:
    """add / remove / search / save / load over passage ids."""

    def __init__(self) -> None:
        self._vocab: dict[str, int] = {}
        self._docs: dict[int, np.ndarray] = {}  # passage id -> token ids (int32)
        self._retriever = None
        self._row_ids: np.ndarray = np.zeros(0, dtype=np.int64)

    def __len__(self) -> int:
        return len(self._docs)

    def add(self, ids: Sequence[int], texts: Sequence[str]) -> None:
        for pid, text in zip(ids, texts, strict=True):
            token_ids = [self._vocab.setdefault(t, len(self._vocab)) for t in tokenize(text)]
            self._docs[int(pid)] = np.asarray(token_ids, dtype=np.int32)
        self._retriever = None

    def remove(self, ids: Sequence[int]) -> None:
        for pid in ids:
            self._docs.pop(int(pid), None)
        self._retriever = None

    def search(self, query: str | list[str], k: int) -> list[tuple[int, float]]:
        """Top ``k`` (id, BM25 score) pairs with a positive score, best first.

        ``query`` is text, or tokens already made by ``textutil.tokenize``.
        """
        tokens = tokenize(query) if isinstance(query, str) else query
        token_ids = [self._vocab[t] for t in tokens if t in self._vocab]  # unknown words match nothing
        if not token_ids or not self._docs or k <= 0:
            return []
        scores = self._ensure_retriever().get_scores(token_ids)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(self._row_ids[i]), float(scores[i])) for i in top if scores[i] > 0]

    def idf(self, token: str) -> float:
        """Inverse document frequency of a (tokenised) word (BM25's formula); 0 for an empty store."""
        if not self._docs:
            return 0.0
        tid = self._vocab.get(token)
        # A word no passage contains is as rare as a word can be: it gets the highest idf.
        df = self._doc_freq()[tid] if tid is not None and tid < len(self._doc_freq()) else 0
        n = len(self._docs)
        return float(np.log(1 + (n - df + 0.5) / (df + 0.5)))

    def _doc_freq(self) -> np.ndarray:
        self._ensure_retriever()
        return self._df

    def _ensure_retriever(self):  # type: ignore[no-untyped-def]
        if self._retriever is None:
            import bm25s
            from bm25s.tokenization import Tokenized

            self._row_ids = np.fromiter(self._docs.keys(), dtype=np.int64, count=len(self._docs))
            rows = [self._docs[int(i)].tolist() for i in self._row_ids]
            retriever = bm25s.BM25()
            retriever.index(Tokenized(ids=rows, vocab=dict(self._vocab)), show_progress=False)
            df = np.zeros(len(self._vocab) + 1, dtype=np.int64)
            for row in self._docs.values():
                df[np.unique(row)] += 1
            self._df = df
            self._retriever = retriever
        return self._retriever

    def save(self, folder: str | Path) -> None:
        """Write ``vocab.json``, ``ids.npy``, ``offsets.npy`` and ``tokens.npy``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        ids = np.fromiter(self._docs.keys(), dtype=np.int64, count=len(self._docs))
        lengths = np.fromiter((len(self._docs[int(i)]) for i in ids), dtype=np.int64, count=len(ids))
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        tokens = np.concatenate([self._docs[int(i)] for i in ids]) if len(ids) else np.zeros(0, np.int32)
        vocab = sorted(self._vocab, key=self._vocab.__getitem__)
        write_json_atomic(folder / "vocab.json", vocab)
        for name, array in (("ids", ids), ("offsets", offsets), ("tokens", tokens.astype(np.int32))):
            with atomic_path(folder / f"{name}.npy") as tmp:
                with open(tmp, "wb") as fh:
                    np.save(fh, array, allow_pickle=False)

    @classmethod
    def load(cls, folder: str | Path) -> BM25Store:
        folder = Path(folder)
        store = cls()
        try:
            vocab = json.loads((folder / "vocab.json").read_text(encoding="utf-8"))
            ids = np.load(folder / "ids.npy", allow_pickle=False)
            offsets = np.load(folder / "offsets.npy", allow_pickle=False)
            tokens = np.load(folder / "tokens.npy", allow_pickle=False)
            if len(offsets) != len(ids) + 1 or (len(ids) and offsets[-1] != len(tokens)):
                raise ValueError("array lengths disagree")
            if len(tokens) and (tokens.min() < 0 or tokens.max() >= len(vocab)):
                raise ValueError("token id out of range")
        except (OSError, EOFError, ValueError, json.JSONDecodeError, TypeError) as exc:  # np.load: EOFError on an empty file
            raise IndexCorruptError(f"lexical index in {folder} is corrupted or truncated ({exc}); rebuild with `qa index --rebuild`") from None
        store._vocab = {str(t): i for i, t in enumerate(vocab)}
        store._docs = {int(pid): tokens[offsets[i] : offsets[i + 1]] for i, pid in enumerate(ids)}
        return store
