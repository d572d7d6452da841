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
import os
import secrets
import weakref
import time
from collections.abc import Mapping, MutableMapping
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
from .fusion import DEFAULT_FUSION, FUSIONS, Mode, convex, rrf, sentence_convex, sentence_words, weighted
from .formats import SUFFIXES
from .ingest import IngestResult, Skipped, read_folder
from .manifest import FORMAT_VERSION, checksums_for, commit_manifest, read_manifest, verify_files
from .sentences import is_heading, split_paragraphs
from .storage import atomic_path
from .textutil import idf_weights, matching_tokens, normalize_whitespace, normalize_with_offsets, tokenize
from .types import Answer, Document, Hit, Passage

MAX_QUESTION_CHARS = 2000  # longer input is cut: the model reads 256 tokens at most anyway
SENTENCE_WORD_CACHE = 50_000  # passages whose sentences' words are kept between questions (about 1 KB each)


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
        self._sentence_words: dict[int, tuple[np.ndarray, np.ndarray, int]] = {}  # see _words_of_sentences
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
        passages = _read_passages(index_dir / files["passages"], index_dir / files["passage_table"]) if files else {}
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
        docs = {d.id: d for d in ingest.documents}
        previous = _previous if _previous is not None else self.manifest
        with _writer_lock(self.index_dir):
            try:
                removed = report.removed
                for batch in _commit_batches([docs[d] for d in report.added + report.changed], self._indexed_chars()):
                    report.passages_embedded += self._apply(batch, removed, progress)
                    self._commit(Path(docs_dir), previous)
                    removed = []
                if removed or not self.manifest["files"]:  # only removals, or a first build of empty files
                    self._apply([], removed, progress)
                    self._commit(Path(docs_dir), previous)
            except BaseException:
                self._reset_to_disk()  # the in-memory state must match what is on disk again
                raise
        report.seconds = time.perf_counter() - started
        return report

    def _indexed_chars(self) -> int:
        return sum(int(info.get("chars", 0)) for info in self.manifest["documents"].values())

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

    def _apply(self, todo: list[Document], removed: list[str], progress: bool) -> int:
        """Embed ``todo`` (added or changed documents), drop ``removed`` ones; returns passages embedded."""
        new_passages: list[Passage] = []
        next_id = int(self.manifest["next_id"])
        for doc in todo:
            for number, (span, region) in enumerate(chunk_document(doc, self.settings.passage_chars, self.settings.overlap_chars)):
                new_passages.append(
                    Passage(next_id, doc.id, number, span.start, span.end, doc.text[span.start : span.end], span.sentences,
                            region.page, region.section)
                )
                next_id += 1
        titles = {doc.id: document_title(doc) for doc in todo}
        texts, spans = zip(*(embedding_input(p, titles[p.doc]) for p in new_passages)) if new_passages else ((), ())
        if new_passages:  # removals alone need no model at all
            embedder = make_encoder(self.settings.model) if getattr(self.encoder, "query_only", False) else self.encoder
            vectors, sentence_vectors = encode_with_sentences(embedder, list(texts), list(spans), progress=progress)
        else:
            vectors, sentence_vectors = None, []
        if self.dense is None:
            self.dense = FaissStore(self.encoder.dim)
        known = self.manifest["documents"]
        stale = [pid for d in [doc.id for doc in todo if doc.id in known] + removed for pid in known[d]["passages"]]
        self.dense.remove(stale)
        self.lexical.remove(stale)
        for pid in stale:
            del self.passages[pid]
            self.sentence_vectors.pop(pid, None)
        self._sentence_words.clear()  # ids may come back with other text
        if vectors is not None:
            self.dense.add([p.id for p in new_passages], vectors)
        self.lexical.add([p.id for p in new_passages], list(texts))
        self.passages.update({p.id: p for p in new_passages})
        self.sentence_vectors.update({p.id: v.astype(np.float16) for p, v in zip(new_passages, sentence_vectors)})
        documents = {d: info for d, info in known.items() if d not in removed}
        by_doc: dict[str, list[int]] = {}
        for p in new_passages:
            by_doc.setdefault(p.doc, []).append(p.id)
        for doc in todo:
            documents[doc.id] = {"sha256": doc.sha256, "chars": len(doc.text), "title": titles[doc.id],
                                 "passages": by_doc.get(doc.id, [])}
        self.manifest["documents"] = dict(sorted(documents.items()))
        self.manifest["next_id"] = next_id
        self.manifest["settings"]["dim"] = self.dense.dim
        return len(new_passages)

    def _commit(self, docs_dir: Path, previous: dict[str, Any] | None) -> None:
        gen = f"{int(time.time())}-{secrets.token_hex(3)}"
        files = {"passages": f"passages-{gen}.jsonl", "passage_table": f"passages-{gen}.table.npy", "vectors": f"vectors-{gen}.faiss",
                 "lexical": f"lexical-{gen}", "sentences": f"sentences-{gen}.npy"}
        self.index_dir.mkdir(parents=True, exist_ok=True)
        _write_passages(self.index_dir / files["passages"], self.passages, self.index_dir / files["passage_table"])
        _write_sentence_vectors(self.index_dir / files["sentences"], self.passages, self.sentence_vectors, self.dense.dim)
        self.dense.save(self.index_dir / files["vectors"])
        self.lexical.save(self.index_dir / files["lexical"])
        # From now on passages and sentence vectors are read from the new files, not held in memory.
        self.passages = _read_passages(self.index_dir / files["passages"], self.index_dir / files["passage_table"])
        self.sentence_vectors = _read_sentence_vectors(self.index_dir / files["sentences"], self.passages, self.dense.dim)
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
    def search(self, question: str, k: int = 5, mode: str | Mode = "hybrid", *, fusion: str = DEFAULT_FUSION) -> list[Hit]:
        """The ``k`` best passages for ``question``.

        Args:
            question: plain-English question or keywords.
            k: how many passages to return (at least 1).
            mode: ``hybrid`` (dense + BM25), ``dense`` or ``bm25``.
            fusion: ``sentence-words`` (the default: passage cosine + best sentence cosine +
                normalised BM25 + the share of the question's words in the passage's best sentence
                for them), ``sentence`` (the same without the last term), ``convex`` (passage
                cosine + normalised BM25), ``rrf`` (reciprocal-rank fusion) or ``weighted``
                (min-max normalised scores).

        Raises:
            QuestionError: the question is empty or only whitespace.
            ValueError: ``k`` < 1 or an unknown mode.
        """
        question = clean_question(question)
        mode = Mode.from_str(mode)
        query_vector = self.encode_query(question) if mode is not Mode.BM25 else None
        return self._search(question, k, mode, query_vector, fusion)

    def _search(self, question: str, k: int, mode: Mode, query_vector: np.ndarray | None, fusion: str = DEFAULT_FUSION) -> list[Hit]:
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
        elif fusion == "sentence-words":
            ids = {pid for pid, _ in dense_ranked} | {pid for pid, _ in sparse_ranked}
            fused = sentence_words(dense_ranked, sparse_ranked, self._best_sentence_cosines(ids, query_vector),
                                   self._best_sentence_word_shares(ids, question))
        elif fusion == "sentence":
            ids = {pid for pid, _ in dense_ranked} | {pid for pid, _ in sparse_ranked}
            fused = sentence_convex(dense_ranked, sparse_ranked, self._best_sentence_cosines(ids, query_vector))
        elif fusion == "convex":
            fused = convex(dense_ranked, sparse_ranked)
        elif fusion == "weighted":
            fused = weighted([dense_ranked, sparse_ranked], [0.5, 0.5])
        elif fusion == "rrf":
            fused = rrf([dense_ranked, sparse_ranked])
        else:
            raise ValueError(f"unknown fusion {fusion!r}; choose {', '.join(FUSIONS[:-1])} or {FUSIONS[-1]}")
        dense_rank = {pid: r for r, (pid, _) in enumerate(dense_ranked, 1)}
        sparse_rank = {pid: r for r, (pid, _) in enumerate(sparse_ranked, 1)}
        return [
            Hit(self.passages[pid], float(score), dense_rank.get(pid), sparse_rank.get(pid))
            for pid, score in fused[:k]
        ]

    def _best_sentence_cosines(self, ids: set[int], query_vector: np.ndarray | None) -> dict[int, float]:
        """Each passage's highest sentence cosine with the question (passages without sentence vectors are left out)."""
        if query_vector is None:
            return {}
        blocks = {pid: self.sentence_vectors.get(pid) for pid in sorted(ids)}
        blocks = {pid: v for pid, v in blocks.items() if v is not None and len(v)}
        if not blocks:
            return {}
        cosines = np.concatenate(list(blocks.values())).astype(np.float32) @ np.asarray(query_vector, dtype=np.float32).reshape(-1)
        starts = np.cumsum([0] + [len(v) for v in blocks.values()])[:-1]
        return dict(zip(blocks, np.maximum.reduceat(cosines, starts).tolist()))

    def _best_sentence_word_shares(self, ids: set[int], question: str) -> dict[int, float]:
        """Per passage, the largest IDF-weighted share of the question's words that one of its sentences holds."""
        weights = idf_weights(matching_tokens(question), self.lexical.idf)
        total = sum(weights.values())
        if not total or not ids:
            return {}
        order = sorted(ids)
        parts = [self._words_of_sentences(pid) for pid in order]
        counts = np.array([n for _, _, n in parts], dtype=np.int64)
        first = np.concatenate([[0], np.cumsum(counts)[:-1]])
        words = np.concatenate([w for w, _, _ in parts])
        sentence = np.concatenate([s + f for (_, s, _), f in zip(parts, first.tolist())])
        values = np.zeros(len(words))
        for token, weight in weights.items():
            values[words == hash(token)] = weight
        best = np.zeros(len(order))
        if counts.sum():
            per_sentence = np.bincount(sentence, weights=values, minlength=int(counts.sum()))
            has = counts > 0
            best[has] = np.maximum.reduceat(per_sentence, first[has])
        return dict(zip(order, (best / total).tolist()))

    def _words_of_sentences(self, pid: int) -> tuple[np.ndarray, np.ndarray, int]:
        """A passage's sentences' distinct words (hashed), the sentence of each, and how many sentences.

        Tokenized the first time a question reaches the passage (about 60 µs),
        then kept (about 1 KB; at most ``SENTENCE_WORD_CACHE`` passages). The
        hashes are Python's own, so they only ever meet hashes of the same process.
        """
        cached = self._sentence_words.get(pid)
        if cached is None:
            if len(self._sentence_words) >= SENTENCE_WORD_CACHE:
                self._sentence_words.clear()
            p = self.passages[pid]
            words: list[int] = []
            owner: list[int] = []
            for j, (start, end) in enumerate(p.sentences):
                distinct = {hash(t) for t in tokenize(p.text[start - p.start : end - p.start])}
                words.extend(distinct)
                owner.extend([j] * len(distinct))
            cached = (np.array(words, dtype=np.int64), np.array(owner, dtype=np.int32), len(p.sentences))
            self._sentence_words[pid] = cached
        return cached

    def ask(self, question: str, k: int = 5, mode: str | Mode = "hybrid", *, fusion: str = DEFAULT_FUSION) -> Answer:
        """The sentence that best answers ``question``, with citations, or a no-answer.

        Args:
            question: plain-English question.
            k: passages returned with the answer (the answer comes from the sentences of the top
                ``scorer.candidate_passages`` either way, and passages are ordered by their best sentence).
            mode: retrieval mode, as in :meth:`search`.
            fusion: score fusion, as in :meth:`search`.

        Raises:
            QuestionError: the question is empty or only whitespace.
        """
        question = clean_question(question)
        mode = Mode.from_str(mode)
        query_vector = self.encode_query(question)
        hits = self._search(question, max(k, self._answers.scorer.candidate_passages), mode,
                            query_vector if mode is not Mode.BM25 else None, fusion)
        return self._answers.answer(question, query_vector[0], hits, k)

    def warm_up(self) -> None:
        """Load now what the first question would otherwise wait for (the answer reader, ~0.1 s)."""
        _ = self._answers.reader

    def title(self, doc: str) -> str:
        """The document's title as the models read it (its first line when that is a heading, else its file name)."""
        info = self.manifest["documents"].get(doc, {})
        return info.get("title") or file_title(doc)  # indexes built before titles were kept

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


def embedding_input(passage: Passage, title: str = "") -> tuple[str, list[tuple[int, int]]]:
    """What the models read for a passage, and its sentences' spans inside it.

    The normalised passage text, after its heading path when it has one
    ("Guide > Installation > Linux: ...") or else its document's ``title``,
    so a passage deep in a document still matches questions that name the
    document's or section's subject.
    """
    text, where = normalize_with_offsets(passage.text)
    context = " > ".join(passage.section) if passage.section else title
    prefix = f"{context}: " if context and not text.startswith(context) else ""
    spans = []
    for start, end in passage.sentences:
        a = bisect.bisect_left(where, start - passage.start)
        b = bisect.bisect_left(where, end - passage.start)
        spans.append((a + len(prefix), b + len(prefix)))
    return prefix + text, spans


def document_title(document: Document) -> str:
    """A document's first paragraph when it is a heading, else its file name as words."""
    paragraphs = split_paragraphs(document.text)
    if paragraphs:
        start, end = paragraphs[0]
        if is_heading(document.text, start, end):
            return normalize_whitespace(document.text[start:end]).lstrip("#").strip()
    return file_title(document.id)


def file_title(doc: str) -> str:
    """A file name as words: ``New_Delhi.txt`` -> ``New Delhi``."""
    return " ".join(Path(doc).stem.replace("_", " ").replace("-", " ").split())


def _write_sentence_vectors(path: Path, passages: Mapping[int, Passage], vectors: Mapping[int, np.ndarray], dim: int) -> None:
    """One float16 matrix: each passage's sentence rows, in passage-id order.

    Written block by block, never assembled in memory; rows of passages that
    were already on disk are copied as bytes from the previous file.
    """
    order = _sorted_ids(passages)
    segments = _segments(vectors, order)
    total = 0
    for segment in segments:
        total += segment.rows(vectors)
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float16)), "fortran_order": False, "shape": (total, dim)}
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.lib.format.write_array_header_1_0(fh, header)
            for segment in segments:
                segment.write_rows(vectors, fh, dim)


def _read_sentence_vectors(path: Path, passages: Mapping[int, Passage], dim: int) -> SentenceVectors:
    """Memory-mapped: pages are read only for passages that become answer candidates."""
    try:
        matrix = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, EOFError, ValueError) as exc:
        raise IndexCorruptError(f"sentence vectors {path} are corrupted or truncated ({exc}); rebuild with `qa index --rebuild`") from None
    if isinstance(passages, PassageTable) and passages.unchanged:
        ids, rows = passages._ids, passages._rows
    else:
        ids = _sorted_ids(passages)
        rows = np.concatenate([[0], np.cumsum([len(passages[int(pid)].sentences) for pid in ids], dtype=np.int64)]).astype(np.int64)
    if matrix.ndim != 2 or matrix.shape != (int(rows[-1]), dim) or matrix.dtype != np.float16:
        raise IndexCorruptError(f"sentence vectors {path} have shape {matrix.shape}, expected ({int(rows[-1])}, {dim}); rebuild with `qa index --rebuild`")
    return SentenceVectors(matrix, ids, rows)


COMMIT_CHARS = 16_000_000  # about 20k passages: ~120 MB of new vectors held before they are written
MAX_COMMIT_CHARS = 64_000_000  # about 80k passages: the most new vectors ever held (~0.5 GB)


def _commit_batches(todo: list[Document], indexed_chars: int) -> Iterator[list[Document]]:
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


def _passage_row(p: Passage) -> dict[str, Any]:
    row: dict[str, Any] = {"id": p.id, "doc": p.doc, "number": p.number, "start": p.start, "end": p.end,
                           "text": p.text, "sentences": [list(s) for s in p.sentences]}
    if p.page is not None:
        row["page"] = p.page
    if p.section:
        row["section"] = list(p.section)
    return row


def _passage_from_row(row: dict[str, Any]) -> Passage:
    return Passage(
        row["id"], row["doc"], row["number"], row["start"], row["end"], row["text"],
        tuple((s, e) for s, e in row["sentences"]),
        row.get("page"), tuple(row.get("section", ())),
    )


def _write_passages(path: Path, passages: Mapping[int, Passage], table_path: Path) -> None:
    """``passages-<gen>.jsonl`` (one JSON object a line, in id order) and its table.

    The table (``passages-<gen>.table.npy``, int64, one row per passage plus a
    closing row) holds each passage's id, the byte offset of its line and its
    first row in the sentence-vector matrix, so opening an index reads no
    passage. Lines of passages already on disk are copied as bytes.
    """
    order = _sorted_ids(passages)
    line_bytes = np.zeros(len(order), dtype=np.int64)
    sentence_rows = np.zeros(len(order), dtype=np.int64)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            at = 0
            for segment in _segments(passages, order):
                at = segment.write_lines(passages, fh, line_bytes, sentence_rows, at)
    table = np.zeros((len(order) + 1, 3), dtype=np.int64)
    table[:-1, 0], table[-1, 0] = order, -1
    table[1:, 1] = np.cumsum(line_bytes)
    table[1:, 2] = np.cumsum(sentence_rows)
    with atomic_path(table_path) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, table, allow_pickle=False)


def _read_passages(path: Path, table_path: Path) -> PassageTable:
    """Checks the table against the file's line breaks; passages themselves are parsed when used."""
    try:
        table = np.load(table_path, allow_pickle=False)
        if table.dtype != np.int64 or table.ndim != 2 or table.shape[1] != 3 or len(table) < 1:
            raise ValueError(f"passage table has type {table.dtype}{table.shape}")
        ids, lines, rows = (np.ascontiguousarray(table[:-1, 0]), np.ascontiguousarray(table[:, 1]),
                            np.ascontiguousarray(table[:, 2]))
        del table
        if lines[0] != 0 or lines[-1] != path.stat().st_size or rows[0] != 0:
            raise ValueError("the passage table does not match the file's size")
        if np.any(np.diff(lines) <= 0) or np.any(np.diff(rows) < 0) or np.any(np.diff(ids) <= 0) or (len(ids) and ids[0] < 0):
            raise ValueError("the passage table is out of order")
        from .manifest import VERIFY_HASH_BYTES

        if lines[-1] <= VERIFY_HASH_BYTES:  # larger files: each line is checked when it is read
            _check_line_breaks(path, lines)
        passages = PassageTable(path, ids, lines, rows)
        for i in {0, len(ids) - 1} if len(ids) else ():
            passages._value(i)  # the first and last line parse and carry their ids
    except (OSError, EOFError, ValueError) as exc:
        raise IndexCorruptError(f"passage file {path} is corrupted or truncated ({exc}); rebuild with `qa index --rebuild`") from None
    return passages


def _check_line_breaks(path: Path, lines: np.ndarray) -> None:
    """Every line break of the file is where the table says a line ends (read in blocks, not mapped)."""
    expected = lines[1:] - 1
    found = 0
    offset = 0
    with open(path, "rb") as fh:
        while block := fh.read(1 << 24):
            breaks = np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == 10) + offset
            if found + len(breaks) > len(expected) or not np.array_equal(expected[found : found + len(breaks)], breaks):
                raise ValueError("line breaks do not match the passage table")
            found += len(breaks)
            offset += len(block)
    if found != len(expected):
        raise ValueError("line breaks do not match the passage table")


def _sorted_ids(mapping: Mapping[int, Any]) -> np.ndarray:
    ids = np.fromiter(mapping, dtype=np.int64, count=len(mapping))
    return ids if isinstance(mapping, _OnDisk) else np.sort(ids)


class _OnDisk(MutableMapping):  # type: ignore[type-arg]
    """Values by passage id: those written by the last commit are read from disk on
    demand (``_value``); changes since then are kept in a dict and a set."""

    def __init__(self, ids: np.ndarray) -> None:
        self._ids = ids  # sorted ids of the values on disk
        self._added: dict[int, Any] = {}
        self._removed: set[int] = set()  # ids on disk that were deleted or replaced

    def _value(self, i: int) -> Any:
        raise NotImplementedError

    def _position(self, pid: Any) -> int:
        """Row of ``pid`` on disk, or -1."""
        if isinstance(pid, bool) or not isinstance(pid, (int, np.integer)):
            return -1
        i = int(np.searchsorted(self._ids, pid))
        return i if i < len(self._ids) and int(self._ids[i]) == pid else -1

    @property
    def unchanged(self) -> bool:
        return not self._added and not self._removed

    def __getitem__(self, pid: Any) -> Any:
        if pid in self._added:
            return self._added[pid]
        i = self._position(pid)
        if i < 0 or pid in self._removed:
            raise KeyError(pid)
        return self._value(i)

    def __contains__(self, pid: object) -> bool:
        return pid in self._added or (pid not in self._removed and self._position(pid) >= 0)

    def __setitem__(self, pid: int, value: Any) -> None:
        pid = int(pid)
        if self._position(pid) >= 0:
            self._removed.add(pid)
        self._added[pid] = value

    def __delitem__(self, pid: int) -> None:
        if pid in self._added:
            del self._added[pid]
        elif pid not in self._removed and self._position(pid) >= 0:
            self._removed.add(int(pid))
        else:
            raise KeyError(pid)

    def __len__(self) -> int:
        return len(self._ids) - len(self._removed) + len(self._added)

    def __iter__(self) -> Iterator[int]:
        ids = self._ids
        if self._removed:
            ids = ids[~np.isin(ids, np.fromiter(self._removed, dtype=np.int64, count=len(self._removed)))]
        if self._added:
            ids = np.sort(np.concatenate([ids, np.fromiter(self._added, dtype=np.int64, count=len(self._added))]))
        for start in range(0, len(ids), 65536):
            yield from ids[start : start + 65536].tolist()

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {len(self)} passages, {len(self._added)} added and {len(self._removed)} removed since the last commit>"


class PassageTable(_OnDisk):
    """Passages by id, parsed from their line of ``passages-<gen>.jsonl`` when asked for.

    An index of a million passages keeps three integer arrays in memory
    instead of a million Python objects (bench/query.py); reading one passage
    costs one ``pread`` and one ``json.loads``.
    """

    def __init__(self, path: Path | None = None, ids: np.ndarray | None = None, lines: np.ndarray | None = None,
                 rows: np.ndarray | None = None) -> None:
        super().__init__(ids if ids is not None else np.zeros(0, dtype=np.int64))
        self.path = path
        self._lines = lines if lines is not None else np.zeros(1, dtype=np.int64)
        self._rows = rows if rows is not None else np.zeros(1, dtype=np.int64)  # first sentence-vector row
        self._fd = os.open(path, os.O_RDONLY) if path is not None else -1
        if self._fd >= 0:
            weakref.finalize(self, os.close, self._fd)

    def _value(self, i: int) -> Passage:
        start, end = int(self._lines[i]), int(self._lines[i + 1])
        try:
            passage = _passage_from_row(json.loads(os.pread(self._fd, end - start, start)))
        except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise IndexCorruptError(f"passage file {self.path} is corrupted or truncated ({exc}); rebuild with `qa index --rebuild`") from None
        if passage.id != int(self._ids[i]):
            raise IndexCorruptError(f"passage file {self.path} is corrupted or truncated (line {i} holds passage {passage.id}, "
                                    f"the table says {int(self._ids[i])}); rebuild with `qa index --rebuild`")
        return passage


class SentenceVectors(_OnDisk):
    """Each passage's (sentences, dim) float16 unit rows: views of the memory-mapped matrix."""

    def __init__(self, matrix: np.ndarray, ids: np.ndarray, rows: np.ndarray) -> None:
        super().__init__(ids)
        self._matrix = matrix
        self._rows = rows

    def _value(self, i: int) -> np.ndarray:
        return self._matrix[int(self._rows[i]) : int(self._rows[i + 1])]


@dataclass
class _Segment:
    """Consecutive passages of the output that are consecutive on disk (rows ``first:stop``
    of the source), or one passage (``pid``) taken from the mapping."""

    first: int = 0
    stop: int = 0
    pid: int = -1

    def rows(self, vectors: Mapping[int, np.ndarray]) -> int:
        if self.pid >= 0:
            return len(vectors[self.pid])
        return int(vectors._rows[self.stop] - vectors._rows[self.first])  # type: ignore[attr-defined]

    def write_rows(self, vectors: Mapping[int, np.ndarray], fh: Any, dim: int) -> None:
        if self.pid >= 0:
            fh.write(np.ascontiguousarray(vectors[self.pid], dtype=np.float16).reshape(-1, dim).tobytes())
            return
        matrix = vectors._matrix  # type: ignore[attr-defined]
        row_bytes = dim * 2
        start = matrix.offset + int(vectors._rows[self.first]) * row_bytes  # type: ignore[attr-defined]
        _copy_bytes(matrix.filename, start, self.rows(vectors) * row_bytes, fh)

    def write_lines(self, passages: Mapping[int, Passage], fh: Any, line_bytes: np.ndarray, sentence_rows: np.ndarray, at: int) -> int:
        if self.pid >= 0:
            p = passages[self.pid]
            line = (json.dumps(_passage_row(p), ensure_ascii=False) + "\n").encode("utf-8")
            fh.write(line)
            line_bytes[at], sentence_rows[at] = len(line), len(p.sentences)
            return at + 1
        table: PassageTable = passages  # type: ignore[assignment]
        n = self.stop - self.first
        start, end = int(table._lines[self.first]), int(table._lines[self.stop])
        _copy_bytes(table.path, start, end - start, fh)  # type: ignore[arg-type]
        line_bytes[at : at + n] = np.diff(table._lines[self.first : self.stop + 1])
        sentence_rows[at : at + n] = np.diff(table._rows[self.first : self.stop + 1])
        return at + n


def _segments(mapping: Mapping[int, Any], order: np.ndarray) -> list[_Segment]:
    """How to produce ``mapping``'s values in ``order``: runs copied from its file, single values."""
    if not isinstance(mapping, _OnDisk) or not len(mapping._ids) or not len(order):
        return [_Segment(pid=int(pid)) for pid in order]
    position = np.minimum(np.searchsorted(mapping._ids, order), len(mapping._ids) - 1)
    on_disk = mapping._ids[position] == order
    if mapping._removed:
        on_disk &= ~np.isin(order, np.fromiter(mapping._removed, dtype=np.int64, count=len(mapping._removed)))
    # a run continues while the next passage is on disk, right after the previous one
    continues = np.zeros(len(order), dtype=bool)
    continues[1:] = on_disk[1:] & on_disk[:-1] & (position[1:] == position[:-1] + 1)
    segments: list[_Segment] = []
    starts = np.flatnonzero(~continues)
    ends = np.append(starts[1:], len(order))
    for a, b in zip(starts.tolist(), ends.tolist()):
        if on_disk[a]:
            segments.append(_Segment(int(position[a]), int(position[a]) + b - a))
        else:
            segments.append(_Segment(pid=int(order[a])))  # a single new value (b == a + 1)
    return segments


def _copy_bytes(source: str | Path, start: int, length: int, out: Any) -> None:
    with open(source, "rb") as fh:
        fh.seek(start)
        while length > 0:
            block = fh.read(min(length, 1 << 24))
            if not block:
                raise IndexCorruptError(f"index file {source} is truncated; rebuild with `qa index --rebuild`")
            out.write(block)
            length -= len(block)


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
