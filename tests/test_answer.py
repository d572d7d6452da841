"""Answer selection: question types, the short-span finder and the shipped scorer."""

from __future__ import annotations

import json
import math

import pytest

from qa.answer import ANSWER_FEATURES, SCORER_FILE, SENTENCE_FEATURES, Scorer, question_type, type_match
from qa.span import find_span


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


def test_find_span_falls_back_to_the_whole_sentence() -> None:
    sentence = "Putin visited North Korea."
    assert find_span("Did Putin visit North Korea?", sentence, "other") == (0, len(sentence))
    assert find_span("Anything?", "", "other") == (0, 0)


def test_shipped_scorer_loads_and_names_known_features() -> None:
    data = json.loads(SCORER_FILE.read_text(encoding="utf-8"))
    scorer = Scorer.load()
    assert set(scorer.sentence_features) <= set(SENTENCE_FEATURES)
    assert set(scorer.answer_features) <= set(ANSWER_FEATURES)
    assert len(scorer.sentence_weights) == len(scorer.sentence_features)
    assert 0.0 < scorer.threshold < 1.0
    assert data["train_report"]["answerable_questions"] > 0  # it was trained, not hand-set


def _features(**values: float) -> dict[str, float]:
    base = {name: 0.0 for name in SENTENCE_FEATURES}
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
    confident = {name: 0.0 for name in ANSWER_FEATURES} | {"best_logit": 2.0, "margin": 2.0, "best_cosine": 0.8,
                                                            "best_overlap": 1.0, "answer_cosine": 0.8, "answer_overlap": 1.0,
                                                            "answer_match": 1.0, "top_passage_score": 0.9}
    unrelated = {name: 0.0 for name in ANSWER_FEATURES} | {"best_logit": -4.0, "best_cosine": 0.1, "answer_cosine": 0.1,
                                                            "top_passage_score": 0.1}
    assert scorer.answer_probability(confident) > scorer.threshold > scorer.answer_probability(unrelated)
