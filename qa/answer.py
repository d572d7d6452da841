"""Pick the answer sentence out of the top passages, or decide there is none.

Every sentence of the top passages is a candidate. Each gets features that
say whether it answers the question (meaning: cosine to the question; words:
IDF-weighted overlap; context: the rank of its passage; type: does a "when"
question meet a date, a "how many" a number, a "who" a name), and a linear
scorer turns them into one score. The best candidate is the answer when its
score clears a calibrated threshold; otherwise the reply is a no-answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np

from .textutil import tokenize
from .types import Answer, Citation, Hit, Passage

if TYPE_CHECKING:
    from .index import Index

CANDIDATE_PASSAGES = 5

_YEAR = re.compile(r"\b(1[0-9]{3}|20[0-9]{2})s?\b")
_MONTH = re.compile(r"\b(Jan(uary)?|Feb(ruary)?|March|April|May|June|July|Aug(ust)?|Sept?(ember)?|Oct(ober)?|Nov(ember)?|Dec(ember)?)\b")
_NUMBER = re.compile(r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundred|thousand|million|billion|dozen|half|twice|once|several|ninefold|tenfold|double)\b", re.I)
_CAPITALISED = re.compile(r"(?<!^)(?<![.!?]\s)\b[A-Z][\w'-]+")


@dataclass(frozen=True)
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


# Hand-set weights (see README "Answer selection"); a learned scorer replaces them when present.
WEIGHTS = {"bias": 0.0, "cosine": 0.55, "overlap": 0.35, "passage": 0.15, "type": 0.12, "novel": 0.08}
NO_ANSWER_THRESHOLD = 0.45


def question_type(question: str) -> str:
    """Coarse expected-answer type: when / number / who / where / other."""
    q = question.lower()
    if re.search(r"\b(when|what year|which year|what date|what century|what decade|how long ago)\b", q):
        return "when"
    if re.search(r"\bhow (many|much|long|old|far|big|large|tall|high|often)\b|\bwhat (percentage|percent|number|amount)\b", q):
        return "number"
    if re.search(r"\b(who|whom|whose)\b", q):
        return "who"
    if re.search(r"\bwhere\b|\bwhat (city|country|state|place|region|town)\b|\bin which (city|country)\b", q):
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

    def __init__(self, index: Index) -> None:
        self.index = index

    def candidates(self, question: str, query_vector: np.ndarray, hits: Sequence[Hit]) -> list[Candidate]:
        """Every distinct sentence of the top passages, scored, best first."""
        q_tokens = set(tokenize(question))
        q_weights = {t: max(self.index.lexical.idf(t), 0.1) for t in q_tokens}
        q_total = sum(q_weights.values()) or 1.0
        qtype = question_type(question)
        seen: set[tuple[str, int, int]] = set()
        out = []
        for rank, hit in enumerate(hits[:CANDIDATE_PASSAGES]):
            vectors = self.index.sentence_vectors.get(hit.passage.id)
            cosines = np.asarray(vectors, dtype=np.float32) @ query_vector if vectors is not None else None
            for j, (start, end) in enumerate(hit.passage.sentences):
                if (hit.doc, start, end) in seen:
                    continue  # the same sentence in an overlapping passage: keep the better-ranked copy
                seen.add((hit.doc, start, end))
                text = _sentence_text(hit.passage, start, end)
                s_tokens = set(tokenize(text))
                features = {
                    "bias": 1.0,
                    "cosine": float(cosines[j]) if cosines is not None else 0.0,
                    "overlap": sum(w for t, w in q_weights.items() if t in s_tokens) / q_total,
                    "passage": 1.0 / (1 + rank),
                    "type": type_match(qtype, text, question),
                    "novel": 1.0 if s_tokens - q_tokens else 0.0,
                }
                score = sum(WEIGHTS[name] * value for name, value in features.items())
                out.append(Candidate(hit.doc, start, end, text, hit, rank, features, float(score)))
        out.sort(key=lambda c: -c.score)
        return out

    def answer(self, question: str, query_vector: np.ndarray, hits: Sequence[Hit], k: int) -> Answer:
        ranked = self.candidates(question, query_vector, hits)
        if not ranked or ranked[0].score < NO_ANSWER_THRESHOLD:
            return Answer(question, "", ranked[0].score if ranked else 0.0, (), tuple(hits[:k]))
        best = ranked[0]
        return Answer(question, best.text, best.score, (_citation(best),), tuple(hits[:k]))


def _sentence_text(passage: Passage, start: int, end: int) -> str:
    return passage.text[start - passage.start : end - passage.start]


def _citation(candidate: Candidate) -> Citation:
    p = candidate.hit.passage
    return Citation(
        doc=candidate.doc,
        passage=p.number,
        start=candidate.start,
        end=candidate.end,
        text=candidate.text,
        score=candidate.score,
        passage_start=p.start,
        passage_end=p.end,
        passage_text=p.text,
        span_start=candidate.start,
        span_end=candidate.end,
    )
