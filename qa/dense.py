"""The vector store: FAISS inner product over unit vectors, keyed by passage id.

Anything with the same five methods (add, remove, search, save, load) can
replace it, e.g. a client for a distributed engine.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from .errors import IndexCorruptError
from .storage import atomic_path


SINGLE_THREAD_BATCH = 4  # query batches up to this size search on one thread


class VectorStore(Protocol):
    dim: int

    def __len__(self) -> int: ...
    def add(self, ids: Sequence[int], vectors: np.ndarray) -> None: ...
    def remove(self, ids: Sequence[int]) -> None: ...
    def search(self, queries: np.ndarray, k: int) -> list[list[tuple[int, float]]]: ...
    def save(self, path: str | Path) -> None: ...


class FaissStore:
    """Exact search (``IndexFlatIP`` inside ``IndexIDMap2``) with stable ids."""

    def __init__(self, dim: int, index=None) -> None:  # type: ignore[no-untyped-def]
        import faiss

        self.dim = dim
        self._index = index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dim))

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def add(self, ids: Sequence[int], vectors: np.ndarray) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.dim:
            raise ValueError(f"expected vectors of shape (n, {self.dim}), got {vectors.shape}")
        if len(ids) != len(vectors):
            raise ValueError(f"{len(ids)} ids for {len(vectors)} vectors")
        if len(ids):
            self._index.add_with_ids(vectors, np.asarray(ids, dtype=np.int64))

    def remove(self, ids: Sequence[int]) -> None:
        if len(ids):
            self._index.remove_ids(np.asarray(ids, dtype=np.int64))

    def search(self, queries: np.ndarray, k: int) -> list[list[tuple[int, float]]]:
        """Top ``k`` (id, cosine) pairs for each query vector, best first."""
        if len(self) == 0 or k <= 0:
            return [[] for _ in range(len(queries))]
        import faiss

        # One question at a time: FAISS's OpenMP threads only fight the query
        # encoder's threads for the two cores (measured at 100k passages:
        # 31 ms with all threads, about 6 ms with one; bench/query.py).
        threads = faiss.omp_get_max_threads()
        if len(queries) <= SINGLE_THREAD_BATCH:
            faiss.omp_set_num_threads(1)
        try:
            scores, ids = self._index.search(np.ascontiguousarray(queries, dtype=np.float32), min(k, len(self)))
        finally:
            faiss.omp_set_num_threads(threads)
        return [
            [(int(i), float(s)) for i, s in zip(id_row, score_row) if i >= 0]
            for id_row, score_row in zip(ids, scores)
        ]

    def save(self, path: str | Path) -> None:
        import faiss

        with atomic_path(path) as tmp:
            faiss.write_index(self._index, str(tmp))

    @classmethod
    def load(cls, path: str | Path, dim: int) -> FaissStore:
        """Raises IndexCorruptError when the file cannot be parsed or has the wrong shape."""
        import faiss

        try:
            index = faiss.read_index(str(path))
        except Exception as exc:  # noqa: BLE001 - faiss raises RuntimeError with C++ text
            raise IndexCorruptError(f"vector file {path} is corrupted or truncated ({_first_line(exc)}); rebuild with `qa index --rebuild`") from None
        if index.d != dim:
            raise IndexCorruptError(f"vector file {path} has dimension {index.d}, manifest says {dim}")
        return cls(dim, index)


def _first_line(exc: Exception) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:200] if lines else type(exc).__name__
