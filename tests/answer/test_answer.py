"""Answer selection: question types, the short-span finder and the shipped scorer."""

from __future__ import annotations

import json
import math

import pytest

from pathlib import Path

import numpy as np

from qa.answer.scorer import (
    ALL_FEATURES,
    ANSWER_FEATURES,
    NEAR_MISS_FEATURES,
    READER_ANSWER_FEATURES,
    READER_SPAN_FEATURES,
    SCORER_FILE,
    Scorer,
)
from qa.answer.features import Candidate, question_type, type_match
from qa.answer.finder import rerank_hits, trim_sentence
from qa.retrieval.fusion import DEFAULT_FUSION
from qa.index import Index
from qa.answer.span import SPAN_FEATURES, find_span, span_candidates
from qa.types import Hit, Passage
from conftest import REPO, read_original


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("When did the war end?", "when"),
        ("In what year was it founded?", "when"),
        ("How many people live there?", "number"),
        ("What is the population of Pyongyang?", "number"),
        ("Who invited Putin?", "who"),
        ("Where is the stadium?", "where"),
        ("Which country will he visit next?", "where"),
        ("What natural resources is it rich in?", "other"),
    ],
)
def test_question_type(question: str, expected: str) -> None:
    assert question_type(question) == expected


def test_type_match_looks_for_the_asked_kind() -> None:
    assert type_match("when", "It opened in 1961.", "When did it open?") == 1.0
    assert type_match("when", "It opened long ago.", "When did it open?") == 0.0
    assert type_match("number", "About twenty people came.", "How many came?") == 1.0
    assert type_match("who", "The plan was made by Kim Jong Un.", "Who made the plan?") == 1.0
    assert type_match("who", "The plan was made by the committee.", "Who made the plan?") == 0.0


@pytest.mark.parametrize(
    ("question", "sentence", "expected"),
    [
        ("What is the population of Pyongyang?", "Putin arrived for the first time in 24 years.", 0.0),
        ("What is the population of Pyongyang?", "The city has 2.5 million inhabitants.", 1.0),
        ("How many people live there?", "The town was founded in 1850.", 0.0),
        ("How much did the bridge cost in 2010?", "In 2010 the bridge cost five million dollars.", 1.0),
        ("How long had it been since Putin last visited?", "Putin arrived for the first time in 24 years.", 1.0),
        ("How many years did the war last?", "The war lasted three years.", 1.0),
    ],
)
def test_a_count_is_not_answered_by_a_duration_or_a_year(question: str, sentence: str, expected: float) -> None:
    assert type_match("number", sentence, question) == expected


@pytest.mark.parametrize(
    ("question", "sentence", "span"),
    [
        ("Who invited Putin to North Korea?",
         "The visit took place at the invitation of North Korean leader Kim Jong Un, it was said.", "Kim Jong Un"),
        ("How long had it been since Putin last visited North Korea?",
         "Putin has arrived in North Korea for the first time in 24 years, marking a moment.", "24 years"),
        ("When was the treaty signed?", "The treaty was signed on 12 June 1961 in Moscow.", "12 June 1961"),
        ("In which city will Putin meet Vietnamese leaders?",
         "In Hanoi, Putin will meet with Vietnamese leaders to discuss trade.", "Hanoi"),
        ("What natural resources is North Korea rich in?",
         "North Korea is rich in rare earth metals, which are crucial for microelectronics.", "rare earth metals"),
    ],
)
def test_find_span_picks_the_answer_phrase(question: str, sentence: str, span: str) -> None:
    start, end = find_span(question, sentence, question_type(question))
    assert sentence[start:end] == span
    start, end = find_span(question, sentence, question_type(question), Scorer.load().span)  # the learned scorer
    assert sentence[start:end] == span


def test_find_span_falls_back_to_the_whole_sentence() -> None:
    sentence = "Putin visited North Korea."
    assert find_span("Did Putin visit North Korea?", sentence, "other") == (0, len(sentence))
    assert find_span("Anything?", "", "other") == (0, 0)


def test_shipped_scorer_loads_and_names_known_features() -> None:
    data = json.loads(SCORER_FILE.read_text(encoding="utf-8"))
    scorer = Scorer.load()
    assert set(scorer.sentence_features) <= set(ALL_FEATURES)
    assert set(scorer.answer_features) <= set(ANSWER_FEATURES + READER_ANSWER_FEATURES + READER_SPAN_FEATURES + NEAR_MISS_FEATURES)
    if scorer.hidden_weights is None:
        assert len(scorer.sentence_weights) == len(scorer.sentence_features)
    else:
        assert scorer.hidden_weights.shape == (len(scorer.sentence_features), len(scorer.sentence_weights))
    assert scorer.span is not None and scorer.span.features == SPAN_FEATURES
    assert 0 < scorer.max_words
    assert 0.0 < scorer.threshold < 1.0
    assert data["train_report"]["answerable_questions"] > 0  # it was trained, not hand-set
    # its features (passage scores and ranks) come from retrieval: it must have been fit on the fusion `ask` uses
    assert data["train_report"]["fusion"] == DEFAULT_FUSION


def _features(**values: float) -> dict[str, float]:
    base = {name: 0.0 for name in ALL_FEATURES}
    base.update(values)
    return base


def test_shipped_scorer_prefers_the_sentence_that_matches_the_question() -> None:
    scorer = Scorer.load()
    answer = _features(cosine=0.75, overlap=0.9, bigrams=0.5, passage_score=0.9, passage_rr=1.0, dense_rr=1.0,
                       sparse_rr=1.0, novel=1.0, novel_frac=0.6, log_words=math.log1p(20), is_when=1.0, match_when=1.0)
    other = _features(cosine=0.45, cosine_gap=-0.3, overlap=0.2, overlap_gap=-0.7, passage_score=0.9, passage_rr=1.0,
                      dense_rr=1.0, sparse_rr=1.0, novel=1.0, novel_frac=0.9, log_words=math.log1p(20), is_when=1.0)
    assert scorer.sentence_logit(answer) > scorer.sentence_logit(other)


def test_shipped_answerability_model_is_calibrated_in_the_right_direction() -> None:
    scorer = Scorer.load()
    names = ANSWER_FEATURES + READER_ANSWER_FEATURES + READER_SPAN_FEATURES + NEAR_MISS_FEATURES  # coverage: 0 = nothing missing
    w = scorer.reader_weight  # the best candidate's score is ranker logit + w x reader logit
    confident = {name: 0.0 for name in names} | {"best_logit": 2.0 + w * 4.0, "margin": 2.0 + w * 3.0, "best_cosine": 0.8,
                                                  "best_overlap": 1.0, "answer_cosine": 0.8, "answer_overlap": 1.0,
                                                  "answer_match": 1.0, "top_passage_score": 0.9,
                                                  "reader_best": 4.0, "reader_margin": 3.0, "reader_span": 12.0}
    unrelated = {name: 0.0 for name in names} | {"best_logit": -4.0 - w * 4.0, "best_cosine": 0.1, "answer_cosine": 0.1,
                                                  "top_passage_score": 0.1, "reader_best": -4.0,
                                                  "names_missing": 1.0, "names_missing_top": 1.0, "words_missing": 3.0}
    assert scorer.answer_probability(confident) > scorer.threshold > scorer.answer_probability(unrelated)


BENCH_SCORERS = sorted((REPO / "training" / "scorers").glob("*_scorer.json"))
LOGISTIC_SCORER = REPO / "training" / "scorers" / "logistic_scorer.json"


@pytest.mark.parametrize("path", [SCORER_FILE, LOGISTIC_SCORER])
def test_ranker_scores_a_matrix_like_one_row_at_a_time(path: Path) -> None:
    scorer = Scorer.load(path)
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(6, len(scorer.sentence_features)))
    one_by_one = [scorer.sentence_logit(dict(zip(scorer.sentence_features, row))) for row in rows]
    assert np.allclose(scorer.sentence_logits(rows), one_by_one)


LONG = ("The Broncos defeated the Carolina Panthers, who had won the NFC title the year before, by a score of 24-10 "
        "in a game played at Levi's Stadium in Santa Clara, California, on February 7, 2016, before a crowd of "
        "seventy thousand fans.")


@pytest.mark.parametrize("phrase", ["Levi's Stadium", "Carolina Panthers", "February 7, 2016", "seventy thousand"])
def test_trim_sentence_keeps_the_span_verbatim_within_the_limit(phrase: str) -> None:
    at = LONG.index(phrase)
    start, end = trim_sentence(LONG, (at, at + len(phrase)), 20)
    assert start <= at and at + len(phrase) <= end
    assert len(LONG[start:end].split()) <= 20
    assert LONG[start:end] == LONG[start:end].strip(" ,;")


def test_trim_sentence_leaves_short_sentences_whole() -> None:
    assert trim_sentence("Putin visited North Korea.", (6, 13), 20) == (0, 26)
    assert trim_sentence(LONG, (0, 5), 0 + len(LONG.split())) == (0, len(LONG))


def _hit(pid: int, score: float) -> Hit:
    return Hit(Passage(pid, "d.txt", pid, pid * 100, pid * 100 + 50, "x" * 50, ((pid * 100, pid * 100 + 50),)), score, 1, 1)


def test_rerank_hits_puts_the_passage_of_the_best_sentence_first() -> None:
    hits = [_hit(0, 0.9), _hit(1, 0.8), _hit(2, 0.7)]
    ranked = [Candidate("d.txt", 200, 250, "x", hits[2], 2, {}, 3.0), Candidate("d.txt", 0, 50, "x", hits[0], 0, {}, 1.0)]
    assert [h.passage.id for h in rerank_hits(hits, ranked)] == [2, 0, 1]


def test_rerank_hits_can_lead_with_a_few_and_keep_retrieval_order_after() -> None:
    hits = [_hit(0, 0.9), _hit(1, 0.8), _hit(2, 0.7), _hit(3, 0.6)]
    ranked = [Candidate("d.txt", 300, 350, "x", hits[3], 3, {}, 3.0), Candidate("d.txt", 100, 150, "x", hits[1], 1, {}, 2.0),
              Candidate("d.txt", 0, 50, "x", hits[0], 0, {}, 1.0)]
    assert [h.passage.id for h in rerank_hits(hits, ranked)] == [3, 1, 0, 2]
    assert [h.passage.id for h in rerank_hits(hits, ranked, first=1)] == [3, 0, 1, 2]
    assert Scorer.load().sentence_ordered_passages == 4


def test_span_candidates_have_every_span_feature() -> None:
    cands = span_candidates("Who invited Putin?", "Putin was invited by Kim Jong Un in June.", "who")
    assert cands and all(set(SPAN_FEATURES) <= set(c.features) for c in cands)


def test_cut_answers_still_slice_back_to_the_file(built_index: Index, docs_dir: Path, tmp_path: Path) -> None:
    data = json.loads(SCORER_FILE.read_text(encoding="utf-8")) | {"max_words": 4}
    data["answerable"] = {**data["answerable"], "threshold": 0.0}  # always answer
    (tmp_path / "scorer.json").write_text(json.dumps(data), encoding="utf-8")
    built_index.use_scorer(tmp_path / "scorer.json")
    answer = built_index.ask("How long is a day on Mars?")
    # the sentence is "Its day lasts 24.6 hours, a little longer than ours." (9 words): cut at its comma
    assert answer.text == "Its day lasts 24.6 hours" and answer.span == "24.6 hours"
    c = answer.citations[0]
    original = read_original(docs_dir, c.doc)
    assert original[c.start : c.end] == c.text == answer.text
    assert original[c.span_start : c.span_end] == answer.span
    assert c.start <= c.span_start <= c.span_end <= c.end
    assert original[c.end : c.end + 1] == ","  # the cut ends at the clause break, inside the sentence


@pytest.mark.parametrize("path", [SCORER_FILE, LOGISTIC_SCORER])
def test_a_feature_that_never_varied_in_training_has_no_effect(path: Path) -> None:
    """``heading`` is always 0 in training (headings are dropped while sentences exist); when every
    candidate is a heading-like line (a list, a poem), it must not swamp the score."""
    scorer = Scorer.load(path)
    assert "heading" in scorer.sentence_features  # else the check below could not fail
    sentence = _features(cosine=0.6, overlap=0.5, passage_score=0.7, passage_rr=1.0, log_words=math.log1p(12))
    as_heading = {**sentence, "heading": 1.0}
    assert scorer.sentence_logit(as_heading) == pytest.approx(scorer.sentence_logit(sentence))


def test_the_bench_scorers_are_found() -> None:
    assert LOGISTIC_SCORER in BENCH_SCORERS and len(BENCH_SCORERS) >= 5


@pytest.mark.parametrize("path", BENCH_SCORERS, ids=lambda p: p.name)
def test_every_bench_scorer_loads_and_finds_its_reader(path: Path) -> None:
    """training/ablation.py's table rows read these files; a reader folder they name must resolve (to qa/'s)."""
    scorer = Scorer.load(path)
    assert scorer.sentence_features and scorer.answer_features
    if scorer.reader_top:
        assert scorer.reader_folder is not None and (scorer.reader_folder / "model.onnx").is_file()


def _coverage(index: Index, question: str) -> dict[str, float]:
    from qa.query import Query

    query = Query.parse(question)
    vector = index.encode_query(question).reshape(-1)
    hits = index.search(question, k=15)
    ranked = index.answers.candidates(query, vector, hits)
    return index.answers.answerability(ranked)


def test_near_miss_features_see_a_name_or_number_the_passages_lack(built_index: Index, tmp_path: Path) -> None:
    data = json.loads(SCORER_FILE.read_text(encoding="utf-8"))
    a = data["answerable"]
    data["answerable"] = {**a, "features": a["features"] + list(NEAR_MISS_FEATURES), "weights": a["weights"] + [0.0] * 6}
    (tmp_path / "scorer.json").write_text(json.dumps(data), encoding="utf-8")
    built_index.use_scorer(tmp_path / "scorer.json")
    assert built_index.answers.scorer.reads_coverage
    plain = _coverage(built_index, "How long is a day on Mars?")
    assert plain["names_missing"] == plain["names_missing_top"] == 0.0
    swapped = _coverage(built_index, "How long is a day on Neptune?")  # the documents never name Neptune
    assert swapped["names_missing"] == swapped["names_missing_top"] == 1.0
    number = _coverage(built_index, "Does a day on Mars last 31.7 hours?")
    assert number["numbers_missing"] == 1.0 and number["numbers_missing_top"] == 1.0
    negated = _coverage(built_index, "How long is a day not on Mars?")
    assert negated["negation_mismatch"] == 1.0 and plain["negation_mismatch"] == 0.0


def test_coverage_features_are_computed_only_for_a_scorer_that_reads_them(built_index: Index) -> None:
    from qa.query import Query

    question = "How long is a day on Neptune?"
    hits = built_index.search(question, k=15)
    vector = built_index.encode_query(question).reshape(-1)
    assert Scorer.load().reads_coverage  # the shipped scorer was trained with --near-miss
    candidates = built_index.answers.candidates(Query.parse(question), vector, hits)
    assert candidates and all("names_missing" in c.features for c in candidates)
    built_index.use_scorer(LOGISTIC_SCORER)  # trained before the coverage features
    assert not built_index.answers.scorer.reads_coverage
    candidates = built_index.answers.candidates(Query.parse(question), vector, hits)
    assert candidates and not any("names_missing" in c.features for c in candidates)


def test_question_names_and_figures() -> None:
    from qa.answer.features import figures, question_names

    assert question_names("When did The Beatles play in Hamburg?") == ["beatles", "hamburg"]
    assert figures("It cost 1,000 dollars in 1961.") == {"1000", "1961"}
