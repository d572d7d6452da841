"""The vector store: FAISS inner product over unit vectors, keyed by passage id.

Small stores are searched exactly (``IndexFlatIP`` in an ``IndexIDMap2``).
When a store grows past ``exact_limit`` vectors it turns itself into an
approximate inverted-file index (``IndexIVFFlat``: k-means cells over the
vectors it holds, only the ``nprobe`` nearest cells searched), because exact
search cost grows linearly with the corpus. The limit and ``nprobe`` were
measured with ``bench/ann.py`` (latency of both kinds, recall@10 of IVF
against exact search on real MiniLM vectors and questions). IVF keeps stable
ids and supports removal, so incremental updates stay correct after the
switch; a store that shrinks below half the limit becomes exact again, and
one that grows far past the size it was trained at is re-trained.

Anything with the same methods (``__len__``, add, remove, search, save, load)
can replace it, e.g. a client for a distributed engine.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from qa.errors import IndexCorruptError
from qa.files import atomic_path


SINGLE_THREAD_BATCH = 4  # query batches up to this size search on one thread
EXACT_LIMIT = 50_000  # above this many vectors, search an IVF index (bench/ann.py: exact takes 7.8 ms at 50k, 14 ms at 100k)
NPROBE = 64  # IVF cells searched per query (bench/ann.py: recall@10 0.96-0.97 from 20k to 1M; 32 gave 0.93)
POINTS_PER_CELL_TRAINING = 64  # k-means training sample: this many vectors per cell at most
RETRAIN_GROWTH = 32  # re-train the cells when the store has grown this much since training


class VectorStore(Protocol):
    """What the index needs from a vector engine."""

    dim: int

    def __len__(self) -> int: ...
    def add(self, ids: Sequence[int], vectors: np.ndarray) -> None: ...
    def remove(self, ids: Sequence[int]) -> None: ...
    def search(self, queries: np.ndarray, k: int) -> list[list[tuple[int, float]]]: ...
    def save(self, path: str | Path) -> None: ...


def cells_for(n: int) -> int:
    """IVF cell count for ``n`` vectors: about 4 * sqrt(n) as a power of two, with at least
    40 vectors per cell (what FAISS's k-means asks for), at most 65536 cells."""
    cells = 2 ** round(math.log2(4 * math.sqrt(max(n, 1))))
    return int(max(1, min(65536, cells, n // 40)))


class FaissStore:
    """Exact search up to ``exact_limit`` vectors, IVF above it; stable ids either way."""

    def __init__(self, dim: int, index=None, *, exact_limit: int = EXACT_LIMIT, nprobe: int = NPROBE) -> None:  # type: ignore[no-untyped-def]
        import faiss

        self.dim = dim
        self.exact_limit = exact_limit
        self.nprobe = nprobe
        self._index = index if index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        self._trained_at = int(self._index.ntotal)  # size when the IVF cells were trained
        self._mapped_from: Path | None = None  # set by load(): the index is a read-only memory map of this file
        self._configure()

    def __len__(self) -> int:
        return int(self._index.ntotal)

    @property
    def mapped_from(self) -> Path | None:
        """The file this store is a read-only memory map of (None once it holds its own copy)."""
        return self._mapped_from

    def set_nprobe(self, nprobe: int) -> None:
        """How many IVF cells a search visits (more: better recall, slower); no effect on an exact store."""
        self.nprobe = nprobe
        self._configure()

    @property
    def kind(self) -> str:
        """``exact`` or ``ivf<cells>``."""
        return f"ivf{self._ivf().nlist}" if self.is_approximate else "exact"

    @property
    def is_approximate(self) -> bool:
        return self._ivf() is not None

    def add(self, ids: Sequence[int], vectors: np.ndarray) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != self.dim:
            raise ValueError(f"expected vectors of shape (n, {self.dim}), got {vectors.shape}")
        if len(ids) != len(vectors):
            raise ValueError(f"{len(ids)} ids for {len(vectors)} vectors")
        if not len(ids):
            return
        self._own()
        ids = np.asarray(ids, dtype=np.int64)
        total = len(self) + len(ids)
        ivf = self._ivf()
        if ivf is None and total > self.exact_limit:
            self._rebuild(ids, vectors, approximate=True)
        elif ivf is not None and total > RETRAIN_GROWTH * max(self._trained_at, 1) and cells_for(total) > ivf.nlist:
            self._rebuild(ids, vectors, approximate=True)
        else:
            self._index.add_with_ids(vectors, ids)

    def remove(self, ids: Sequence[int]) -> None:
        if len(ids):
            self._own()
            self._index.remove_ids(np.asarray(ids, dtype=np.int64))
            if self.is_approximate and len(self) < self.exact_limit // 2:
                self._rebuild(np.zeros(0, np.int64), np.zeros((0, self.dim), np.float32), approximate=False)

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

    def vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """Every (id, vector) the store holds, as arrays (ids sorted)."""
        import faiss

        ivf = self._ivf()
        if ivf is None:
            n = len(self)
            ids = faiss.vector_to_array(self._index.id_map).astype(np.int64)
            flat = faiss.downcast_index(self._index.index)
            vectors = faiss.rev_swig_ptr(flat.get_xb(), n * self.dim).reshape(n, self.dim).copy() if n else np.zeros((0, self.dim), np.float32)
        else:
            invlists = ivf.invlists
            id_parts, vector_parts = [], []
            for cell in range(ivf.nlist):
                size = invlists.list_size(cell)
                if size:
                    id_parts.append(faiss.rev_swig_ptr(invlists.get_ids(cell), size).copy())
                    codes = faiss.rev_swig_ptr(invlists.get_codes(cell), size * invlists.code_size).copy()
                    vector_parts.append(codes.view(np.float32).reshape(size, self.dim))
            ids = np.concatenate(id_parts) if id_parts else np.zeros(0, np.int64)
            vectors = np.concatenate(vector_parts) if vector_parts else np.zeros((0, self.dim), np.float32)
        order = np.argsort(ids, kind="stable")
        return ids[order], vectors[order]

    def save(self, path: str | Path) -> None:
        import faiss

        with atomic_path(path) as tmp:
            faiss.write_index(self._index, str(tmp))

    @classmethod
    def load(cls, path: str | Path, dim: int, **options: int) -> FaissStore:
        """Memory-maps the file: opening costs no reading, and a search reads only the
        cells it probes (the whole file, for exact search). The first add or remove
        reads it into memory. Raises IndexCorruptError when the file cannot be parsed
        or has the wrong shape."""
        import faiss

        try:
            index = faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC)
        except Exception as exc:  # noqa: BLE001 - faiss raises RuntimeError with C++ text
            raise IndexCorruptError(f"vector file {path} is corrupted or truncated ({_first_line(exc)}); rebuild with `qa index --rebuild`") from None
        if index.d != dim:
            raise IndexCorruptError(f"vector file {path} has dimension {index.d}, manifest says {dim}")
        if not isinstance(index, (faiss.IndexIDMap2, faiss.IndexIVFFlat)):
            raise IndexCorruptError(f"vector file {path} holds a {type(index).__name__}, not a docqa index; rebuild with `qa index --rebuild`")
        store = cls(dim, index, **options)
        store._mapped_from = Path(path)
        if store.is_approximate:
            store._trained_at = max(len(store), store._ivf().nlist)  # type: ignore[union-attr]
        return store

    # ------------------------------------------------------------------ internals
    def _ivf(self):  # type: ignore[no-untyped-def]
        import faiss

        return self._index if isinstance(self._index, faiss.IndexIVF) else None

    def _own(self) -> None:
        """Replace a memory-mapped index by one in memory (FAISS aborts the process,
        rather than raising, when a mapped index is changed)."""
        if self._mapped_from is None:
            return
        import faiss

        try:
            index = faiss.read_index(str(self._mapped_from))
        except Exception:  # noqa: BLE001 - the file was removed meanwhile: copy the mapped index
            index = faiss.deserialize_index(faiss.serialize_index(self._index))
        if index.ntotal != self._index.ntotal or index.d != self.dim:
            raise IndexCorruptError(f"vector file {self._mapped_from} changed on disk; rebuild with `qa index --rebuild`")
        self._index, self._mapped_from = index, None
        self._configure()

    def _configure(self) -> None:
        ivf = self._ivf()
        if ivf is not None:
            ivf.nprobe = min(self.nprobe, ivf.nlist)

    def _rebuild(self, new_ids: np.ndarray, new_vectors: np.ndarray, *, approximate: bool) -> None:
        """Re-create the index (exact, or IVF trained on what it holds) with the old and new vectors."""
        import faiss

        old_ids, old_vectors = self.vectors()
        ids = np.concatenate([old_ids, new_ids])
        vectors = np.concatenate([old_vectors, new_vectors]) if len(new_ids) else old_vectors
        del old_vectors
        if not approximate:
            index = faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))
        else:
            cells = cells_for(len(ids))
            index = faiss.IndexIVFFlat(faiss.IndexFlatIP(self.dim), self.dim, cells, faiss.METRIC_INNER_PRODUCT)
            index.cp.spherical = True  # unit vectors: cosine k-means
            index.cp.seed = 1234
            sample = min(len(vectors), POINTS_PER_CELL_TRAINING * cells)
            rows = np.sort(np.random.default_rng(0).choice(len(vectors), sample, replace=False))
            index.cp.max_points_per_centroid = max(1, math.ceil(sample / cells))
            index.train(vectors[rows])
        self._index = None  # free the old index before the new one fills up
        index.add_with_ids(vectors, ids)
        self._index = index
        self._trained_at = len(ids)
        self._configure()


def _first_line(exc: Exception) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:200] if lines else type(exc).__name__
