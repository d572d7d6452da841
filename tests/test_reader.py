"""The cross-encoder reader: the shipped model loads and reads, and how its scores change the answer."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from qa.answer import SCORER_FILE, Candidate, Scorer, rescore_with_reader
from qa.errors import ModelNotFoundError
from qa.index import Index
from qa.reader import DEFAULT_READER, Reader, load_reader
from qa.types import Hit, Passage


@pytest.fixture(scope="module")
def reader() -> Reader:
    return load_reader(DEFAULT_READER)


def test_the_shipped_scorer_uses_the_shipped_reader() -> None:
    scorer = Scorer.load(SCORER_FILE)
    assert scorer.reader_folder is not None and scorer.reader_folder.resolve() == DEFAULT_READER.resolve()
    assert scorer.reader_top > 0 and scorer.reader_weight > 0
    assert {"reader_best", "reader_margin"} <= set(scorer.answer_features)


@pytest.mark.parametrize(
    ("question", "answer", "others"),
    [
        ("Who invited Putin to North Korea?",
         "The visit took place at the invitation of North Korean leader Kim Jong Un.",
         ["Putin arrived in Pyongyang late on Tuesday.", "The two leaders signed a partnership agreement.",
          "Russia and North Korea share a short border."]),
        ("When did the bakery open?",
         "The bakery opened in 1921 on Mill Street.",
         ["Mrs. Alma Reyes baked rye bread every morning.", "It sold 1.5 tons of flour a week.",
          "The bakery moved to a larger building near the river."]),
        # the words are shared by all; only who did what tells them apart
        ("Who sold the company to Oracle?",
         "Larry Smith sold the company to Oracle in 2004.",
         ["Oracle bought many companies in 2004.", "The company was founded by Ann Lee.",
          "Oracle later sold the company's hardware unit."]),
    ],
)
def test_the_reader_scores_the_answering_sentence_highest(reader: Reader, question: str, answer: str, others: list[str]) -> None:
    scores = reader.score(question, [*others, answer])
    assert scores.shape == (len(others) + 1,)
    assert int(np.argmax(scores)) == len(others)


def test_the_reader_is_deterministic_and_order_free(reader: Reader) -> None:
    sentences = ["Jupiter is the largest planet.", "Mars is called the Red Planet.", "Saturn has rings."]
    a = reader.score("Which planet is the largest?", sentences)
    b = reader.score("Which planet is the largest?", sentences[::-1])[::-1]
    np.testing.assert_allclose(a, b, atol=1e-4)  # padding to the longest pair must not change a score
    assert reader.score("Which planet?", []).shape == (0,)


def test_a_very_long_sentence_is_cut_not_refused(reader: Reader) -> None:
    long = "The river flows north. " * 200
    assert np.isfinite(reader.score("Where does the river flow?", [long])).all()


def test_a_question_longer_than_the_reader_reads_is_cut_not_refused(reader: Reader, built_index: Index) -> None:
    question = "Where does the river flow, " + "and what about the supercalifragilistic word, " * 60 + "?"
    assert np.isfinite(reader.score(question, ["A short sentence.", "The river flows north to the sea."])).all()
    built_index.ask(question)  # the API has no length limit; the answer may be a no-answer, but no error


def _candidate(text: str, score: float) -> Candidate:
    passage = Passage(0, "d.txt", 0, 0, len(text), text, ((0, len(text)),))
    return Candidate("d.txt", 0, len(text), text, Hit(passage, 1.0), 0, {}, score)


def test_rescore_reorders_only_the_top_candidates() -> None:
    ranked = [_candidate(t, s) for t, s in (("a", 3.0), ("b", 2.0), ("c", 1.0), ("d", 0.5))]
    reader_logits = {"a": -2.0, "b": 4.0, "c": 9.0, "d": 99.0}
    out = rescore_with_reader("q", ranked, lambda _q, texts: np.array([reader_logits[t] for t in texts]), top=3, weight=0.5)
    assert [c.text for c in out] == ["c", "b", "a", "d"]  # d is outside the top 3: unread, stays last
    assert out[0].score == pytest.approx(1.0 + 0.5 * 9.0)
    assert out[0].features["reader"] == 9.0 and "reader" not in out[3].features


def test_a_missing_reader_is_one_clear_error(tmp_path: Path) -> None:
    data = json.loads(SCORER_FILE.read_text(encoding="utf-8"))
    data["reader"]["folder"] = "no-such-reader"
    path = tmp_path / "scorer.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ModelNotFoundError, match="no-such-reader"):
        load_reader(Scorer.load(path).reader_folder)


def test_a_corrupt_reader_file_is_one_clear_error(tmp_path: Path) -> None:
    folder = tmp_path / "reader"
    shutil.copytree(DEFAULT_READER, folder)
    (folder / "model.onnx").write_bytes(b"not a model")
    with pytest.raises(ModelNotFoundError, match="could not be loaded"):
        load_reader(folder)


def test_ask_reads_with_the_reader_and_works_without_one(built_index: Index) -> None:
    answer = built_index.ask("When did the bakery open?")
    assert built_index._answers.reader is not None
    assert answer.found and "1921" in answer.text
    built_index.use_scorer(Path(__file__).resolve().parent.parent / "bench" / "mlp_scorer.json")  # a scorer without reader
    assert built_index._answers.reader is None
    assert "1921" in built_index.ask("When did the bakery open?").text
