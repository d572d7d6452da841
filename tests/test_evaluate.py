"""Evaluation helpers: SQuAD normalisation, token F1, answer matching, question files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qa.errors import QAError
from qa.evaluate import EvalRow, contains_answer, evaluate, f1_score, load_rows, normalize_answer
from qa.index import Index


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The Cat!", "cat"),
        ("  An   apple, a   PEAR.  ", "apple pear"),
        ("Theater of the absurd", "theater of absurd"),  # "the" only as a whole word
        ("U.S.-led", "usled"),
        ("", ""),
    ],
)
def test_normalize_answer(text: str, expected: str) -> None:
    assert normalize_answer(text) == expected


def test_f1_score() -> None:
    assert f1_score("the Jupiter", ["Jupiter"]) == 1.0
    assert f1_score("Jupiter and Saturn", ["Jupiter"]) == pytest.approx(0.5)  # p=1/3, r=1
    assert f1_score("Saturn", ["Jupiter"]) == 0.0
    assert f1_score("giant planet Jupiter", ["Saturn", "planet Jupiter"]) == pytest.approx(0.8)  # best gold wins
    assert f1_score("", ["Jupiter"]) == 0.0
    assert f1_score("Jupiter", []) == 0.0


def test_f1_counts_repeated_tokens_once_per_match() -> None:
    # prediction "x y y", gold "y": one token in common, precision 1/3, recall 1
    assert f1_score("x y y", ["y"]) == pytest.approx(2 * (1 / 3) / (1 / 3 + 1))


def test_contains_answer_matches_whole_normalised_words() -> None:
    assert contains_answer("It opened in 1921, on Mill Street.", ["1921"])
    assert contains_answer("Jupiter is the LARGEST planet.", ["largest planet"])
    assert contains_answer("It opened in 1921.", ["nothing", "the 1921"])  # any gold answer; articles ignored
    assert not contains_answer("It opened in 19210.", ["1921"])
    assert not contains_answer("Jupiter", ["Saturn"])
    assert not contains_answer("anything at all", [""])  # an empty gold answer never matches
    assert not contains_answer("", [""])
    assert not contains_answer("!!!", ["?", "the"])  # nothing left after normalisation
    assert not contains_answer("anything", [])


def write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_load_rows_reads_questions_answers_and_doc(tmp_path: Path) -> None:
    path = write(tmp_path / "qa.jsonl", [
        json.dumps({"question": "Who?", "answers": ["Ann", "Anne"], "doc": "a.txt"}),
        "",
        json.dumps({"question": "Unanswerable?", "answers": []}),
    ])
    assert load_rows(path) == [EvalRow("Who?", ("Ann", "Anne"), "a.txt"), EvalRow("Unanswerable?", (), None)]


@pytest.mark.parametrize(
    "bad_line",
    [
        "{not json",
        json.dumps({"question": "No answers key"}),
        json.dumps({"answers": ["no question key"]}),
        json.dumps(["a", "list"]),
        json.dumps({"question": "Q?", "answers": 5}),
        json.dumps({"question": "Q?", "answers": "Paris"}),
        json.dumps({"question": "   ", "answers": ["A"]}),
    ],
)
def test_load_rows_names_the_bad_line(tmp_path: Path, bad_line: str) -> None:
    path = write(tmp_path / "qa.jsonl", [json.dumps({"question": "Fine?", "answers": ["yes"]}), "", bad_line])
    with pytest.raises(QAError, match="not a question row") as info:
        load_rows(path)
    assert f"{path}:3:" in str(info.value)


def test_load_rows_missing_or_empty_file(tmp_path: Path) -> None:
    with pytest.raises(QAError, match="not found"):
        load_rows(tmp_path / "missing.jsonl")
    with pytest.raises(QAError, match="no questions"):
        load_rows(write(tmp_path / "empty.jsonl", ["", "  "]))


def test_evaluate_counts_answerable_and_unanswerable(built_index: Index) -> None:
    rows = [
        EvalRow("Which is the largest planet?", ("Jupiter",)),
        EvalRow("When did the bakery open?", ("1921",)),
        EvalRow("What colour is the moon of Mars?", ()),
    ]
    metrics = evaluate(built_index, rows, k=5)
    assert (metrics["questions"], metrics["answerable"], metrics["unanswerable"]) == (3, 2, 1)
    assert metrics["hit@5"] == 1.0
    assert metrics["hit@1"] <= metrics["mrr"] <= metrics["hit@5"]
    # the counts follow what `ask` answers (deterministic with the hash encoder)
    answers = [built_index.ask(row.question) for row in rows]
    correct = [a.found and contains_answer(a.text, row.answers) for a, row in zip(answers[:2], rows[:2])]
    assert metrics["answer_accuracy"] == pytest.approx(sum(correct) / 2)
    assert metrics["false_no_answer_rate"] == pytest.approx(sum(not a.found for a in answers[:2]) / 2)
    assert metrics["no_answer_accuracy"] == float(not answers[2].found)
