"""Find the short phrase inside an answer sentence that answers the question.

Candidates are phrases of the sentence that the question does not already
contain: runs of capitalised words (names, places), numbers with their unit,
dates, and the stretches of new words between punctuation and question words.
Each is scored by whether it is what the question type asks for (a date for
"when", a number for "how many", a name for "who"/"where") and by how close it
stands to the words the sentence shares with the question. The winner is
returned as offsets into the sentence; the whole sentence is the fallback.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from qa.textutil import STOPWORDS, tokenize

_WORD = re.compile(r"[\w$€£%][\w'’.,%-]*[\w%]|[\w$€£%]")
_NUMBER = re.compile(r"^[$€£]?\d[\d,.]*%?$|^(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|"
                     r"twenty|thirty|forty|fifty|hundred|thousand|million|billion|dozen|half|ninefold|tenfold|twice)$", re.I)
_YEAR = re.compile(r"^(1[0-9]{3}|20[0-9]{2})s?$")
_MONTH = re.compile(r"^(jan(uary)?|feb(ruary)?|march|april|may|june|july|aug(ust)?|sept?(ember)?|oct(ober)?|nov(ember)?|dec(ember)?)$", re.I)
_NAME_GLUE = {"of", "the", "de", "von", "van", "da", "del", "and", "&"}
_BREAK_WORDS = STOPWORDS | {"which", "who", "that", "whose", "where", "when", "while", "because", "although"}
MAX_SPAN_WORDS = 8
# Words that typically introduce the answer of each question type.
_LEAD_WORDS = {
    "where": {"in", "at", "to", "from", "near", "into", "across"},
    "when": {"in", "on", "since", "by", "until", "during", "from"},
    "who": {"by", "leader", "president", "named", "called"},
    "number": {"about", "around", "nearly", "over", "than", "of", "to"},
}


@dataclass(frozen=True)
class _Token:
    text: str
    start: int
    end: int
    in_question: bool

    @property
    def capitalised(self) -> bool:
        return self.text[:1].isupper()


SPAN_KINDS = ("name", "date", "number", "phrase")
SPAN_QTYPES = ("when", "number", "who", "where", "other")
# Inputs of the learned span scorer (``span`` in qa/answer/models/answer_scorer.json), in order.
SPAN_FEATURES = (
    "rule", "rule_rr", "lead", "prep_before", "closeness", "log_words", "position", "after_anchor", "capitalised",
    "has_digit", "comma_after", "in_parens", "sentence_words",
    *(f"{k}_{q}" for q in SPAN_QTYPES for k in SPAN_KINDS),
)
_PREPOSITIONS = {"in", "at", "on", "by", "from", "to", "of", "for", "with", "as", "into", "near", "since", "during", "than"}


@dataclass(frozen=True)
class SpanCandidate:
    start: int
    end: int
    kind: str
    features: dict[str, float]


def find_span(question: str, sentence: str, qtype: str, model: SpanModel | None = None) -> tuple[int, int]:
    """``(start, end)`` of the answer phrase inside ``sentence`` (the whole sentence if none is better).

    With a ``model`` the learned scorer picks among the phrases; without, the
    hand-set rule score does.
    """
    cands = span_candidates(question, sentence, qtype)
    if not cands:
        return 0, len(sentence)
    if model is None:
        best = max(cands, key=lambda c: c.features["rule"])  # first of equals, as before
        return best.start, best.end
    scores = model.scores(cands)
    best = cands[int(np.argmax(scores))]
    return best.start, best.end


@dataclass(frozen=True)
class SpanModel:
    """A logistic model over ``SPAN_FEATURES`` (trained by ``training/train_answer_scorer.py``)."""

    features: tuple[str, ...]
    weights: np.ndarray
    bias: float

    @classmethod
    def from_dict(cls, data: dict) -> SpanModel:
        return cls(tuple(data["features"]), np.asarray(data["weights"], dtype=np.float64), float(data["bias"]))

    def scores(self, cands: list[SpanCandidate]) -> np.ndarray:
        x = np.array([[c.features[f] for f in self.features] for c in cands], dtype=np.float64)
        return x @ self.weights + self.bias


def span_candidates(question: str, sentence: str, qtype: str) -> list[SpanCandidate]:
    """Every answer-phrase candidate of ``sentence`` with its features (``rule``: the hand-set score)."""
    q_stems = set(tokenize(question))
    q_lower = {w.lower() for w in re.findall(r"\w+", question)}
    tokens = []
    for m in _WORD.finditer(sentence):
        text = m.group(0).rstrip(".,")
        stems = tokenize(text)
        in_q = text.lower() in q_lower or bool(stems) and all(s in q_stems for s in stems)
        tokens.append(_Token(text, m.start(), m.start() + len(text), in_q))
    if not tokens:
        return []
    anchors = [i for i, t in enumerate(tokens) if t.in_question and t.text.lower() not in STOPWORDS]
    qt = qtype if qtype in SPAN_QTYPES else "other"
    out: list[SpanCandidate] = []
    for i, j, kind in _candidates(tokens, sentence):
        words = tokens[i:j]
        if any(t.in_question for t in words) or all(t.text.lower() in STOPWORDS for t in words):
            continue
        start, end = words[0].start, words[-1].end
        score = _type_score(kind, qtype)
        lead = 1.0 if i > 0 and tokens[i - 1].text.lower() in _LEAD_WORDS.get(qtype, ()) else 0.0
        score += 0.75 * lead  # "in Vietnam", "by Kim Jong Un", "since 1961"
        closeness = 0.0
        if anchors:
            distance = min(min(abs(a - i), abs(a - (j - 1))) for a in anchors)
            closeness = 1.0 / (1.0 + distance)
        score += closeness
        score -= 0.05 * max(0, len(words) - 3)
        after = sentence[end : end + 2]
        features = {
            "rule": score,
            "lead": lead,
            "prep_before": 1.0 if i > 0 and tokens[i - 1].text.lower() in _PREPOSITIONS else 0.0,
            "closeness": closeness,
            "log_words": float(np.log1p(len(words))),
            "position": i / max(1, len(tokens) - 1),
            "after_anchor": 1.0 if anchors and i > anchors[0] else 0.0,
            "capitalised": sum(t.capitalised for t in words) / len(words),
            "has_digit": 1.0 if any(ch.isdigit() for t in words for ch in t.text) else 0.0,
            "comma_after": 1.0 if after[:1] in {",", ";", ".", ")"} else 0.0,
            "in_parens": 1.0 if sentence.rfind("(", 0, start) > sentence.rfind(")", 0, start) else 0.0,
            "sentence_words": float(np.log1p(len(tokens))),
            **{f"{k}_{q}": float(k == kind and q == qt) for q in SPAN_QTYPES for k in SPAN_KINDS},
        }
        out.append(SpanCandidate(start, end, kind, features))
    order = sorted(range(len(out)), key=lambda n: -out[n].features["rule"])
    for r, n in enumerate(order):
        out[n].features["rule_rr"] = 1.0 / (1 + r)
    return out


def _candidates(tokens: list[_Token], sentence: str) -> list[tuple[int, int, str]]:
    out: list[tuple[int, int, str]] = []
    n = len(tokens)
    i = 0
    while i < n:  # capitalised runs, allowing "of"/"the" inside: "University of Notre Dame"
        if tokens[i].capitalised and not _NUMBER.match(tokens[i].text):
            j = i + 1
            while j < n and (tokens[j].capitalised or (tokens[j].text.lower() in _NAME_GLUE and j + 1 < n and tokens[j + 1].capitalised)):
                if _gap_has_break(sentence, tokens[j - 1], tokens[j]):
                    break
                j += 1
            if j - i <= MAX_SPAN_WORDS:
                out.append((i, j, "name"))
            i = j
        else:
            i += 1
    for i, t in enumerate(tokens):  # numbers, with what they count: "24 years", "$3.5 million"
        if _YEAR.match(t.text) or _MONTH.match(t.text):
            j = i + 1
            while j < n and j - i < 4 and (_YEAR.match(tokens[j].text) or _NUMBER.match(tokens[j].text) or _MONTH.match(tokens[j].text)):
                j += 1
            start = i - 1 if i > 0 and (_MONTH.match(tokens[i - 1].text) or re.fullmatch(r"\d{1,2}", tokens[i - 1].text)) else i
            out.append((start, j, "date"))
        elif _NUMBER.match(t.text):
            j = i + 1
            while j < n and j - i < 3 and (_NUMBER.match(tokens[j].text) or tokens[j].text.lower() not in _BREAK_WORDS) \
                    and not _gap_has_break(sentence, tokens[j - 1], tokens[j]):
                j += 1
            out.append((i, j, "number"))
    i = 0
    while i < n:  # stretches of new words between punctuation and question words
        if tokens[i].in_question or tokens[i].text.lower() in _BREAK_WORDS:
            i += 1
            continue
        j = i + 1
        while j < n and not tokens[j].in_question and tokens[j].text.lower() not in _BREAK_WORDS \
                and not _gap_has_break(sentence, tokens[j - 1], tokens[j]):
            j += 1
        if j - i <= MAX_SPAN_WORDS:
            out.append((i, j, "phrase"))
        i = j
    return out


def _gap_has_break(sentence: str, left: _Token, right: _Token) -> bool:
    return bool(re.search(r"[,;:()\"“”]|\s[-–—]\s", sentence[left.end : right.start]))


def _type_score(kind: str, qtype: str) -> float:
    table = {
        "when": {"date": 2.0, "number": 0.5},
        "number": {"number": 2.0, "date": 0.8},
        "who": {"name": 2.0},
        "where": {"name": 2.0},
    }
    if qtype in table:
        return table[qtype].get(kind, 0.0)
    return {"name": 0.6, "phrase": 0.5, "number": 0.4, "date": 0.4}[kind]
