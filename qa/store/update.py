"""The incremental update: find what changed in the documents folder, embed only that, commit.

The index's backend commits the new state so that a reader, or a crash,
sees the old index or the new one (a folder: a new generation of files,
then the manifest is replaced; Milvus: see ``qa.store.milvus``). One writer
at a time holds the backend's lock.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import numpy as np

from qa.config import Settings
from qa.errors import DocumentsError, IndexCorruptError, IndexMismatchError, IndexNotFoundError
from qa.ingest.chunking import chunk_document
from qa.ingest.folder import IngestResult, Skipped, read_folder
from qa.ingest.formats import SUFFIXES
from qa.ingest.titles import document_title, embedding_input
from qa.retrieval.encoder import Encoder, encode_with_sentences, make_encoder
from qa.store.data import IndexData
from qa.store.manifest import passage_ids, passage_run
from qa.types import Document, Passage

if TYPE_CHECKING:
    from qa.store.backend import Backend


@dataclass
class UpdateReport:
    """What an index update did, for the CLI and the chat to show."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    unsupported: int = 0
    passages_embedded: int = 0
    rebuilt_because: str | None = None
    seconds: float = 0.0

    @property
    def changed_anything(self) -> bool:
        return bool(self.added or self.changed or self.removed)

    def summary(self) -> str:
        return (
            f"{len(self.added)} added, {len(self.changed)} changed, {len(self.removed)} removed, "
            f"{len(self.unchanged)} unchanged; {self.passages_embedded} passages embedded"
            + (f"; {len(self.skipped)} skipped" if self.skipped else "")
            + (f"; {self.unsupported} files of unsupported type ignored" if self.unsupported else "")
        )


COMMIT_CHARS = 16_000_000  # about 20k passages: ~120 MB of new vectors held before they are written
MAX_COMMIT_CHARS = 64_000_000  # about 80k passages: the most new vectors ever held (~0.5 GB)


def commit_batches(todo: list[Document], indexed_chars: int) -> Iterator[list[Document]]:
    """Split the documents to embed into batches, each committed on its own.

    A first build of a large corpus then holds at most one batch of new
    vectors in memory, and a build that is stopped resumes from its last
    commit. Batches grow with the index (half its size), so rewriting the
    index files at each commit costs a small multiple of the final write,
    up to ``MAX_COMMIT_CHARS``, which bounds the memory: a 1M-passage build
    (about 500M characters) commits about a dozen times.
    """
    batch: list[Document] = []
    chars = 0
    for doc in todo:
        batch.append(doc)
        chars += len(doc.text)
        if chars >= min(max(COMMIT_CHARS, indexed_chars // 2), MAX_COMMIT_CHARS):
            yield batch
            indexed_chars += chars
            batch, chars = [], 0
    if batch:
        yield batch


def classify(ingest: IngestResult, known: dict[str, Any]) -> UpdateReport:
    """Which of the folder's documents are new, changed, unchanged or gone, against the manifest's ``known``."""
    report = UpdateReport(skipped=list(ingest.skipped), warnings=list(ingest.warnings), unsupported=ingest.unsupported)
    seen = set(ingest.kept)
    report.unchanged.extend(ingest.kept)
    for doc in ingest.documents:
        seen.add(doc.id)
        info = known.get(doc.id)
        if info is None:
            report.added.append(doc.id)
        elif info["sha256"] != doc.sha256:
            report.changed.append(doc.id)
        else:
            report.unchanged.append(doc.id)
    report.removed = sorted(d for d in known if d not in seen)
    report.unchanged.sort()
    return report


@dataclass(frozen=True)
class BuildPlan:
    """What ``Index.build`` does: the settings to build with, the manifest on disk (None if unusable), and
    why everything is rebuilt (None: an incremental update)."""

    settings: Settings
    existing: dict[str, Any] | None
    rebuild_because: str | None


def plan_build(backend: Backend, settings: Settings | None, model: str | None, rebuild: bool) -> BuildPlan:
    """Compare the wanted settings (``None``: keep the index's; ``model``: a given encoder's) with the index on disk.

    Raises:
        ValueError: ``model`` is not the model ``settings`` names.
    """
    existing: dict[str, Any] | None = None
    because: str | None = None
    try:
        existing = backend.read_manifest()
    except IndexNotFoundError:
        pass
    except (IndexMismatchError, IndexCorruptError) as exc:
        because = f"the existing index cannot be used ({exc})"
    if existing is not None:
        old = Settings.from_dict(existing["settings"])
        wanted = settings or old
        if model is not None and settings is None:
            wanted = wanted.with_overrides(model=model)
        if wanted != old:
            diffs = [f"{k} {getattr(old, k)!r} -> {getattr(wanted, k)!r}" for k in old.to_dict() if getattr(old, k) != getattr(wanted, k)]
            because = "settings changed (" + ", ".join(diffs) + ")"
        settings = wanted
    settings = settings or (Settings(model=model) if model is not None else Settings())
    if model is not None and model != settings.model:
        raise ValueError(f"encoder {model!r} does not match settings.model {settings.model!r}")
    if rebuild and because is None:
        because = "a rebuild was asked for"
    return BuildPlan(settings, existing, because)


def update_index(
    data: IndexData,
    docs_dir: str | Path,
    encoder: Encoder,
    *,
    progress: bool = False,
    rebuilt_because: str | None = None,
    previous: dict[str, Any] | None = None,
) -> UpdateReport:
    """Re-embed only added or changed documents (by content hash); drop removed ones.

    Nothing is written when nothing changed. The new state becomes visible
    when the backend publishes its manifest; ``previous`` is the manifest
    whose files may be deleted then (default: ``data``'s own). After a failure
    ``data`` is what is on disk again. If another writer committed while this
    one waited for the writer's lock, ``data`` is reloaded from its commit and
    the folder compared again (else its documents would be embedded twice and,
    on Milvus, its passage ids handed out twice).

    Raises:
        DocumentsError: the folder is missing or has no indexable document
            (the index is left as it was).
    """
    started = time.perf_counter()
    ingest, report = scan_folder(data, docs_dir, rebuilt_because)
    if report.changed_anything or not data.manifest["files"]:
        with data.backend.writer_lock():
            if committed_since_loaded(data):  # another writer committed while this one waited for the lock
                reset_to_disk(data)
                previous = None
                ingest, report = scan_folder(data, docs_dir, rebuilt_because)
            if report.changed_anything or not data.manifest["files"]:
                write_changes(data, docs_dir, ingest, report, encoder, progress, previous)
    report.seconds = time.perf_counter() - started
    return report


def scan_folder(data: IndexData, docs_dir: str | Path, rebuilt_because: str | None) -> tuple[IngestResult, UpdateReport]:
    """Read the folder (extracting only documents whose hash the index does not know) and classify it.

    Raises:
        DocumentsError: the folder is missing or has no indexable document.
    """
    ingest = read_folder(docs_dir, known={d: info["sha256"] for d, info in data.manifest["documents"].items()})
    if not ingest.documents and not ingest.kept:
        detail = "; ".join(f"{s.path}: {s.reason}" for s in ingest.skipped[:5])
        raise DocumentsError(
            f"no indexable documents ({', '.join(sorted(SUFFIXES))}) in {docs_dir}"
            + (f" (skipped {detail})" if detail else "")
            + ("; the existing index was left unchanged" if data.manifest["files"] else "")
        )
    report = classify(ingest, data.manifest["documents"])
    report.rebuilt_because = rebuilt_because
    return ingest, report


def write_changes(data: IndexData, docs_dir: str | Path, ingest: IngestResult, report: UpdateReport, encoder: Encoder,
                  progress: bool, previous: dict[str, Any] | None) -> None:
    """Embed and commit what ``report`` found, in batches (under the writer's lock)."""
    docs = {d.id: d for d in ingest.documents}
    previous = previous if previous is not None else data.manifest
    try:
        removed = report.removed
        for batch in commit_batches([docs[d] for d in report.added + report.changed], indexed_chars(data)):
            report.passages_embedded += apply_changes(data, batch, removed, encoder, progress)
            data.backend.commit(data, Path(docs_dir), previous)
            removed = []
        if removed or not data.manifest["files"]:  # only removals, or a first build of empty files
            apply_changes(data, [], removed, encoder, progress)
            data.backend.commit(data, Path(docs_dir), previous)
    except BaseException:
        reset_to_disk(data)  # the in-memory state must match what is on disk again
        raise


def committed_since_loaded(data: IndexData) -> bool:
    """Whether the committed index is no longer the one ``data`` holds (another writer's commit).

    Each folder commit writes files of a new generation and each Milvus
    commit a new ``commit_seq``, so these say it. An index not committed yet
    (a first build, a rebuild's fresh contents) has nothing to be behind of.
    """
    if not data.manifest["files"]:
        return False
    try:
        current = data.backend.read_manifest()
    except (IndexNotFoundError, IndexMismatchError, IndexCorruptError):
        return False  # the commit will say what is wrong
    return current["files"] != data.manifest["files"] or current.get("commit_seq") != data.manifest.get("commit_seq")


def indexed_chars(data: IndexData) -> int:
    """Characters of text the index holds (what commit batches grow with)."""
    return sum(int(info.get("chars", 0)) for info in data.manifest["documents"].values())


def reset_to_disk(data: IndexData) -> None:
    """After a failed update: reload the committed index (or an empty one with the same settings)."""
    settings = data.settings
    try:
        fresh = data.backend.load()
    except Exception:  # noqa: BLE001 - nothing usable committed yet
        fresh = data.backend.empty(settings)
    if fresh.settings != settings:
        fresh = data.backend.empty(settings)
    data.replace_with(fresh)


def apply_changes(data: IndexData, todo: list[Document], removed: list[str], encoder: Encoder, progress: bool = False) -> int:
    """Embed ``todo`` (added or changed documents), drop ``removed`` ones, in memory; returns passages embedded."""
    settings = data.settings
    new_passages: list[Passage] = []
    next_id = int(data.manifest["next_id"])
    for doc in todo:
        for number, (span, region) in enumerate(chunk_document(doc, settings.passage_chars, settings.overlap_chars)):
            new_passages.append(
                Passage(next_id, doc.id, number, span.start, span.end, doc.text[span.start : span.end], span.sentences,
                        region.page, region.section)
            )
            next_id += 1
    titles = {doc.id: document_title(doc) for doc in todo}
    texts, spans = zip(*(embedding_input(p, titles[p.doc]) for p in new_passages)) if new_passages else ((), ())
    if new_passages:  # removals alone need no model at all
        embedder = make_encoder(settings.model) if getattr(encoder, "query_only", False) else encoder
        vectors, sentence_vectors = encode_with_sentences(embedder, list(texts), list(spans), progress=progress)
    else:
        vectors, sentence_vectors = None, []
    if data.dense is None:
        data.dense = data.backend.new_vector_store(encoder.dim)
    known = data.manifest["documents"]
    stale = [pid for d in [doc.id for doc in todo if doc.id in known] + removed for pid in passage_ids(known[d])]
    data.dense.remove(stale)
    data.lexical.remove(stale)
    for pid in stale:
        del data.passages[pid]
        if pid in data.sentence_vectors:  # not pop(): that reads the value (a round trip each, on Milvus)
            del data.sentence_vectors[pid]
    if vectors is not None:
        data.dense.add([p.id for p in new_passages], vectors)
    data.lexical.add([p.id for p in new_passages], list(texts))
    data.passages.update({p.id: p for p in new_passages})
    data.sentence_vectors.update({p.id: v.astype(np.float16) for p, v in zip(new_passages, sentence_vectors)})
    documents = {d: info for d, info in known.items() if d not in removed}
    by_doc: dict[str, list[int]] = {}
    for p in new_passages:
        by_doc.setdefault(p.doc, []).append(p.id)
    for doc in todo:
        ids = by_doc.get(doc.id, [])
        documents[doc.id] = {"sha256": doc.sha256, "chars": len(doc.text), "title": titles[doc.id],
                             **passage_run(ids[0] if ids else next_id, len(ids))}
    data.manifest["documents"] = dict(sorted(documents.items()))
    data.manifest["next_id"] = next_id
    data.manifest["settings"]["dim"] = data.dense.dim
    return len(new_passages)
