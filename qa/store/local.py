"""The embedded default: an index folder of FAISS, BM25 and passage files, committed by replacing its manifest."""

from __future__ import annotations

import secrets
import time
from pathlib import Path
from typing import Any, ContextManager

from qa import __version__
from qa.config import Settings
from qa.errors import IndexCorruptError
from qa.files import exclusive_lock
from qa.retrieval.dense import FaissStore
from qa.retrieval.lexical import BM25Store
from qa.store.data import IndexData, new_manifest, now
from qa.store.manifest import checksums_for, commit_manifest, read_manifest, verify_files
from qa.store.passages import read_passages, read_sentence_vectors, write_passages, write_sentence_vectors


class LocalBackend:
    """An index folder: ``manifest.json`` and one generation of data files (see ``qa.store.manifest``)."""

    def __init__(self, folder: Path) -> None:
        self.folder: Path | None = Path(folder)
        self.location = str(folder)

    @property
    def path(self) -> Path:
        assert self.folder is not None
        return self.folder

    def read_manifest(self) -> dict[str, Any]:
        return read_manifest(self.path)

    def load(self, verify: bool | None = None) -> IndexData:
        """Read a committed index (passages and sentence vectors stay on disk until used).

        Raises:
            IndexNotFoundError, IndexMismatchError, IndexCorruptError.
        """
        index_dir = self.path
        manifest = read_manifest(index_dir)
        verify_files(index_dir, manifest, verify)
        files, dim = manifest["files"], int(manifest["settings"]["dim"] or 0)
        if not files:
            return IndexData(self, manifest, {}, {}, FaissStore(dim) if dim else None, BM25Store())
        passages = read_passages(index_dir / files["passages"], index_dir / files["passage_table"])
        data = IndexData(self, manifest, passages, read_sentence_vectors(index_dir / files["sentences"], passages, dim),
                         FaissStore.load(index_dir / files["vectors"], dim), BM25Store.load(index_dir / files["lexical"]))
        if not (len(data.passages) == len(data.dense) == len(data.lexical) == manifest["counts"]["passages"]):  # type: ignore[arg-type]
            raise IndexCorruptError(
                f"index at {index_dir} is inconsistent ({len(data.passages)} passages, {len(data.dense)} vectors, "  # type: ignore[arg-type]
                f"{len(data.lexical)} BM25 rows); rebuild with `qa index --rebuild`"
            )
        return data

    def empty(self, settings: Settings) -> IndexData:
        """A new index's contents (nothing is written until the first commit)."""
        return IndexData(self, new_manifest(settings), {}, {}, None, BM25Store())

    def writer_lock(self) -> ContextManager[None]:
        """One writer at a time per index folder (readers never wait)."""
        return exclusive_lock(self.path / ".lock")

    def new_vector_store(self, dim: int) -> FaissStore:
        return FaissStore(dim)

    def commit(self, data: IndexData, docs_dir: Path, previous: dict[str, Any] | None) -> None:
        """Write ``data`` as a new generation of files, then switch the manifest to them (the atomic step)."""
        gen = f"{int(time.time())}-{secrets.token_hex(3)}"
        files = {"passages": f"passages-{gen}.jsonl", "passage_table": f"passages-{gen}.table.npy",
                 "vectors": f"vectors-{gen}.faiss", "lexical": f"lexical-{gen}", "sentences": f"sentences-{gen}.npy"}
        index_dir = self.path
        assert isinstance(data.dense, FaissStore) and isinstance(data.lexical, BM25Store)
        index_dir.mkdir(parents=True, exist_ok=True)
        write_passages(index_dir / files["passages"], data.passages, index_dir / files["passage_table"])
        write_sentence_vectors(index_dir / files["sentences"], data.passages, data.sentence_vectors, data.dense.dim)
        data.dense.save(index_dir / files["vectors"])
        data.lexical.save(index_dir / files["lexical"])
        # From now on passages and sentence vectors are read from the new files, not held in memory.
        data.passages = read_passages(index_dir / files["passages"], index_dir / files["passage_table"])
        data.sentence_vectors = read_sentence_vectors(index_dir / files["sentences"], data.passages, data.dense.dim)
        manifest = dict(data.manifest)
        manifest.update(
            qa_version=__version__,
            updated=now(),
            docs_dir=str(docs_dir.resolve()),
            counts={"documents": len(manifest["documents"]), "passages": len(data.passages)},
            files=files,
            checksums=checksums_for(index_dir, list(files.values())),
        )
        commit_manifest(index_dir, manifest, previous)
        data.manifest = manifest
