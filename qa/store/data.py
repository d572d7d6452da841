"""Everything an index folder holds, loaded: the manifest, passages, sentence vectors, dense and BM25 stores.

Retrieval and answering read one ``IndexData``; an update changes it in place
and commits it (``qa.store.update``), so every reader sees the same state.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, MutableMapping

import numpy as np

from qa import __version__
from qa.config import Settings
from qa.errors import IndexCorruptError
from qa.ingest.titles import file_title
from qa.retrieval.dense import FaissStore
from qa.retrieval.lexical import BM25Store
from qa.store.manifest import FORMAT_VERSION, read_manifest, verify_files
from qa.store.passages import read_passages, read_sentence_vectors
from qa.types import Passage


@dataclass
class IndexData:
    """One index's contents. ``dense`` is None until the first passage is embedded (its width comes from the model)."""

    index_dir: Path
    manifest: dict[str, Any]
    passages: MutableMapping[int, Passage]
    sentence_vectors: MutableMapping[int, np.ndarray]  # passage id -> (sentences, dim) float16 unit rows
    dense: FaissStore | None
    lexical: BM25Store

    @classmethod
    def load(cls, index_dir: str | Path, verify: bool | None = None) -> IndexData:
        """Read a committed index (passages and sentence vectors stay on disk until used).

        Raises:
            IndexNotFoundError, IndexMismatchError, IndexCorruptError.
        """
        index_dir = Path(index_dir)
        manifest = read_manifest(index_dir)
        verify_files(index_dir, manifest, verify)
        files, dim = manifest["files"], int(manifest["settings"]["dim"] or 0)
        if not files:
            return cls(index_dir, manifest, {}, {}, FaissStore(dim) if dim else None, BM25Store())
        passages = read_passages(index_dir / files["passages"], index_dir / files["passage_table"])
        data = cls(index_dir, manifest, passages, read_sentence_vectors(index_dir / files["sentences"], passages, dim),
                   FaissStore.load(index_dir / files["vectors"], dim), BM25Store.load(index_dir / files["lexical"]))
        if not (len(data.passages) == len(data.dense) == len(data.lexical) == manifest["counts"]["passages"]):  # type: ignore[arg-type]
            raise IndexCorruptError(
                f"index at {index_dir} is inconsistent ({len(data.passages)} passages, {len(data.dense)} vectors, "  # type: ignore[arg-type]
                f"{len(data.lexical)} BM25 rows); rebuild with `qa index --rebuild`"
            )
        return data

    @classmethod
    def empty(cls, index_dir: str | Path, settings: Settings) -> IndexData:
        """A new index's contents (nothing is written until the first commit)."""
        manifest = {
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
        return cls(Path(index_dir), manifest, {}, {}, None, BM25Store())

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
        """Take ``other``'s contents (after a failed update: what is on disk again)."""
        self.manifest, self.passages, self.sentence_vectors = other.manifest, other.passages, other.sentence_vectors
        self.dense, self.lexical = other.dense, other.lexical


def now() -> str:
    """UTC time as the manifest records it."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
