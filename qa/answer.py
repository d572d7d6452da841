"""Pick the answer sentence out of the top passages, or decide there is none.

Every sentence of the top passages is a candidate. Each gets features that
say whether it answers the question (meaning: cosine to the question; words:
IDF-weighted overlap; context: the rank of its passage; type: does a "when"
question meet a date, a "how many" a number, a "who" a name), and a learned
scorer (a small MLP, or a linear model) turns them into one score. The
cross-encoder reader (``qa.reader``) then reads the question with each of the
best few sentences and re-orders them. The best candidate is the answer when
the answerability model (which sees the ranker's and the reader's scores)
clears a calibrated threshold; otherwise the reply is a no-answer.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Sequence

import numpy as np

from .reader import Reader, Reading, load_reader, with_context
from .span import SpanModel, find_span
from .textutil import idf_weights, matching_tokens, tokenize
from .types import Answer, Citation, Hit, Passage

if TYPE_CHECKING:
    from .index import Index

CANDIDATE_PASSAGES = 5  # passages whose sentences compete for the answer, unless the scorer file says otherwise

_YEAR = re.compile(r"\b(1[0-9]{3}|20[0-9]{2})s?\b")
_MONTH = re.compile(r"\b(Jan(uary)?|Feb(ruary)?|March|April|May|June|July|Aug(ust)?|Sept?(ember)?|Oct(ober)?|Nov(ember)?|Dec(ember)?)\b")
_NUMBER = re.compile(r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundred|thousand|million|billion|dozen|half|twice|once|several|ninefold|tenfold|double)\b", re.I)
_NUMBER_WORD = r"(?:\d[\d,.]*|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundred|several|a few|many)"
_DURATION = re.compile(rf"\b{_NUMBER_WORD}(?:[\s-]+{_NUMBER_WORD})*[\s-]+(?:years?|months?|weeks?|days?|hours?|minutes?|seconds?|decades?|centuries)\b", re.I)
_TIME_QUESTION = re.compile(r"\bhow (?:long|old|soon)\b|\b(?:years?|months?|weeks?|days?|hours?|minutes?|seconds?|decades?|centuries|century|age|ages|time|times|period|duration|date|dates)\b", re.I)
_ENDS_SENTENCE = re.compile(r"[.!?…][\"'”’»)\]]*$")
_CAPITALISED = re.compile(r"(?<!^)(?<![.!?]\s)\b[A-Z][\w'-]+")


@dataclass
class Candidate:
    """One sentence of one retrieved passage, with its features."""

    doc: str
    start: int
    end: int
    text: str
    hit: Hit
    passage_rank: int
    features: dict[str, float]
    score: float = 0.0
    reader_span: tuple[int, int] | None = None  # the answer phrase the reader marks, offsets into ``text``


SCORER_FILE = Path(__file__).with_name("answer_scorer.json")
QUESTION_TYPES = ("when", "number", "who", "where")
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


@dataclass(frozen=True)
class Scorer:
    """The learned models, trained by ``scripts/train_answer_scorer.py`` (weights in JSON + ``.npz``).

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
    # The cross-encoder reader (``qa.reader``) re-scores the ranker's ``reader_top`` best
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
        path = Path(path)
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


def question_type(question: str) -> str:
    """Coarse expected-answer type: when / number / who / where / other."""
    q = question.lower()
    if re.search(r"\b(when|what year|which year|what date|what century|what decade|how long ago)\b", q):
        return "when"
    if re.search(r"\bhow (many|much|long|old|far|big|large|tall|high|often|fast)\b|\bwhat (percentage|percent|number|amount|proportion|population)\b|\bwhat is the (population|size|number|cost|price)\b", q):
        return "number"
    if re.search(r"\b(who|whom|whose)\b", q):
        return "who"
    if re.search(r"\bwhere\b|\b(what|which) (city|country|state|place|region|town|continent|province|county|river|island)\b", q):
        return "where"
    return "other"


def type_match(qtype: str, sentence: str, question: str) -> float:
    """1.0 when the sentence holds the kind of thing the question asks for."""
    if qtype == "when":
        return 1.0 if _YEAR.search(sentence) or _MONTH.search(sentence) else 0.0
    if qtype == "number":
        if not _TIME_QUESTION.search(question):
            # A count or an amount ("population", "how many people"): a duration or a year does not answer it.
            sentence = _YEAR.sub(" ", _DURATION.sub(" ", sentence))
        return 1.0 if _NUMBER.search(sentence) else 0.0
    if qtype in ("who", "where"):
        q_words = {w.lower() for w in re.findall(r"\w+", question)}
        names = [m.group(0) for m in _CAPITALISED.finditer(sentence) if m.group(0).lower() not in q_words]
        return 1.0 if names else 0.0
    return 0.5


class AnswerFinder:
    """Scores candidate sentences of an index's hits."""

    def __init__(self, index: Index, scorer: Scorer | None = None) -> None:
        self.index = index
        self.scorer = scorer or Scorer.load()
        self._reader: Reader | None = None

    @property
    def reader(self) -> Reader | None:
        """The scorer's cross-encoder, loaded on the first question (about 0.1 s), or None if it has none.

        Raises:
            ModelNotFoundError: the scorer names a reader that is missing or cannot be loaded.
        """
        if self._reader is None and self.scorer.reader_folder is not None and self.scorer.reader_top:
            self._reader = load_reader(self.scorer.reader_folder)
        return self._reader

    def candidates(self, question: str, query_vector: np.ndarray, hits: Sequence[Hit]) -> list[Candidate]:
        """Every distinct sentence of the top passages with its features, scored, best first."""
        out = self.features(question, query_vector, hits)
        if not out:
            return []
        logits = self.scorer.sentence_logits(np.array([[c.features[f] for f in self.scorer.sentence_features] for c in out]))
        scored = [replace(c, score=float(z)) for c, z in zip(out, logits)]
        scored.sort(key=lambda c: -c.score)
        reader = self.reader
        if reader is not None:
            read = reader_choice(scored, self.scorer.reader_top, self.scorer.reader_passages)
            head = [scored[i] for i in read]
            passages = self.index.passages if reader.context else None
            texts = [reader_input(c, passages, self.index.title(c.doc)) for c in head]
            reading = reader.read(question, texts, [len(c.text) for c in head])
            mark_reader_spans(head, reading)
            scored = rescore_with_reader(scored, reading.logits, self.scorer.reader_weight, read)
        return scored

    def features(self, question: str, query_vector: np.ndarray, hits: Sequence[Hit]) -> list[Candidate]:
        """Every distinct sentence of the top passages with its features (unscored)."""
        q_list = matching_tokens(question)
        q_tokens = set(q_list)
        q_bigrams = set(zip(q_list, q_list[1:]))
        q_weights = idf_weights(q_tokens, self.index.lexical.idf)
        q_total = sum(q_weights.values()) or 1.0
        qtype = question_type(question)
        q_lower = question.lower()
        q_words = {w.lower() for w in re.findall(r"\w+", question)}
        wh = {w: float(bool(re.search(rf"\b{w}\b", q_lower))) for w in ("what", "which", "how", "why")}
        projected = None
        if self.scorer.project_question is not None:
            projected = np.asarray(query_vector, dtype=np.float32) @ self.scorer.project_question
        top_score = hits[0].score if hits else 0.0
        seen: set[tuple[str, int, int]] = set()
        out: list[Candidate] = []
        all_token_sets: list[set[str]] = []

        def overlap_of(tokens: set[str]) -> float:
            return sum(w for t, w in q_weights.items() if t in tokens) / q_total

        for rank, hit in enumerate(hits[: self.scorer.candidate_passages]):
            vectors = self.index.sentence_vectors.get(hit.passage.id)
            vectors = np.asarray(vectors, dtype=np.float32) if vectors is not None else None
            n = len(hit.passage.sentences)
            cosines = vectors @ query_vector if vectors is not None else np.zeros(n, dtype=np.float32)
            bilinear = (vectors @ self.scorer.project_sentence) @ projected if projected is not None and vectors is not None \
                else np.zeros(n, dtype=np.float32)
            texts = [_sentence_text(hit.passage, s, e) for s, e in hit.passage.sentences]
            token_lists = [tokenize(t) for t in texts]
            token_sets = [set(t) for t in token_lists]
            all_token_sets.extend(token_sets)
            overlaps = [overlap_of(t) for t in token_sets]
            passage_overlap = overlap_of(set().union(*token_sets)) if token_sets else 0.0
            for j, (start, end) in enumerate(hit.passage.sentences):
                if (hit.doc, start, end) in seen:
                    continue  # the same sentence in an overlapping passage: keep the better-ranked copy
                seen.add((hit.doc, start, end))
                text, toks, s_tokens = texts[j], token_lists[j], token_sets[j]
                match = type_match(qtype, text, question)
                near = [i for i in (j - 1, j + 1) if 0 <= i < n]
                window = s_tokens.union(*(token_sets[i] for i in near))
                caps = {m.group(0) for m in _CAPITALISED.finditer(text) if m.group(0).lower() not in q_words}
                features = {
                    "cosine": float(cosines[j]),
                    "overlap": overlaps[j],
                    "neighbour_overlap": max((overlaps[i] for i in near), default=0.0),
                    "bigrams": len(q_bigrams & set(zip(toks, toks[1:]))) / max(1, len(q_bigrams)),
                    "passage_score": hit.score,
                    "passage_gap": hit.score - top_score,
                    "passage_rr": 1.0 / (1 + rank),
                    "dense_rr": 1.0 / hit.dense_rank if hit.dense_rank else 0.0,
                    "sparse_rr": 1.0 / hit.sparse_rank if hit.sparse_rank else 0.0,
                    "novel": 1.0 if s_tokens - q_tokens else 0.0,
                    "novel_frac": len(s_tokens - q_tokens) / max(1, len(s_tokens)),
                    "log_words": float(np.log1p(len(text.split()))),
                    "heading": 0.0 if _ENDS_SENTENCE.search(text) else 1.0,
                    "first": 1.0 if j == 0 else 0.0,
                    **{f"is_{t}": float(qtype == t) for t in QUESTION_TYPES},
                    **{f"match_{t}": match if qtype == t else 0.0 for t in QUESTION_TYPES},
                    "bilinear": float(bilinear[j]),
                    "neighbour_cosine": max((float(cosines[i]) for i in near), default=0.0),
                    "position": j / max(1, n - 1),
                    "window_overlap": overlap_of(window),
                    "passage_overlap": passage_overlap,
                    "caps_novel": float(np.log1p(len(caps))),
                    "numbers": float(np.log1p(len(_NUMBER.findall(text)))),
                    "q_words": float(np.log1p(len(q_tokens))),
                    **{f"is_{w}": v for w, v in wh.items()},
                }
                out.append(Candidate(hit.doc, start, end, text, hit, rank, features))
        # The question's rarest word in none of the retrieved sentences: the documents likely do not answer it.
        rarest = max(q_weights, key=lambda t: (q_weights[t], t)) if q_weights else None
        present = rarest is not None and any(rarest in s for s in all_token_sets)
        for c in out:
            c.features["rare_missing"] = 0.0 if rarest is None or present else 1.0
        # A title or heading ("Putin's Historic Visit to North Korea") is never the answer
        # while real sentences are there to choose from.
        sentences = [c for c in out if not c.features["heading"]]
        out = sentences or out
        for name, gap, rr in (("cosine", "cosine_gap", "cosine_rr"), ("overlap", "overlap_gap", "overlap_rr"),
                              ("bilinear", "bilinear_gap", "bilinear_rr")):
            values = np.array([c.features[name] for c in out])
            order = np.argsort(-values, kind="stable")
            ranks = np.empty(len(out), dtype=np.int64)
            ranks[order] = np.arange(len(out))
            best = float(values.max()) if len(out) else 0.0
            for c, v, r in zip(out, values, ranks):
                c.features[gap] = float(v) - best
                c.features[rr] = 1.0 / (1 + int(r))
        return out

    def answerability(self, ranked: Sequence[Candidate]) -> dict[str, float]:
        """Question-level features of the best candidate, for the no-answer decision."""
        best = ranked[0]
        second = ranked[1].score if len(ranked) > 1 else best.score - 5.0
        return {
            "best_logit": best.score,
            "margin": best.score - second,
            "best_cosine": max(c.features["cosine"] for c in ranked),
            "best_overlap": max(c.features["overlap"] for c in ranked),
            "answer_cosine": best.features["cosine"],
            "answer_overlap": best.features["overlap"],
            "answer_match": sum(best.features[f"match_{t}"] for t in QUESTION_TYPES),
            "answer_other": 1.0 - sum(best.features[f"is_{t}"] for t in QUESTION_TYPES),
            "answer_bigrams": best.features["bigrams"],
            "top_passage_score": max(c.features["passage_score"] for c in ranked),
            # how much of the question any retrieved passage covers: low when a key word is nowhere
            "best_passage_overlap": max(c.features.get("passage_overlap", 0.0) for c in ranked),
            "answer_passage_overlap": best.features.get("passage_overlap", 0.0),
            "answer_window_overlap": best.features.get("window_overlap", 0.0),
            "rare_missing": best.features.get("rare_missing", 0.0),
            # the reader's own view (0 without a reader): its logit for the answer, and its lead over the others it read
            "reader_best": best.features.get("reader", 0.0),
            "reader_margin": best.features.get("reader", 0.0) - max(
                (c.features["reader"] for c in ranked[1:] if "reader" in c.features), default=best.features.get("reader", 0.0)),
            # how sure the reader is of the answer phrase it marks in the answer (0 without a span head)
            "reader_span": best.features.get("reader_span", 0.0),
        }

    def answer(self, question: str, query_vector: np.ndarray, hits: Sequence[Hit], k: int) -> Answer:
        ranked = self.candidates(question, query_vector, hits)
        if not ranked:
            return Answer(question, "", 0.0, (), tuple(hits[:k]))
        if self.scorer.rerank_passages:
            hits = rerank_hits(hits, ranked, self.scorer.sentence_ordered_passages)
        confidence = self.scorer.answer_probability(self.answerability(ranked))
        if confidence < self.scorer.threshold:
            return Answer(question, "", confidence, (), tuple(hits[:k]))
        best = ranked[0]
        # the reader's span, read with the question in one transformer pass, else the feature-based span scorer
        span = (best.reader_span if self.scorer.reader_spans else None) or find_span(
            question, best.text, question_type(question), self.scorer.span)
        if self.scorer.max_words:
            a, b = trim_sentence(best.text, span, self.scorer.max_words)
            if (a, b) != (0, len(best.text)):
                best = replace(best, start=best.start + a, end=best.start + b, text=best.text[a:b])
                span = (min(max(span[0] - a, 0), b - a), min(max(span[1] - a, 0), b - a))
        return Answer(question, best.text, confidence, (_citation(best, confidence, span),), tuple(hits[:k]))


def reader_choice(ranked: Sequence[Candidate], top: int, passages: int = 0) -> list[int]:
    """Positions in ``ranked`` (best first) that the reader reads.

    The first ``top``, then the best sentence of each of the first ``passages``
    passages (in the order of their best sentence) that has none among them.
    """
    chosen = list(range(min(top, len(ranked))))
    seen: set[int] = set()
    for i, c in enumerate(ranked):
        if len(seen) >= passages:
            break
        if c.hit.passage.id in seen:
            continue
        seen.add(c.hit.passage.id)
        if i >= top:
            chosen.append(i)
    return chosen


def rescore_with_reader(ranked: list[Candidate], logits: np.ndarray, weight: float,
                        read: Sequence[int] | None = None) -> list[Candidate]:
    """The candidates the reader read (positions ``read`` in ``ranked``, default the first ``len(logits)``) first,
    ordered by ranker logit + ``weight`` x reader logit.

    The rest keep their order after them. The reader's logit is kept as the ``reader``
    feature for the no-answer decision.
    """
    read = range(len(logits)) if read is None else read
    head = [ranked[i] for i in read]
    for c, z in zip(head, logits):
        c.features["reader"] = float(z)
        c.score = c.score + weight * float(z)
    head.sort(key=lambda c: -c.score)
    chosen = set(read)
    return head + [c for i, c in enumerate(ranked) if i not in chosen]


def mark_reader_spans(candidates: Sequence[Candidate], reading: Reading) -> None:
    """Keep the answer span the reader marked in each candidate, and its score as the ``reader_span`` feature."""
    for c, span, score in zip(candidates, reading.spans, reading.span_scores):
        c.reader_span = span
        c.features["reader_span"] = float(score)


def reader_input(candidate: Candidate, passages: Mapping[int, Passage] | None, title: str = "") -> str:
    """The candidate's sentence as a context reader reads it: with its document's ``title`` and the sentence before it.

    A passage under a heading gets the heading after the title. Without ``passages`` (a
    reader trained on bare sentences) it is the sentence alone. The
    previous sentence is taken from the candidate's passage or, for a passage's first
    sentence, from the overlapping window before it in the same paragraph (as in training,
    a paragraph's first sentence has none).
    """
    if passages is None:
        return candidate.text
    passage = candidate.hit.passage
    if passage.section:
        title = f"{title}, {passage.section[-1]}"
    previous = ""
    spans = passage.sentences
    j = next((i for i, (s, _) in enumerate(spans) if s == candidate.start), -1)
    if j > 0:
        previous = _sentence_text(passage, *spans[j - 1])
    elif j == 0:
        before = passages.get(passage.id - 1)
        if before is not None and before.doc == passage.doc and before.number == passage.number - 1 and before.end > passage.start:
            earlier = [(s, e) for s, e in before.sentences if e <= candidate.start]
            if earlier:
                previous = _sentence_text(before, *earlier[-1])
    return with_context(candidate.text, title, previous)


def rerank_hits(hits: Sequence[Hit], ranked: Sequence[Candidate], first: int = 0) -> list[Hit]:
    """The passages in the order of their best candidate sentence (unscored passages keep their place after).

    With ``first``, only that many lead by their best sentence and the rest keep their retrieval
    order: beyond the best few, the retriever's ranking finds the answer's passage more often.
    """
    best: dict[int, int] = {}
    for position, c in enumerate(ranked):
        best.setdefault(c.hit.passage.id, position)
    order = sorted(range(len(hits)), key=lambda i: (best.get(hits[i].passage.id, len(ranked)), i))
    if first:
        order = order[:first] + sorted(order[first:])
    return [hits[i] for i in order]


_CLAUSE_BREAK = re.compile(r"[,;:]\s+|\s+[–—-]\s+|\s+\(|\)\s+")


def trim_sentence(sentence: str, span: tuple[int, int], max_words: int) -> tuple[int, int]:
    """Offsets of the clauses around ``span`` when ``sentence`` has more than ``max_words`` words.

    The sentence is cut only at clause breaks (commas, semicolons, colons,
    dashes, brackets); the clause holding the span grows by whole neighbouring
    clauses while it stays within ``max_words``. The result is a verbatim
    substring, so its offsets stay exact.
    """
    if len(sentence.split()) <= max_words:
        return 0, len(sentence)
    cuts = [0]
    for m in _CLAUSE_BREAK.finditer(sentence):
        cuts.append(m.end())
    cuts.append(len(sentence))
    bounds = sorted(set(cuts))
    pieces = list(zip(bounds, bounds[1:]))
    first = next((i for i, (x, y) in enumerate(pieces) if x <= span[0] < y), 0)
    last = next((i for i, (x, y) in enumerate(pieces) if x < span[1] <= y), len(pieces) - 1)
    lo, hi = first, max(first, last)

    def words(i: int, j: int) -> int:
        return len(sentence[pieces[i][0] : pieces[j][1]].split())

    while True:
        grow = [(words(lo - 1, hi), lo - 1, hi)] if lo > 0 else []
        grow += [(words(lo, hi + 1), lo, hi + 1)] if hi + 1 < len(pieces) else []
        grow = [g for g in grow if g[0] <= max_words]
        if not grow:
            break
        _, lo, hi = min(grow)
    start, end = pieces[lo][0], pieces[hi][1]
    text = sentence[start:end]
    end = start + len(text.rstrip(" ,;:–—-("))
    return start, end


def _sentence_text(passage: Passage, start: int, end: int) -> str:
    return passage.text[start - passage.start : end - passage.start]


def _citation(candidate: Candidate, confidence: float, span: tuple[int, int]) -> Citation:
    p = candidate.hit.passage
    return Citation(
        doc=candidate.doc,
        passage=p.number,
        start=candidate.start,
        end=candidate.end,
        text=candidate.text,
        score=confidence,
        passage_start=p.start,
        passage_end=p.end,
        passage_text=p.text,
        span_start=candidate.start + span[0],
        span_end=candidate.start + span[1],
        page=p.page,
        section=p.section,
    )
