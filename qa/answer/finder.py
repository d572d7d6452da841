"""Pick the answer sentence out of the top passages, or decide there is none.

Every sentence of the top passages is a candidate (``qa.answer.features``), and
the learned scorer (``qa.answer.scorer``: a small MLP, or a linear model) turns
its features into one score. The cross-encoder reader (``qa.answer.reader``)
then reads the question with each of the best few sentences and re-orders them.
The best candidate is the answer when the answerability model (which sees the
ranker's and the reader's scores) clears a calibrated threshold; otherwise the
reply is a no-answer.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Mapping, Protocol, Sequence

import numpy as np

from qa.answer.features import Candidate, answerability_features, question_type, sentence_candidates, sentence_text
from qa.answer.reader import Reader, Reading, load_reader, with_context
from qa.answer.scorer import Scorer
from qa.answer.span import find_span
from qa.query import Query
from qa.retrieval.hybrid import prefetch
from qa.types import Answer, Citation, Hit, Passage


class Corpus(Protocol):
    """What answering reads of an index: passages, their sentence vectors, word weights, titles."""

    passages: Mapping[int, Passage]
    sentence_vectors: Mapping[int, np.ndarray]

    def idf(self, token: str) -> float: ...

    def title(self, doc: str) -> str: ...


class AnswerFinder:
    """Scores candidate sentences of an index's hits (``corpus``: the index's data, read at each question)."""

    def __init__(self, corpus: Corpus, scorer: Scorer | None = None) -> None:
        self.corpus = corpus
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

    def candidates(self, query: Query, query_vector: np.ndarray, hits: Sequence[Hit]) -> list[Candidate]:
        """Every distinct sentence of the top passages with its features, scored, best first."""
        out = self.features(query, query_vector, hits)
        if not out:
            return []
        logits = self.scorer.sentence_logits(np.array([[c.features[f] for f in self.scorer.sentence_features] for c in out]))
        scored = [replace(c, score=float(z)) for c, z in zip(out, logits)]
        scored.sort(key=lambda c: -c.score)
        reader = self.reader
        if reader is not None:
            read = reader_choice(scored, self.scorer.reader_top, self.scorer.reader_passages)
            head = [scored[i] for i in read]
            passages = self.corpus.passages if reader.context else None
            if passages is not None:
                prefetch(passages, [c.hit.passage.id - 1 for c in head])  # the sentences before them
            texts = [reader_input(c, passages, self.corpus.title(c.doc)) for c in head]
            reading = reader.read(query.text, texts, [len(c.text) for c in head])
            mark_reader_spans(head, reading)
            scored = rescore_with_reader(scored, reading.logits, self.scorer.reader_weight, read)
        return scored

    def features(self, query: Query, query_vector: np.ndarray, hits: Sequence[Hit]) -> list[Candidate]:
        """Every distinct sentence of the top passages with its features (unscored)."""
        projection = None
        if self.scorer.project_question is not None and self.scorer.project_sentence is not None:
            projection = (self.scorer.project_question, self.scorer.project_sentence)
        return sentence_candidates(query, query_vector, hits, self.corpus.sentence_vectors, self.corpus.idf,
                                   passages=self.scorer.candidate_passages, projection=projection,
                                   title=self.corpus.title, coverage=self.scorer.reads_coverage)

    def answerability(self, ranked: Sequence[Candidate]) -> dict[str, float]:
        """Question-level features of the best candidate, for the no-answer decision."""
        return answerability_features(ranked)

    def answer(self, query: Query, query_vector: np.ndarray, hits: Sequence[Hit], k: int) -> Answer:
        question = query.text
        ranked = self.candidates(query, query_vector, hits)
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
        return Answer(question, best.text, confidence, (citation_of(best, confidence, span),), tuple(hits[:k]))


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
        previous = sentence_text(passage, *spans[j - 1])
    elif j == 0:
        before = passages.get(passage.id - 1)
        if before is not None and before.doc == passage.doc and before.number == passage.number - 1 and before.end > passage.start:
            earlier = [(s, e) for s, e in before.sentences if e <= candidate.start]
            if earlier:
                previous = sentence_text(before, *earlier[-1])
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


def citation_of(candidate: Candidate, confidence: float, span: tuple[int, int]) -> Citation:
    """The answer's citation: where ``candidate`` (cut to its answer clauses) and its ``span`` sit in the document."""
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
