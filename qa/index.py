"""The document index: build it from a folder, keep it up to date, ask it questions.

A thin facade over the pipeline: ``qa.store`` (what the folder holds, the
incremental update), ``qa.retrieval`` (hybrid search) and ``qa.answer``
(the answer sentence, or a no-answer).

Usage example::

    from qa import Index
    index = Index.build("docs_src", "index")      # or Index.open("index")
    answer = index.ask("Who invited Putin to North Korea?")
    print(answer.text, answer.citations[0].doc)
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

import numpy as np

from qa.answer.finder import AnswerFinder
from qa.config import Settings
from qa.errors import IndexCorruptError, IndexMismatchError
from qa.query import Query
from qa.retrieval.dense import FaissStore
from qa.retrieval.encoder import Encoder, make_encoder
from qa.retrieval.fusion import DEFAULT_FUSION, Mode
from qa.retrieval.hybrid import HybridRetriever, check_k
from qa.retrieval.lexical import BM25Store
from qa.store.backend import is_remote, open_backend
from qa.store.data import IndexData
from qa.store.update import UpdateReport, plan_build, update_index
from qa.types import Answer, Hit, Passage

if TYPE_CHECKING:
    from qa.conversation import Conversation


class Index:
    """Open with :meth:`open`, create or refresh with :meth:`build` / :meth:`update`."""

    def __init__(self, data: IndexData, encoder: Encoder) -> None:
        self.data = data
        self.encoder = encoder
        self.retriever = HybridRetriever(data)
        self.answers = AnswerFinder(data)

    def use_scorer(self, path: str | Path) -> None:
        """Answer with another scorer file (see ``training/train_answer_scorer.py``), e.g. to compare."""
        from qa.answer.scorer import Scorer

        self.answers = AnswerFinder(self.data, Scorer.load(path))

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(cls, index_dir: str | Path = "index", *, encoder: Encoder | None = None, verify: bool | None = None) -> Index:
        """Load a built index.

        Args:
            index_dir: the folder ``qa index`` wrote, or a Milvus location
                (``milvus://host:port/name``, ``milvus-lite:///path/file.db/name``).
            encoder: reuse an already loaded encoder (its name must match the index's model).
            verify: check file hashes (default: only for indexes under 64 MiB).

        Raises:
            IndexNotFoundError, IndexMismatchError, IndexCorruptError.
        """
        data = IndexData.load(index_location(index_dir), verify)
        model = data.settings.model
        if encoder is not None and encoder.name != model:
            raise IndexMismatchError(
                f"index at {data.location} was built with model {model!r}, not {encoder.name!r}: "
                f"rebuild it with `qa index --model {encoder.name}`, or query it without --model"
            )
        if encoder is None:
            from qa.retrieval.onnx_encoder import load_query_encoder

            from qa.retrieval.onnx_encoder import cache_folder

            folder = data.backend.folder if data.backend.folder is not None else cache_folder(model)
            encoder = load_query_encoder(folder, model) or make_encoder(model)
        return cls(data, encoder)

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
        workers: str | None = None,
    ) -> Index:
        """Create the index, or bring an existing one up to date with ``docs_dir``.

        ``settings=None`` keeps an existing index's settings (defaults for a new
        one); settings that differ from the existing index's rebuild everything.
        ``workers``: a Dask scheduler address (``tcp://host:8786``) to embed on
        its workers instead of here (see ``qa.retrieval.distributed``).
        """
        index_dir = index_location(index_dir)
        folder_path(docs_dir, "docs_dir")
        if settings is not None and not isinstance(settings, Settings):
            raise TypeError(f"settings must be a qa.Settings, got {type(settings).__name__}")
        plan = plan_build(open_backend(index_dir), settings, encoder.name if encoder is not None else None, rebuild)
        settings, existing, rebuild_reason = plan.settings, plan.existing, plan.rebuild_because
        if workers is not None:
            from qa.retrieval.distributed import DaskEncoder

            if not isinstance(workers, str) or not workers:
                raise TypeError(f"workers must be a Dask scheduler address such as 'tcp://host:8786', got {workers!r}")
            encoder = DaskEncoder(settings.model, workers)
        encoder = encoder or make_encoder(settings.model)
        index = None
        if existing is not None and rebuild_reason is None:
            try:
                index = cls.open(index_dir, encoder=encoder)
            except IndexCorruptError as exc:
                rebuild_reason = f"the existing index cannot be used ({exc})"
        if index is None:
            index = cls(IndexData.empty(index_dir, settings), encoder)
        report = index._update(docs_dir, progress, rebuild_reason, existing)
        if on_report is not None:
            on_report(report)
        return index

    # ------------------------------------------------------------------ updating
    def update(self, docs_dir: str | Path, *, progress: bool = False) -> UpdateReport:
        """Re-embed only added or changed documents (by content hash); drop removed ones.

        Nothing is written when nothing changed. The new state becomes visible
        on disk atomically, when the manifest is replaced.

        Raises:
            DocumentsError: the folder is missing or has no indexable document
                (the index is left as it was).
        """
        return self._update(folder_path(docs_dir, "docs_dir"), progress, None, None)

    def _update(self, docs_dir: str | Path, progress: bool, rebuilt_because: str | None,
                previous: dict[str, Any] | None) -> UpdateReport:
        try:
            return update_index(self.data, docs_dir, self.encoder, progress=progress,
                                rebuilt_because=rebuilt_because, previous=previous)
        finally:
            self.retriever.forget()

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
            ValueError: ``k`` < 1, an unknown mode or fusion.
        """
        query = Query.parse(question)
        mode = Mode.from_str(mode)
        query_vector = self.encode_query(query.text) if mode is not Mode.BM25 else None
        return self.retriever.search(query, k, mode, query_vector, fusion)

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
            ValueError: ``k`` < 1, an unknown mode or fusion.
        """
        query = Query.parse(question)
        mode = Mode.from_str(mode)
        check_k(k)  # before max() below could hide a bad k
        query_vector = self.encode_query(query.text)
        hits = self.retriever.search(query, max(k, self.answers.scorer.candidate_passages), mode,
                                     query_vector if mode is not Mode.BM25 else None, fusion)
        return self.answers.answer(query, query_vector[0], hits, k)

    def conversation(self) -> Conversation:
        """A chat whose questions may lean on the turn before ("When did he die?"); see :mod:`qa.conversation`."""
        from qa.conversation import Conversation

        return Conversation(self)

    def warm_up(self) -> None:
        """Load now what the first question would otherwise wait for (the answer reader, ~0.1 s)."""
        _ = self.answers.reader

    def encode_query(self, question: str) -> np.ndarray:
        """The question's unit vector, shape (1, dim)."""
        return self.encoder.encode([question])

    # ------------------------------------------------------------------ info
    @property
    def index_dir(self) -> Path | str:
        """The index folder (a Path), or the Milvus location (a str) of a remote index."""
        return self.data.index_dir

    @property
    def location(self) -> str:
        """Where the index lives, as it was given (a folder or a Milvus location)."""
        return self.data.location

    @property
    def manifest(self) -> dict[str, Any]:
        return self.data.manifest

    @property
    def settings(self) -> Settings:
        return self.data.settings

    @property
    def passages(self) -> Mapping[int, Passage]:
        return self.data.passages

    @property
    def sentence_vectors(self) -> Mapping[int, np.ndarray]:
        return self.data.sentence_vectors

    @property
    def dense(self) -> FaissStore | Any:
        return self.data.dense

    @property
    def lexical(self) -> BM25Store | Any:
        return self.data.lexical

    @property
    def documents(self) -> list[str]:
        return list(self.data.manifest["documents"])

    def title(self, doc: str) -> str:
        """The document's title as the models read it (its first line when that is a heading, else its file name)."""
        return self.data.title(doc)

    def stats(self) -> dict[str, Any]:
        """Model, counts and build time, for status displays."""
        manifest = self.data.manifest
        return {
            "index": self.data.location,
            "model": self.settings.model,
            "documents": manifest["counts"]["documents"],
            "passages": manifest["counts"]["passages"],
            "updated": manifest["updated"],
            "docs_dir": manifest.get("docs_dir"),
        }


def index_location(value: Any) -> Path | str:
    """A folder path, or a ``milvus://`` / ``milvus-lite://`` location kept as text (TypeError otherwise)."""
    if is_remote(value):
        return str(value)
    return folder_path(value, "index_dir")


def folder_path(value: Any, name: str) -> Path:
    """``value`` as a Path, or a TypeError that names the argument (not an error deep inside)."""
    if isinstance(value, bool) or not isinstance(value, (str, Path)) or not str(value):
        raise TypeError(f"{name} must be a folder path (str or pathlib.Path), got {value!r}")
    return Path(value)
