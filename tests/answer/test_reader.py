"""The cross-encoder reader: the shipped model loads and reads, and how its scores change the answer."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from qa.answer.scorer import SCORER_FILE, Scorer
from qa.answer.features import Candidate
from qa.answer.finder import reader_choice, reader_input, rescore_with_reader
from qa.errors import ModelNotFoundError
from qa.index import Index
from qa.ingest.titles import file_title
from qa.answer.reader import CONTEXT_WORDS, DEFAULT_READER, Reader, best_span, load_reader, with_context
from qa.types import Hit, Passage
from conftest import REPO


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


def _candidate(text: str, score: float, passage_id: int = 0) -> Candidate:
    passage = Passage(passage_id, "d.txt", 0, 0, len(text), text, ((0, len(text)),))
    return Candidate("d.txt", 0, len(text), text, Hit(passage, 1.0), 0, {}, score)


def test_the_reader_reads_the_top_sentences_and_the_best_of_each_leading_passage() -> None:
    # passages by their best sentence: 0 (a), 1 (c), 2 (e), 3 (f)
    ranked = [_candidate(t, s, p) for t, s, p in (("a", 6, 0), ("b", 5, 0), ("c", 4, 1), ("d", 3, 1), ("e", 2, 2), ("f", 1, 3))]
    assert reader_choice(ranked, 2) == [0, 1]
    assert reader_choice(ranked, 2, passages=3) == [0, 1, 2, 4]  # c and e: the best of passages 1 and 2
    assert reader_choice(ranked, 3, passages=2) == [0, 1, 2]  # passage 1's best is already read
    assert reader_choice(ranked, 0, passages=9) == [0, 2, 4, 5]
    assert reader_choice([], 5, passages=8) == []


def test_rescore_puts_every_read_candidate_first() -> None:
    ranked = [_candidate(t, s, p) for t, s, p in (("a", 3.0, 0), ("b", 2.0, 0), ("c", 1.0, 1), ("d", 0.5, 2))]
    out = rescore_with_reader(ranked, np.array([0.0, 0.0, 3.0]), weight=1.0, read=[0, 2, 3])
    assert [c.text for c in out] == ["d", "a", "c", "b"]  # b (unread) follows every read one
    assert "reader" not in out[3].features and out[0].features["reader"] == 3.0


def test_rescore_reorders_only_the_top_candidates() -> None:
    ranked = [_candidate(t, s) for t, s in (("a", 3.0), ("b", 2.0), ("c", 1.0), ("d", 0.5))]
    reader_logits = {"a": -2.0, "b": 4.0, "c": 9.0, "d": 99.0}
    out = rescore_with_reader(ranked, np.array([reader_logits[c.text] for c in ranked[:3]]), weight=0.5)
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
    assert built_index.answers.reader is not None
    assert answer.found and "1921" in answer.text
    built_index.use_scorer(REPO / "training" / "scorers" / "mlp_scorer.json")  # a scorer without reader
    assert built_index.answers.reader is None
    assert "1921" in built_index.ask("When did the bakery open?").text


def test_with_context_puts_the_sentence_first_and_keeps_the_context_short() -> None:
    assert with_context("It opened in 1921.") == "It opened in 1921."
    assert with_context("It opened in 1921.", "Bakery") == "It opened in 1921. [SEP] Bakery"
    text = with_context("It opened in 1921.", "Bakery", "The bakery " + "was built of red brick and " * 20)
    assert text.startswith("It opened in 1921. [SEP] Bakery | The bakery was built")
    assert len(text.split("|", 1)[1].split()) == CONTEXT_WORDS


def test_the_reader_reads_the_title_the_index_keeps(built_index: Index, index_dir: Path) -> None:
    assert file_title("notes/Super_Bowl-50.md") == "Super Bowl 50"
    titles = {"guide/setup.md": "Setting up", "guide/windows.txt": "Windows notes",  # a first line that is a heading
              "history.txt": "history", "planets.txt": "The Solar System"}  # history.txt starts with a sentence: its name
    assert {doc: built_index.title(doc) for doc in built_index.documents} == titles
    assert {doc: info["title"] for doc, info in Index.open(index_dir).manifest["documents"].items()} == titles  # kept on disk
    assert built_index.title("not-indexed_yet.txt") == "not indexed yet"  # an index built before titles were kept


def _passages(text: str, windows: list[list[tuple[int, int]]]) -> dict[int, Passage]:
    out = {}
    for number, sentences in enumerate(windows):
        start, end = sentences[0][0], sentences[-1][1]
        out[10 + number] = Passage(10 + number, "Mill_Bakery.txt", number, start, end, text[start:end], tuple(sentences))
    return out


def test_reader_input_reads_the_title_and_the_sentence_before() -> None:
    sentences = ["The bakery stood on Mill Street.", "It opened in 1921.", "It closed in 1990.", "A shop is there now."]
    text = " ".join(sentences)
    s = [(text.index(x), text.index(x) + len(x)) for x in sentences]
    passages = _passages(text, [s[:3], s[2:]])  # two overlapping windows of one paragraph
    first, second = passages[10], passages[11]

    def candidate(passage: Passage, span: tuple[int, int]) -> Candidate:
        return Candidate(passage.doc, span[0], span[1], text[span[0] : span[1]], Hit(passage, 1.0), 0, {})

    assert reader_input(candidate(first, s[1]), passages, "Mill Bakery") == "It opened in 1921. [SEP] Mill Bakery | The bakery stood on Mill Street."
    assert reader_input(candidate(first, s[0]), passages, "Mill Bakery") == "The bakery stood on Mill Street. [SEP] Mill Bakery"
    # a window's first sentence: the one before it comes from the overlapping window before
    assert reader_input(candidate(second, s[2]), passages, "Mill Bakery").endswith("| It opened in 1921.")
    assert reader_input(candidate(second, s[2]), None, "Mill Bakery") == "It closed in 1990."  # a reader of bare sentences
    # a new paragraph (windows that do not overlap) starts without a previous sentence, as in training
    apart = _passages(text, [s[:2], s[2:]])
    assert reader_input(candidate(apart[11], s[2]), apart, "Mill Bakery") == "It closed in 1990. [SEP] Mill Bakery"


def test_best_span_keeps_to_allowed_tokens_in_order_and_short() -> None:
    start = np.array([9.0, 1.0, 5.0, 0.0, 0.0, 8.0])
    end = np.array([9.0, 0.0, 1.0, 4.0, 0.0, 0.0])
    allowed = [False, True, True, True, True, False]  # 0 is the question, 5 the context
    assert best_span(start, end, allowed) == (2, 3)
    assert best_span(start, end, allowed, max_tokens=1) == (2, 2)  # one token at most
    assert best_span(np.array([0.0, 3.0]), np.array([5.0, 0.0]), [True, True]) == (0, 0)  # never end before start
    assert best_span(start, end, [False] * 6) is None


def test_the_shipped_reader_reads_context_and_marks_the_answer_phrase(reader: Reader) -> None:
    assert reader.context
    sentence = "It opened in 1921 on Mill Street, next to the old town hall."
    text = with_context(sentence, "Mill Bakery", "The Mill Bakery was the first bakery of the town.")
    reading = reader.read("When did the Mill Bakery open?", [text], [len(sentence)])
    start, end = reading.spans[0]
    assert end <= len(sentence) and "1921" in sentence[start:end] and len(sentence[start:end].split()) <= 3
    assert reading.span_scores[0] != 0


def test_the_previous_sentence_tells_the_reader_what_it_refers_to(reader: Reader) -> None:
    question = "Who founded Arnold, Constable?"
    founded = "It was founded in 1825 by Aaron Arnold as a small dry goods store."
    other = "It was founded in 1872 by Rowland Macy as a small store."
    arnold, macy = "Arnold, Constable was the first American department store.", "Macy's is a chain of department stores."
    texts = [with_context(founded, "Department stores", arnold), with_context(other, "Department stores", macy)]
    assert int(np.argmax(reader.score(question, texts))) == 0
    # the same two sentences after each other's previous sentence: the context decides
    swapped = [with_context(founded, "Department stores", macy), with_context(other, "Department stores", arnold)]
    assert int(np.argmax(reader.score(question, swapped))) == 1


def test_the_answer_span_is_the_readers_unless_the_scorer_turns_it_off(built_index: Index, tmp_path: Path) -> None:
    from qa.answer.features import question_type
    from qa.answer.span import find_span

    question = "When did the bakery open?"
    answer = built_index.ask(question)
    assert answer.found and "1921" in answer.span
    data = json.loads(SCORER_FILE.read_text(encoding="utf-8"))
    data["reader"] = {**data["reader"], "folder": str(DEFAULT_READER), "spans": False}
    (tmp_path / "scorer.json").write_text(json.dumps(data), encoding="utf-8")
    built_index.use_scorer(tmp_path / "scorer.json")
    off = built_index.ask(question)
    assert off.text == answer.text  # the same sentence; only the marked phrase may differ
    start, end = find_span(question, off.text, question_type(question), built_index.answers.scorer.span)
    assert off.span == off.text[start:end]
