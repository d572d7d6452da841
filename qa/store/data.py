"""Everything an index holds, loaded: the manifest, passages, sentence vectors, dense and BM25 stores.

Retrieval and answering read one ``IndexData``; an update changes it in place
and its backend commits it (``qa.store.update``), so every reader sees the
same state. The backend (``qa.store.backend``) says where it lives: a folder,
or Milvus.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, MutableMapping

import numpy as np

from qa import __version__
from qa.config import Settings
from qa.ingest.titles import file_title
from qa.store.manifest import FORMAT_VERSION
from qa.types import Passage

if TYPE_CHECKING:
    from qa.store.backend import Backend


@dataclass
class IndexData:
    """One index's contents. ``dense`` is None until the first passage is embedded (its width comes from the model)."""

    backend: Backend
    manifest: dict[str, Any]
    passages: MutableMapping[int, Passage]
    sentence_vectors: MutableMapping[int, np.ndarray]  # passage id -> (sentences, dim) float16 unit rows
    dense: Any  # a qa.retrieval.dense.VectorStore (FaissStore for a folder)
    lexical: Any  # a lexical store: add, remove, search(tokens, k), idf(token) (BM25Store for a folder)

    @classmethod
    def load(cls, location: str | Path, verify: bool | None = None) -> IndexData:
        """Read a committed index from a folder or a Milvus location.

        Raises:
            IndexNotFoundError, IndexMismatchError, IndexCorruptError.
        """
        from qa.store.backend import open_backend

        return open_backend(location).load(verify)

    @classmethod
    def empty(cls, location: str | Path, settings: Settings) -> IndexData:
        """A new index's contents (nothing is written until the first commit)."""
        from qa.store.backend import open_backend

        return open_backend(location).empty(settings)

    @property
    def index_dir(self) -> Path | str:
        """The index folder, or the Milvus location of a remote index."""
        return self.backend.folder if self.backend.folder is not None else self.backend.location

    @property
    def location(self) -> str:
        return self.backend.location

    @property
    def settings(self) -> Settings:
        return Settings.from_dict(self.manifest["settings"])

    def title(self, doc: str) -> str:
        """The document's title as the models read it (its first line when that is a heading, else its file name)."""
        info = self.manifest["documents"].get(doc, {})
        return info.get("title") or file_title(doc)  # indexes built before titles were kept

    def idf(self, token: str) -> float:
        """The BM25 index's weight of a word (rarer: higher)."""
        return self.lexical.idf(token)

    def replace_with(self, other: IndexData) -> None:
        """Take ``other``'s contents (after a failed update: what is committed again)."""
        self.manifest, self.passages, self.sentence_vectors = other.manifest, other.passages, other.sentence_vectors
        self.dense, self.lexical = other.dense, other.lexical


def new_manifest(settings: Settings) -> dict[str, Any]:
    """The manifest of an index with nothing in it yet."""
    return {
        "format": FORMAT_VERSION,
        "qa_version": __version__,
        "created": now(),
        "updated": None,
        "settings": {**settings.to_dict(), "dim": None},
        "docs_dir": None,
        "counts": {"documents": 0, "passages": 0},
        "next_id": 0,
        "documents": {},
        "files": {},
        "checksums": {},
    }


def now() -> str:
    """UTC time as the manifest records it."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
