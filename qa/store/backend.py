"""Where an index lives: a folder on this machine (``LocalBackend``) or a Milvus collection set (``MilvusBackend``).

A backend reads and writes everything an index holds (manifest, passages,
vectors, sentence vectors, BM25 statistics) behind one small interface, so
the update, retrieval and answering code is the same for both. Locations
are folder paths, ``milvus://host:port/name`` (a Milvus server) or
``milvus-lite:///path/to/file.db/name`` (an embedded Milvus Lite file).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ContextManager, Protocol

if TYPE_CHECKING:
    from qa.config import Settings
    from qa.retrieval.dense import VectorStore
    from qa.store.data import IndexData

REMOTE_SCHEMES = ("milvus://", "milvus-lite://")


class Backend(Protocol):
    """What the update and the readers need from an index's storage."""

    location: str  # as the user wrote it: shown in messages and stats
    folder: Path | None  # the index folder, for a local index (None: nothing on this machine)

    def read_manifest(self) -> dict[str, Any]: ...
    def load(self, verify: bool | None = None) -> IndexData: ...
    def empty(self, settings: Settings) -> IndexData: ...
    def writer_lock(self) -> ContextManager[None]: ...
    def new_vector_store(self, dim: int) -> VectorStore: ...
    def commit(self, data: IndexData, docs_dir: Path, previous: dict[str, Any] | None) -> None: ...


def is_remote(location: object) -> bool:
    """Whether ``location`` names a Milvus index rather than a folder."""
    return isinstance(location, str) and location.startswith(REMOTE_SCHEMES)


def open_backend(location: str | Path) -> Backend:
    """The backend for a folder path or a ``milvus://`` / ``milvus-lite://`` location (nothing is connected yet).

    Raises:
        ValueError: a malformed Milvus location.
    """
    if is_remote(location):
        from qa.store.milvus import MilvusBackend

        return MilvusBackend(str(location))
    from qa.store.local import LocalBackend

    return LocalBackend(Path(location))
