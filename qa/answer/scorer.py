"""The learned models that rank answer candidates and decide whether there is an answer.

Weights live in JSON (``models/answer_scorer.json``, trained by
``training/train_answer_scorer.py``), never in pickles, so a scorer file
from someone else cannot run code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qa.answer.features import NEAR_MISS_FEATURES, QUESTION_TYPES
from qa.answer.span import SpanModel
from qa.errors import ModelNotFoundError

SCORER_FILE = Path(__file__).parent / "models" / "answer_scorer.json"
CANDIDATE_PASSAGES = 5  # passages whose sentences compete for the answer, unless the scorer file says otherwise
# Inputs of the two models, in the order of the weights in answer_scorer.json.
SENTENCE_FEATURES = (
    "cosine", "cosine_gap", "overlap", "overlap_gap", "neighbour_overlap", "bigrams", "passage_score",
    "passage_gap", "passage_rr", "dense_rr", "sparse_rr", "novel", "novel_frac", "log_words", "heading", "first",
    *(f"is_{t}" for t in QUESTION_TYPES), *(f"match_{t}" for t in QUESTION_TYPES),
)
# Richer inputs, used by scorers that name them (the MLP ranker); see ``candidates``.
EXTRA_FEATURES = (
    "bilinear", "bilinear_gap", "bilinear_rr", "cosine_rr", "overlap_rr", "neighbour_cosine", "position",
    "window_overlap", "passage_overlap", "caps_novel", "numbers", "q_words", "is_what", "is_which", "is_how", "is_why",
)
ALL_FEATURES = SENTENCE_FEATURES + EXTRA_FEATURES
ANSWER_FEATURES = ("best_logit", "margin", "best_cosine", "best_overlap", "answer_cosine", "answer_overlap",
                   "answer_match", "answer_other", "answer_bigrams", "top_passage_score",
                   "best_passage_overlap", "answer_passage_overlap", "answer_window_overlap", "rare_missing")
READER_ANSWER_FEATURES = ("reader_best", "reader_margin")  # used by scorers trained with a reader
READER_SPAN_FEATURES = ("reader_span",)  # ... with a reader that marks answer spans
# ... trained with near-miss questions: ``NEAR_MISS_FEATURES`` (qa.answer.features)


@dataclass(frozen=True)
class Scorer:
    """The learned models, trained by ``training/train_answer_scorer.py`` (weights in JSON + ``.npz``).

    ``sentence``: which candidate answers the question: a logistic model, or a
    one-hidden-layer MLP over standardised features when the file has
    ``hidden``. ``projection``: optional low-rank question-to-sentence map
    (``q @ U`` against ``s @ V``) whose score is the ``bilinear`` feature.
    ``answerable``: given the best candidate, is it right at all; below
    ``threshold`` the reply is a no-answer.
    """

    sentence_features: tuple[str, ...]
    sentence_weights: np.ndarray
    sentence_bias: float
    answer_features: tuple[str, ...]
    answer_weights: np.ndarray
    answer_bias: float
    threshold: float
    mean: np.ndarray | None = None
    scale: np.ndarray | None = None
    hidden_weights: np.ndarray | None = None  # (features, hidden)
    hidden_bias: np.ndarray | None = None
    project_question: np.ndarray | None = None  # (dim, rank)
    project_sentence: np.ndarray | None = None  # (dim, rank)
    span: SpanModel | None = None
    max_words: int = 0  # answers longer than this are cut to the clauses around the span (0: never)
    rerank_passages: bool = True  # return the passages in the order of their best sentence
    # ... but only the first ``sentence_ordered_passages`` (0: all); the rest follow in retrieval order. On 2,000
    # SQuAD *train* questions, 5 of 5 by sentence gave hit@5 0.9445; 4 then retrieval 0.9505, 3: 0.9495, 2: 0.947.
    sentence_ordered_passages: int = 0
    # How many of the top passages' sentences compete for the answer. The shipped MLP uses 15:
    # on 1,500 SQuAD *train* questions, 5 / 10 / 15 / 20 passages gave hit@5 0.931 / 0.944 /
    # 0.949 / 0.949 and answer accuracy 0.703 / 0.711 / 0.709 / 0.711, at ask p50 8.8 / 11.4 /
    # 13.7 / 16.1 ms.
    candidate_passages: int = CANDIDATE_PASSAGES
    # The cross-encoder reader (``qa.answer.reader``) re-scores the ranker's ``reader_top`` best
    # candidates; their score becomes ranker logit + ``reader_weight`` x reader logit.
    reader_folder: Path | None = None
    reader_top: int = 0
    reader_weight: float = 0.0
    # ... and the best sentence of each of the first ``reader_passages`` passages (by their best sentence) that
    # has none among those, so the passages returned are ordered by what the reader thinks of them too. On 1,500
    # questions of the reader's held-out SQuAD *train* articles, 0 / 5 / 6 / 8 passages gave hit@5 0.965 / 0.966 /
    # 0.967 / 0.969 at 5 / 7.5 / 8.5 / 10.5 sentences read per question (top sentence 0.853 / 0.855 / 0.855 / 0.855).
    # Off in the shipped scorer: with 8, squad_dev hit@5 rose only 0.967 -> 0.968 and ask p50 went 30 -> 63 ms.
    reader_passages: int = 0
    # Show the answer phrase the reader marks (a reader with a span head) instead of the span scorer's.
    reader_spans: bool = True

    @classmethod
    def load(cls, path: str | Path = SCORER_FILE) -> Scorer:
        """Read a scorer file (JSON, plus an optional ``.npz`` of arrays, never a pickle).

        Raises:
            ModelNotFoundError: the file is missing, unreadable or not a scorer.
        """
        path = Path(path)
        try:
            return cls._from_file(path)
        except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
            raise ModelNotFoundError(f"cannot load the answer scorer {path} ({type(exc).__name__}: {exc}); "
                                     "pass a file written by training/train_answer_scorer.py") from None

    @classmethod
    def _from_file(cls, path: Path) -> Scorer:
        data = json.loads(path.read_text(encoding="utf-8"))
        s, a = data["sentence"], data["answerable"]
        extra: dict[str, np.ndarray | None] = {}
        if "hidden" in s:
            extra["mean"] = np.asarray(s["mean"], dtype=np.float64)
            extra["scale"] = np.asarray(s["scale"], dtype=np.float64)
            extra["hidden_weights"] = np.asarray(s["hidden"]["weights"], dtype=np.float64)
            extra["hidden_bias"] = np.asarray(s["hidden"]["bias"], dtype=np.float64)
        if data.get("projection"):
            with np.load(path.with_name(data["projection"]), allow_pickle=False) as npz:
                extra["project_question"] = npz["question"].astype(np.float32)
                extra["project_sentence"] = npz["sentence"].astype(np.float32)
        if data.get("span"):
            extra["span"] = SpanModel.from_dict(data["span"])
        if data.get("reader"):
            # next to the scorer file, else among the package's own files (a copied scorer keeps the shipped reader)
            near, shipped = path.parent / data["reader"]["folder"], SCORER_FILE.parent / data["reader"]["folder"]
            extra["reader_folder"] = near if near.exists() or not shipped.exists() else shipped
            extra["reader_top"] = int(data["reader"]["top"])
            extra["reader_weight"] = float(data["reader"]["weight"])
            extra["reader_passages"] = int(data["reader"].get("passages", 0))
            extra["reader_spans"] = bool(data["reader"].get("spans", True))
        return cls(tuple(s["features"]), np.asarray(s["weights"], dtype=np.float64), float(s["bias"]),
                   tuple(a["features"]), np.asarray(a["weights"], dtype=np.float64), float(a["bias"]),
                   float(a["threshold"]), max_words=int(data.get("max_words", 0)),
                   rerank_passages=bool(data.get("rerank_passages", True)),
                   sentence_ordered_passages=int(data.get("sentence_ordered_passages", 0)),
                   candidate_passages=int(data.get("candidate_passages", CANDIDATE_PASSAGES)), **extra)

    @property
    def reads_coverage(self) -> bool:
        """Whether the answerability model reads the near-miss coverage features (else they are not computed)."""
        return any(f in NEAR_MISS_FEATURES for f in self.answer_features)

    def sentence_logits(self, rows: np.ndarray) -> np.ndarray:
        """Scores of a ``(candidates, len(sentence_features))`` matrix."""
        x = np.asarray(rows, dtype=np.float64)
        if self.mean is not None:
            x = (x - self.mean) / self.scale
        if self.hidden_weights is not None:
            x = np.maximum(x @ self.hidden_weights + self.hidden_bias, 0.0)
        return x @ self.sentence_weights + self.sentence_bias

    def sentence_logit(self, features: dict[str, float]) -> float:
        return float(self.sentence_logits(np.array([[features[f] for f in self.sentence_features]]))[0])

    def answer_probability(self, features: dict[str, float]) -> float:
        z = float(np.dot(self.answer_weights, [features[f] for f in self.answer_features]) + self.answer_bias)
        return 1.0 / (1.0 + np.exp(-z))
