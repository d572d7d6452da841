"""Embedding spread over a Dask distributed cluster (``qa index --workers tcp://SCHEDULER:8786``).

The passages of a commit batch are cut into chunks and mapped over the
cluster's workers; each worker loads the model once (by name: every worker
needs the model, e.g. ``pip install docqa`` on each) and keeps it for the
next chunks. The vectors come back in order, so the index is the one a
single machine would build. Questions are still encoded locally by
``Index.open``; a ``DaskEncoder`` only embeds documents.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from qa.errors import ClusterError

CHUNK = 64  # passages per task: large enough to amortise a task (~1 ms), small enough to spread a commit batch
CONNECT_TIMEOUT = 20  # seconds


class DaskEncoder:
    """The ``Encoder`` interface over a Dask cluster; ``name`` is the model every worker loads."""

    query_only = False

    def __init__(self, name: str, address: str, *, chunk: int = CHUNK) -> None:
        self.name = name
        self.address = address
        self.chunk = chunk
        self._client: Any = None
        self._dim: int | None = None

    @property
    def client(self) -> Any:
        if self._client is None:
            try:
                from distributed import Client
            except ImportError:
                raise ClusterError("--workers needs Dask: pip install 'docqa[dask]'") from None
            try:
                self._client = Client(self.address, timeout=CONNECT_TIMEOUT, set_as_default=False)
            except Exception as exc:  # noqa: BLE001 - OSError, TimeoutError, ValueError for a bad address
                raise ClusterError(f"cannot reach the Dask scheduler at {self.address}: {_first_line(exc)}") from None
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._dim = int(self._run(lambda: self.client.submit(worker_dim, self.name, pure=False).result()))
        return self._dim

    def encode(self, texts: Sequence[str], *, batch_size: int = 8, progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        chunks = [list(texts[i : i + self.chunk]) for i in range(0, len(texts), self.chunk)]
        return np.concatenate(self._run(lambda: self.client.gather(
            self.client.map(worker_encode, [self.name] * len(chunks), chunks, pure=False))))

    def encode_with_sentences(self, texts: Sequence[str], sentence_spans: Sequence[Sequence[tuple[int, int]]], *,
                              batch_size: int = 8, progress: bool = False) -> tuple[np.ndarray, list[np.ndarray]]:
        """Passage and sentence vectors, as the model's own ``encode_with_sentences`` (or the generic one) makes them."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32), []
        starts = range(0, len(texts), self.chunk)
        parts = self._run(lambda: self.client.gather(self.client.map(
            worker_encode_with_sentences, [self.name] * len(starts), [list(texts[i : i + self.chunk]) for i in starts],
            [[list(s) for s in sentence_spans[i : i + self.chunk]] for i in starts], pure=False)))
        vectors = np.concatenate([p for p, _ in parts])
        sentences = [block for _, blocks in parts for block in blocks]
        return vectors, sentences

    def _run(self, work: Callable[[], Any]) -> Any:
        """``work()``, with a worker's failure (or a lost scheduler) as one ClusterError."""
        try:
            return work()
        except ClusterError:
            raise
        except Exception as exc:  # noqa: BLE001 - whatever the task raised on the worker
            raise ClusterError(f"embedding on the Dask cluster at {self.address} failed: {type(exc).__name__}: "
                               f"{_first_line(exc)}") from None


def worker_encoder(name: str) -> Any:
    """The worker's encoder for ``name``, loaded on its first task and kept on the worker object."""
    from distributed import get_worker

    from qa.retrieval.encoder import make_encoder

    worker = get_worker()
    encoders = getattr(worker, "docqa_encoders", None)
    if encoders is None:
        encoders = worker.docqa_encoders = {}
    if name not in encoders:
        encoders[name] = make_encoder(name)
    return encoders[name]


def worker_dim(name: str) -> int:
    return int(worker_encoder(name).dim)


def worker_encode(name: str, texts: list[str]) -> np.ndarray:
    return worker_encoder(name).encode(texts)


def worker_encode_with_sentences(name: str, texts: list[str], spans: list[list[tuple[int, int]]]) -> tuple[np.ndarray, list[np.ndarray]]:
    from qa.retrieval.encoder import encode_with_sentences

    return encode_with_sentences(worker_encoder(name), texts, [[tuple(s) for s in row] for row in spans])


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return (lines[0][:300] if lines else "") or type(exc).__name__
