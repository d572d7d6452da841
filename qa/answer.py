"""Pick the answer sentence out of the top passages, or decide there is none.

Every sentence of the top passages is a candidate. Each gets features that
say whether it answers the question (meaning: cosine to the question; words:
IDF-weighted overlap; context: the rank of its passage; type: does a "when"
question meet a date, a "how many" a number, a "who" a name), and a linear
scorer turns them into one score. The best candidate is the answer when its
score clears a calibrated threshold; otherwise the reply is a no-answer.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

import numpy as np

from .span import find_span
from .textutil import matching_tokens, tokenize
from .types import Answer, Citation, Hit, Passage

if TYPE_CHECKING:
    from .index import Index

CANDIDATE_PASSAGES = 5

_YEAR = re.compile(r"\b(1[0-9]{3}|20[0-9]{2})s?\b")
_MONTH = re.compile(r"\b(Jan(uary)?|Feb(ruary)?|March|April|May|June|July|Aug(ust)?|Sept?(ember)?|Oct(ober)?|Nov(ember)?|Dec(ember)?)\b")
_NUMBER = re.compile(r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundred|thousand|million|billion|dozen|half|twice|once|several|ninefold|tenfold|double)\b", re.I)
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


SCORER_FILE = Path(__file__).with_name("answer_scorer.json")
QUESTION_TYPES = ("when", "number", "who", "where")
# Inputs of the two models, in the order of the weights in answer_scorer.json.
SENTENCE_FEATURES = (
    "cosine", "cosine_gap", "overlap", "overlap_gap", "neighbour_overlap", "bigrams", "passage_score",
    "passage_gap", "passage_rr", "dense_rr", "sparse_rr", "novel", "novel_frac", "log_words", "heading", "first",
    *(f"is_{t}" for t in QUESTION_TYPES), *(f"match_{t}" for t in QUESTION_TYPES),
)
ANSWER_FEATURES = ("best_logit", "margin", "best_cosine", "best_overlap", "answer_cosine", "answer_overlap",
                   "answer_match", "answer_other", "answer_bigrams", "top_passage_score")


@dataclass(frozen=True)
class Scorer:
    """Two logistic models, trained by ``scripts/train_answer_scorer.py`` (weights in JSON).

    ``sentence``: which candidate answers the question. ``answerable``: given
    the best candidate, is it right at all; below ``threshold`` the reply is a
    no-answer.
    """

    sentence_features: tuple[str, ...]
    sentence_weights: np.ndarray
    sentence_bias: float
    answer_features: tuple[str, ...]
    answer_weights: np.ndarray
    answer_bias: float
    threshold: float

    @classmethod
    def load(cls, path: str | Path = SCORER_FILE) -> Scorer:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        s, a = data["sentence"], data["answerable"]
        return cls(tuple(s["features"]), np.asarray(s["weights"], dtype=np.float64), float(s["bias"]),
                   tuple(a["features"]), np.asarray(a["weights"], dtype=np.float64), float(a["bias"]),
                   float(a["threshold"]))

    def sentence_logit(self, features: dict[str, float]) -> float:
        return float(np.dot(self.sentence_weights, [features[f] for f in self.sentence_features]) + self.sentence_bias)

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

    def candidates(self, question: str, query_vector: np.ndarray, hits: Sequence[Hit]) -> list[Candidate]:
        """Every distinct sentence of the top passages with its features, scored, best first."""
        q_list = matching_tokens(question)
        q_tokens = set(q_list)
        q_bigrams = set(zip(q_list, q_list[1:]))
        q_weights = {t: max(self.index.lexical.idf(t), 0.1) for t in q_tokens}
        q_total = sum(q_weights.values()) or 1.0
        qtype = question_type(question)
        top_score = hits[0].score if hits else 0.0
        seen: set[tuple[str, int, int]] = set()
        out: list[Candidate] = []
        for rank, hit in enumerate(hits[:CANDIDATE_PASSAGES]):
            vectors = self.index.sentence_vectors.get(hit.passage.id)
            cosines = np.asarray(vectors, dtype=np.float32) @ query_vector if vectors is not None else None
            texts = [_sentence_text(hit.passage, s, e) for s, e in hit.passage.sentences]
            token_lists = [tokenize(t) for t in texts]
            overlaps = [sum(w for t, w in q_weights.items() if t in set(toks)) / q_total for toks in token_lists]
            for j, (start, end) in enumerate(hit.passage.sentences):
                if (hit.doc, start, end) in seen:
                    continue  # the same sentence in an overlapping passage: keep the better-ranked copy
                seen.add((hit.doc, start, end))
                text, toks = texts[j], token_lists[j]
                s_tokens = set(toks)
                match = type_match(qtype, text, question)
                neighbours = [overlaps[i] for i in (j - 1, j + 1) if 0 <= i < len(overlaps)]
                features = {
                    "cosine": float(cosines[j]) if cosines is not None else 0.0,
                    "overlap": overlaps[j],
                    "neighbour_overlap": max(neighbours, default=0.0),
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
                }
                out.append(Candidate(hit.doc, start, end, text, hit, rank, features))
        # A title or heading ("Putin's Historic Visit to North Korea") is never the answer
        # while real sentences are there to choose from.
        sentences = [c for c in out if not c.features["heading"]]
        out = sentences or out
        if out:
            best_cos = max(c.features["cosine"] for c in out)
            best_overlap = max(c.features["overlap"] for c in out)
            for c in out:
                c.features["cosine_gap"] = c.features["cosine"] - best_cos
                c.features["overlap_gap"] = c.features["overlap"] - best_overlap
        scored = [replace(c, score=self.scorer.sentence_logit(c.features)) for c in out]
        scored.sort(key=lambda c: -c.score)
        return scored

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
        }

    def answer(self, question: str, query_vector: np.ndarray, hits: Sequence[Hit], k: int) -> Answer:
        ranked = self.candidates(question, query_vector, hits)
        if not ranked:
            return Answer(question, "", 0.0, (), tuple(hits[:k]))
        confidence = self.scorer.answer_probability(self.answerability(ranked))
        if confidence < self.scorer.threshold:
            return Answer(question, "", confidence, (), tuple(hits[:k]))
        best = ranked[0]
        span = find_span(question, best.text, question_type(question))
        return Answer(question, best.text, confidence, (_citation(best, confidence, span),), tuple(hits[:k]))


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
