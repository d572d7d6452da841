"""The document index: passages, their vectors and their BM25 postings, kept in step.

Usage example::

    from qa import Index
    index = Index.build("docs_src", "index")      # or Index.open("index")
    answer = index.ask("Who invited Putin to North Korea?")
    print(answer.text, answer.citations[0].doc)
"""

from __future__ import annotations

import bisect
import fcntl
import json
import secrets
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from . import __version__
from .answer import AnswerFinder
from .chunking import chunk_document
from .config import Settings
from .dense import FaissStore
from .encoder import Encoder, encode_with_sentences, make_encoder
from .errors import DocumentsError, IndexCorruptError, IndexMismatchError, IndexNotFoundError, QuestionError
from .fusion import Mode, convex, rrf, weighted
from .formats import SUFFIXES
from .ingest import IngestResult, Skipped, read_folder
from .manifest import FORMAT_VERSION, checksums_for, commit_manifest, read_manifest, verify_files
from .storage import atomic_path
from .textutil import matching_tokens, normalize_whitespace, normalize_with_offsets
from .types import Answer, Hit, Passage

MAX_QUESTION_CHARS = 2000  # longer input is cut: the model reads 256 tokens at most anyway


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


class Index:
    """Open with :meth:`open`, create or refresh with :meth:`build` / :meth:`update`."""

    def __init__(
        self,
        index_dir: Path,
        manifest: dict[str, Any],
        passages: dict[int, Passage],
        dense: FaissStore,
        lexical: Any,
        encoder: Encoder,
        sentence_vectors: dict[int, np.ndarray],
    ) -> None:
        self.index_dir = index_dir
        self.manifest = manifest
        self.settings = Settings.from_dict(manifest["settings"])
        self.passages = passages
        self.dense = dense
        self.lexical = lexical
        self.encoder = encoder
        self.sentence_vectors = sentence_vectors  # passage id -> (sentences, dim) float16, unit rows
        self._answers = AnswerFinder(self)

    def use_scorer(self, path: str | Path) -> None:
        """Answer with another scorer file (see ``scripts/train_answer_scorer.py``), e.g. to compare."""
        from .answer import Scorer

        self._answers = AnswerFinder(self, Scorer.load(path))

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(cls, index_dir: str | Path = "index", *, encoder: Encoder | None = None, verify: bool | None = None) -> Index:
        """Load a built index.

        Args:
            index_dir: the folder ``qa index`` wrote.
            encoder: reuse an already loaded encoder (its name must match the index's model).
            verify: check file hashes (default: only for indexes under 64 MiB).

        Raises:
            IndexNotFoundError, IndexMismatchError, IndexCorruptError.
        """
        from .lexical import BM25Store

        index_dir = Path(index_dir)
        manifest = read_manifest(index_dir)
        verify_files(index_dir, manifest, verify)
        settings = manifest["settings"]
        if encoder is not None and encoder.name != settings["model"]:
            raise IndexMismatchError(
                f"index at {index_dir} was built with model {settings['model']!r}, not {encoder.name!r}: "
                f"rebuild it with `qa index --model {encoder.name}`, or query it without --model"
            )
        files = manifest["files"]
        passages = _read_passages(index_dir / files["passages"]) if files else {}
        dense = FaissStore.load(index_dir / files["vectors"], int(settings["dim"])) if files else FaissStore(int(settings["dim"]))
        lexical = BM25Store.load(index_dir / files["lexical"]) if files else BM25Store()
        sentence_vectors = _read_sentence_vectors(index_dir / files["sentences"], passages, int(settings["dim"])) if files else {}
        if not (len(passages) == len(dense) == len(lexical) == manifest["counts"]["passages"]):
            raise IndexCorruptError(
                f"index at {index_dir} is inconsistent ({len(passages)} passages, {len(dense)} vectors, "
                f"{len(lexical)} BM25 rows); rebuild with `qa index --rebuild`"
            )
        if encoder is None:
            from .onnx_encoder import load_query_encoder

            encoder = load_query_encoder(index_dir, settings["model"]) or make_encoder(settings["model"])
        return cls(index_dir, manifest, passages, dense, lexical, encoder, sentence_vectors)

    @classmethod
    def build(
        cls,
        docs_dir: str | Path,
        index_dir: str | Path = "index",
        settings: Settings | None = None,
        *,
        encoder: Encoder | None = None,
        rebuild: bool = False,
        progress: bool = False,
        on_report: Callable[[UpdateReport], None] | None = None,
    ) -> Index:
        """Create the index, or bring an existing one up to date with ``docs_dir``.

        ``settings=None`` keeps an existing index's settings (defaults for a new
        one); settings that differ from the existing index's rebuild everything.
        """
        index_dir = Path(index_dir)
        existing: dict[str, Any] | None = None
        rebuild_reason: str | None = None
        try:
            existing = read_manifest(index_dir)
        except IndexNotFoundError:
            pass
        except (IndexMismatchError, IndexCorruptError) as exc:
            rebuild_reason = f"the existing index cannot be used ({exc})"
        if existing is not None:
            old = Settings.from_dict(existing["settings"])
            wanted = settings or old
            if encoder is not None and settings is None:
                wanted = wanted.with_overrides(model=encoder.name)
            if wanted != old:
                diffs = [f"{k} {getattr(old, k)!r} -> {getattr(wanted, k)!r}" for k in old.to_dict() if getattr(old, k) != getattr(wanted, k)]
                rebuild_reason = "settings changed (" + ", ".join(diffs) + ")"
            settings = wanted
        settings = settings or (Settings(model=encoder.name) if encoder is not None else Settings())
        if encoder is not None and encoder.name != settings.model:
            raise ValueError(f"encoder {encoder.name!r} does not match settings.model {settings.model!r}")
        encoder = encoder or make_encoder(settings.model)
        if rebuild and rebuild_reason is None:
            rebuild_reason = "a rebuild was asked for"
        if existing is None or rebuild_reason is not None:
            index = cls._empty(index_dir, settings, encoder)
        else:
            try:
                index = cls.open(index_dir, encoder=encoder)
            except IndexCorruptError as exc:
                rebuild_reason = f"the existing index cannot be used ({exc})"
                index = cls._empty(index_dir, settings, encoder)
        report = index.update(docs_dir, progress=progress, _rebuilt_because=rebuild_reason, _previous=existing)
        if on_report is not None:
            on_report(report)
        return index

    @classmethod
    def _empty(cls, index_dir: Path, settings: Settings, encoder: Encoder) -> Index:
        from .lexical import BM25Store

        manifest = {
            "format": FORMAT_VERSION,
            "qa_version": __version__,
            "created": _now(),
            "updated": None,
            "settings": {**settings.to_dict(), "dim": None},
            "docs_dir": None,
            "counts": {"documents": 0, "passages": 0},
            "next_id": 0,
            "documents": {},
            "files": {},
            "checksums": {},
        }
        return cls(index_dir, manifest, {}, None, BM25Store(), encoder, {})  # type: ignore[arg-type]

    # ------------------------------------------------------------------ updating
    def update(
        self,
        docs_dir: str | Path,
        *,
        progress: bool = False,
        _rebuilt_because: str | None = None,
        _previous: dict[str, Any] | None = None,
    ) -> UpdateReport:
        """Re-embed only added or changed documents (by content hash); drop removed ones.

        Nothing is written when nothing changed. The new state becomes visible
        on disk atomically, when the manifest is replaced.

        Raises:
            DocumentsError: the folder is missing or has no indexable document
                (the index is left as it was).
        """
        started = time.perf_counter()
        ingest = read_folder(docs_dir, known={d: info["sha256"] for d, info in self.manifest["documents"].items()})
        if not ingest.documents and not ingest.kept:
            detail = "; ".join(f"{s.path}: {s.reason}" for s in ingest.skipped[:5])
            raise DocumentsError(
                f"no indexable documents ({', '.join(sorted(SUFFIXES))}) in {docs_dir}"
                + (f" (skipped {detail})" if detail else "")
                + ("; the existing index was left unchanged" if self.manifest["files"] else "")
            )
        report = _classify(ingest, self.manifest["documents"])
        report.rebuilt_because = _rebuilt_because
        if not report.changed_anything and self.manifest["files"]:
            report.seconds = time.perf_counter() - started
            return report
        with _writer_lock(self.index_dir):
            try:
                self._apply(ingest, report, progress)
                self._commit(Path(docs_dir), _previous if _previous is not None else self.manifest)
            except BaseException:
                self._reset_to_disk()  # the in-memory state must match what is on disk again
                raise
        report.seconds = time.perf_counter() - started
        return report

    def _reset_to_disk(self) -> None:
        """After a failed update: reload the committed index (or an empty one)."""
        try:
            fresh = Index.open(self.index_dir, encoder=self.encoder)
        except Exception:  # noqa: BLE001 - nothing usable committed yet
            fresh = Index._empty(self.index_dir, self.settings, self.encoder)
        if fresh.settings != self.settings:
            fresh = Index._empty(self.index_dir, self.settings, self.encoder)
        self.manifest, self.passages, self.dense = fresh.manifest, fresh.passages, fresh.dense
        self.lexical, self.sentence_vectors = fresh.lexical, fresh.sentence_vectors

    def _apply(self, ingest: IngestResult, report: UpdateReport, progress: bool) -> None:
        docs = {d.id: d for d in ingest.documents}
        todo = [docs[d] for d in report.added + report.changed]
        new_passages: list[Passage] = []
        next_id = int(self.manifest["next_id"])
        for doc in todo:
            for number, (span, region) in enumerate(chunk_document(doc, self.settings.passage_chars, self.settings.overlap_chars)):
                new_passages.append(
                    Passage(next_id, doc.id, number, span.start, span.end, doc.text[span.start : span.end], span.sentences,
                            region.page, region.section)
                )
                next_id += 1
        texts, spans = zip(*(embedding_input(p) for p in new_passages)) if new_passages else ((), ())
        if new_passages:  # removals alone need no model at all
            embedder = make_encoder(self.settings.model) if getattr(self.encoder, "query_only", False) else self.encoder
            vectors, sentence_vectors = encode_with_sentences(embedder, list(texts), list(spans), progress=progress)
        else:
            vectors, sentence_vectors = None, []
        report.passages_embedded = len(new_passages)
        if self.dense is None:
            self.dense = FaissStore(self.encoder.dim)
        stale = [pid for d in report.changed + report.removed for pid in self.manifest["documents"][d]["passages"]]
        self.dense.remove(stale)
        self.lexical.remove(stale)
        for pid in stale:
            del self.passages[pid]
            self.sentence_vectors.pop(pid, None)
        if vectors is not None:
            self.dense.add([p.id for p in new_passages], vectors)
        self.lexical.add([p.id for p in new_passages], list(texts))
        self.passages.update({p.id: p for p in new_passages})
        self.sentence_vectors.update({p.id: v.astype(np.float16) for p, v in zip(new_passages, sentence_vectors)})
        documents = {d: info for d, info in self.manifest["documents"].items() if d not in report.removed}
        by_doc: dict[str, list[int]] = {}
        for p in new_passages:
            by_doc.setdefault(p.doc, []).append(p.id)
        for doc in todo:
            documents[doc.id] = {"sha256": doc.sha256, "chars": len(doc.text), "passages": by_doc.get(doc.id, [])}
        self.manifest["documents"] = dict(sorted(documents.items()))
        self.manifest["next_id"] = next_id
        self.manifest["settings"]["dim"] = self.dense.dim

    def _commit(self, docs_dir: Path, previous: dict[str, Any] | None) -> None:
        gen = f"{int(time.time())}-{secrets.token_hex(3)}"
        files = {"passages": f"passages-{gen}.jsonl", "vectors": f"vectors-{gen}.faiss", "lexical": f"lexical-{gen}",
                 "sentences": f"sentences-{gen}.npy"}
        self.index_dir.mkdir(parents=True, exist_ok=True)
        _write_passages(self.index_dir / files["passages"], self.passages)
        _write_sentence_vectors(self.index_dir / files["sentences"], self.passages, self.sentence_vectors, self.dense.dim)
        self.dense.save(self.index_dir / files["vectors"])
        self.lexical.save(self.index_dir / files["lexical"])
        manifest = dict(self.manifest)
        manifest.update(
            qa_version=__version__,
            updated=_now(),
            docs_dir=str(docs_dir.resolve()),
            counts={"documents": len(manifest["documents"]), "passages": len(self.passages)},
            files=files,
            checksums=checksums_for(self.index_dir, list(files.values())),
        )
        commit_manifest(self.index_dir, manifest, previous)
        self.manifest = manifest

    # ------------------------------------------------------------------ querying
    def search(self, question: str, k: int = 5, mode: str | Mode = "hybrid", *, fusion: str = "convex") -> list[Hit]:
        """The ``k`` best passages for ``question``.

        Args:
            question: plain-English question or keywords.
            k: how many passages to return (at least 1).
            mode: ``hybrid`` (dense + BM25), ``dense`` or ``bm25``.
            fusion: ``convex`` (cosine + normalised BM25, the default), ``rrf``
                (reciprocal-rank fusion) or ``weighted`` (min-max normalised scores).

        Raises:
            QuestionError: the question is empty or only whitespace.
            ValueError: ``k`` < 1 or an unknown mode.
        """
        question = clean_question(question)
        mode = Mode.from_str(mode)
        query_vector = self.encode_query(question) if mode is not Mode.BM25 else None
        return self._search(question, k, mode, query_vector, fusion)

    def _search(self, question: str, k: int, mode: Mode, query_vector: np.ndarray | None, fusion: str = "convex") -> list[Hit]:
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise ValueError(f"k must be a whole number >= 1, got {k!r}")
        fetch = max(50, 4 * k)
        dense_ranked: list[tuple[int, float]] = []
        sparse_ranked: list[tuple[int, float]] = []
        if query_vector is not None and self.dense is not None:
            dense_ranked = self.dense.search(query_vector, fetch)[0]
        if mode in (Mode.BM25, Mode.HYBRID):
            sparse_ranked = self.lexical.search(matching_tokens(question), fetch)
        if mode is Mode.DENSE:
            fused = dense_ranked
        elif mode is Mode.BM25:
            fused = sparse_ranked
        elif fusion == "convex":
            fused = convex(dense_ranked, sparse_ranked)
        elif fusion == "weighted":
            fused = weighted([dense_ranked, sparse_ranked], [0.5, 0.5])
        elif fusion == "rrf":
            fused = rrf([dense_ranked, sparse_ranked])
        else:
            raise ValueError(f"unknown fusion {fusion!r}; choose convex, rrf or weighted")
        dense_rank = {pid: r for r, (pid, _) in enumerate(dense_ranked, 1)}
        sparse_rank = {pid: r for r, (pid, _) in enumerate(sparse_ranked, 1)}
        return [
            Hit(self.passages[pid], float(score), dense_rank.get(pid), sparse_rank.get(pid))
            for pid, score in fused[:k]
        ]

    def ask(self, question: str, k: int = 5, mode: str | Mode = "hybrid", *, fusion: str = "convex") -> Answer:
        """The sentence that best answers ``question``, with citations, or a no-answer.

        Args:
            question: plain-English question.
            k: passages returned with the answer (answers come from the top 5 either way).
            mode: retrieval mode, as in :meth:`search`.
            fusion: score fusion, as in :meth:`search`.

        Raises:
            QuestionError: the question is empty or only whitespace.
        """
        question = clean_question(question)
        mode = Mode.from_str(mode)
        query_vector = self.encode_query(question)
        hits = self._search(question, max(k, 5), mode, query_vector if mode is not Mode.BM25 else None, fusion)
        return self._answers.answer(question, query_vector[0], hits, k)

    def encode_query(self, question: str) -> np.ndarray:
        """The question's unit vector, shape (1, dim)."""
        return self.encoder.encode([question])

    # ------------------------------------------------------------------ info
    @property
    def documents(self) -> list[str]:
        return list(self.manifest["documents"])

    def stats(self) -> dict[str, Any]:
        """Model, counts and build time, for status displays."""
        return {
            "index": str(self.index_dir),
            "model": self.settings.model,
            "documents": self.manifest["counts"]["documents"],
            "passages": self.manifest["counts"]["passages"],
            "updated": self.manifest["updated"],
            "docs_dir": self.manifest.get("docs_dir"),
        }


def clean_question(question: str) -> str:
    if not isinstance(question, str):
        raise QuestionError(f"the question must be text, got {type(question).__name__}")
    question = normalize_whitespace(question)
    if not question:
        raise QuestionError("the question is empty: type a question about your documents")
    return question[:MAX_QUESTION_CHARS]


def embedding_input(passage: Passage) -> tuple[str, list[tuple[int, int]]]:
    """The normalised passage text and its sentences' spans inside that text."""
    text, where = normalize_with_offsets(passage.text)
    spans = []
    for start, end in passage.sentences:
        a = bisect.bisect_left(where, start - passage.start)
        b = bisect.bisect_left(where, end - passage.start)
        spans.append((a, b))
    return text, spans


def _write_sentence_vectors(path: Path, passages: dict[int, Passage], vectors: dict[int, np.ndarray], dim: int) -> None:
    rows = [vectors[pid] for pid in sorted(passages)]
    matrix = np.concatenate(rows).astype(np.float16) if rows else np.zeros((0, dim), dtype=np.float16)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, matrix, allow_pickle=False)


def _read_sentence_vectors(path: Path, passages: dict[int, Passage], dim: int) -> dict[int, np.ndarray]:
    """Memory-mapped: pages are read only for passages that become answer candidates."""
    try:
        matrix = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, EOFError, ValueError) as exc:
        raise IndexCorruptError(f"sentence vectors {path} are corrupted or truncated ({exc}); rebuild with `qa index --rebuild`") from None
    expected = sum(len(p.sentences) for p in passages.values())
    if matrix.ndim != 2 or matrix.shape != (expected, dim):
        raise IndexCorruptError(f"sentence vectors {path} have shape {matrix.shape}, expected ({expected}, {dim}); rebuild with `qa index --rebuild`")
    out: dict[int, np.ndarray] = {}
    row = 0
    for pid in sorted(passages):
        n = len(passages[pid].sentences)
        out[pid] = matrix[row : row + n]
        row += n
    return out


def _classify(ingest: IngestResult, known: dict[str, Any]) -> UpdateReport:
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


def _write_passages(path: Path, passages: dict[int, Passage]) -> None:
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as fh:
            for pid in sorted(passages):
                p = passages[pid]
                row = {"id": p.id, "doc": p.doc, "number": p.number, "start": p.start, "end": p.end,
                       "text": p.text, "sentences": [list(s) for s in p.sentences]}
                if p.page is not None:
                    row["page"] = p.page
                if p.section:
                    row["section"] = list(p.section)
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def _read_passages(path: Path) -> dict[int, Passage]:
    passages: dict[int, Passage] = {}
    try:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                row = json.loads(line)
                passages[row["id"]] = Passage(
                    row["id"], row["doc"], row["number"], row["start"], row["end"], row["text"],
                    tuple((s, e) for s, e in row["sentences"]),
                    row.get("page"), tuple(row.get("section", ())),
                )
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
        raise IndexCorruptError(f"passage file {path} is corrupted or truncated ({exc}); rebuild with `qa index --rebuild`") from None
    return passages


@contextmanager
def _writer_lock(index_dir: Path) -> Iterator[None]:
    """One writer at a time per index folder (readers never wait)."""
    index_dir.mkdir(parents=True, exist_ok=True)
    with open(index_dir / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
