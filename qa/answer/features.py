"""Answer candidates: every sentence of the top passages, with what the scorer reads about it.

Each sentence gets features that say whether it answers the question (meaning:
cosine to the question; words: IDF-weighted overlap; context: the rank of its
passage; type: does a "when" question meet a date, a "how many" a number, a
"who" a name). ``answerability_features`` turns the ranked candidates into the
question-level inputs of the no-answer decision.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Mapping, Sequence

import numpy as np

from qa.query import Query
from qa.textutil import STOPWORDS, idf_weights, tokenize
from qa.types import Hit, Passage

_YEAR = re.compile(r"\b(1[0-9]{3}|20[0-9]{2})s?\b")
_MONTH = re.compile(r"\b(Jan(uary)?|Feb(ruary)?|March|April|May|June|July|Aug(ust)?|Sept?(ember)?|Oct(ober)?|Nov(ember)?|Dec(ember)?)\b")
_NUMBER = re.compile(r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundred|thousand|million|billion|dozen|half|twice|once|several|ninefold|tenfold|double)\b", re.I)
_NUMBER_WORD = r"(?:\d[\d,.]*|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|hundred|several|a few|many)"
_DURATION = re.compile(rf"\b{_NUMBER_WORD}(?:[\s-]+{_NUMBER_WORD})*[\s-]+(?:years?|months?|weeks?|days?|hours?|minutes?|seconds?|decades?|centuries)\b", re.I)
_TIME_QUESTION = re.compile(r"\bhow (?:long|old|soon)\b|\b(?:years?|months?|weeks?|days?|hours?|minutes?|seconds?|decades?|centuries|century|age|ages|time|times|period|duration|date|dates)\b", re.I)
_ENDS_SENTENCE = re.compile(r"[.!?…][\"'”’»)\]]*$")
_CAPITALISED = re.compile(r"(?<!^)(?<![.!?]\s)\b[A-Z][\w'-]+")
_WORDS = re.compile(r"\w+")
_FIGURE = re.compile(r"\d[\d,.]*\d|\d")
NEGATION = re.compile(r"\b(?:not|never|no|none|nor|neither|without|cannot)\b|n't\b", re.I)
COVERAGE_PASSAGES = 5  # the passages whose words ``names_missing_top`` / ``numbers_missing_top`` look in

QUESTION_TYPES = ("when", "number", "who", "where")
# What of the question the answer's passage (and title), or all of the top 5, lack: near-miss evidence.
NEAR_MISS_FEATURES = ("names_missing", "numbers_missing", "words_missing", "negation_mismatch",
                      "names_missing_top", "numbers_missing_top")


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


def question_names(question: str) -> list[str]:
    """The question's capitalised words past its first (names, mostly), lower-cased, stop words aside."""
    return sorted({m.group(0).lower() for m in _CAPITALISED.finditer(question)} - STOPWORDS)


def figures(text: str) -> set[str]:
    """The numbers written in ``text``, thousands separators and trailing points dropped ("1,000." -> "1000")."""
    return {m.group(0).replace(",", "").rstrip(".") for m in _FIGURE.finditer(text)}


def missing_share(wanted: Sequence[str], present: set[str]) -> float:
    """The share of ``wanted`` not in ``present`` (0 when nothing is wanted: no evidence either way)."""
    return sum(w not in present for w in wanted) / len(wanted) if wanted else 0.0


def sentence_text(passage: Passage, start: int, end: int) -> str:
    return passage.text[start - passage.start : end - passage.start]


def sentence_candidates(
    query: Query,
    query_vector: np.ndarray,
    hits: Sequence[Hit],
    sentence_vectors: Mapping[int, np.ndarray],
    idf: Callable[[str], float],
    *,
    passages: int,
    projection: tuple[np.ndarray, np.ndarray] | None = None,
    title: Callable[[str], str] | None = None,
    coverage: bool = True,
) -> list[Candidate]:
    """Every distinct sentence of the first ``passages`` hits with its features (unscored).

    ``sentence_vectors``: each passage's unit sentence rows; ``idf``: the lexical
    index's word weights; ``projection``: the scorer's optional (question, sentence)
    low-rank maps behind the ``bilinear`` feature; ``title``: each document's title,
    which counts as part of its passages for the coverage features; ``coverage``: compute
    those at all (about 1 ms a question over 15 passages; 0 when off).
    """
    question = query.text
    q_list = list(query.tokens)
    q_tokens = set(q_list)
    q_bigrams = set(zip(q_list, q_list[1:]))
    q_weights = idf_weights(q_tokens, idf)
    q_total = sum(q_weights.values()) or 1.0
    qtype = question_type(question)
    q_lower = question.lower()
    q_words = {w.lower() for w in re.findall(r"\w+", question)}
    wh = {w: float(bool(re.search(rf"\b{w}\b", q_lower))) for w in ("what", "which", "how", "why")}
    projected = None
    if projection is not None:
        projected = np.asarray(query_vector, dtype=np.float32) @ projection[0]
    top_score = hits[0].score if hits else 0.0
    seen: set[tuple[str, int, int]] = set()
    out: list[Candidate] = []
    all_token_sets: list[set[str]] = []
    # Coverage: are the question's names, numbers and words in the candidate's passage (or its title)? A question
    # that looks answerable but names what the passage does not (a swapped name, a changed year) is a near miss.
    names, numbers = question_names(question), sorted(figures(question))
    negated = bool(NEGATION.search(question))
    top_words: set[str] = set()
    top_figures: set[str] = set()

    def overlap_of(tokens: set[str]) -> float:
        return sum(w for t, w in q_weights.items() if t in tokens) / q_total

    for rank, hit in enumerate(hits[: passages]):
        vectors = sentence_vectors.get(hit.passage.id)
        vectors = np.asarray(vectors, dtype=np.float32) if vectors is not None else None
        n = len(hit.passage.sentences)
        cosines = vectors @ query_vector if vectors is not None else np.zeros(n, dtype=np.float32)
        bilinear = (vectors @ projection[1]) @ projected if projected is not None and vectors is not None \
            else np.zeros(n, dtype=np.float32)
        texts = [sentence_text(hit.passage, s, e) for s, e in hit.passage.sentences]
        token_lists = [tokenize(t) for t in texts]
        token_sets = [set(t) for t in token_lists]
        all_token_sets.extend(token_sets)
        overlaps = [overlap_of(t) for t in token_sets]
        passage_tokens = set().union(*token_sets)
        passage_overlap = overlap_of(passage_tokens)
        covered = {}
        if coverage:
            heading = title(hit.doc) if title is not None else ""
            words = set(_WORDS.findall(f"{heading} {hit.passage.text}".lower()))
            passage_figures = figures(f"{heading} {hit.passage.text}")
            if rank < COVERAGE_PASSAGES:
                top_words |= words
                top_figures |= passage_figures
            covered = {
                "names_missing": missing_share(names, words),
                "numbers_missing": missing_share(numbers, passage_figures),
                "words_missing": float(np.log1p(len(q_tokens - passage_tokens - set(tokenize(heading))))),
            }
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
                **covered,
            }
            if coverage:
                features["negation_mismatch"] = float(negated and not NEGATION.search(text))
            out.append(Candidate(hit.doc, start, end, text, hit, rank, features))
    # The question's rarest word in none of the retrieved sentences: the documents likely do not answer it.
    rarest = max(q_weights, key=lambda t: (q_weights[t], t)) if q_weights else None
    present = rarest is not None and any(rarest in s for s in all_token_sets)
    top = {"names_missing_top": missing_share(names, top_words),
           "numbers_missing_top": missing_share(numbers, top_figures)} if coverage else {}
    for c in out:
        c.features["rare_missing"] = 0.0 if rarest is None or present else 1.0
        c.features.update(top)
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


def answerability_features(ranked: Sequence[Candidate]) -> dict[str, float]:
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
        # near misses (0 unless the scorer reads them, see ``sentence_candidates``'s ``coverage``)
        **{f: best.features.get(f, 0.0) for f in NEAR_MISS_FEATURES},
    }
