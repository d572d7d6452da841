"""End to end with the real model: the sample document and its questions (tests/data/), through the API and `qa eval`.

The full squad_dev evaluation (marked ``slow``) reads the shared evaluation data
(``$DOCQA_DATA``, default ``../shared``) and is skipped without it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from conftest import CORPUS, SEED_DEV, SQUAD_SAMPLE, needs_shared_data, shared_data
from qa.cli import main
from qa.evaluate import contains_answer, load_rows
from qa.index import Index

SEED_ROWS = load_rows(SEED_DEV)

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def seed_index(tmp_path_factory: pytest.TempPathFactory, real_encoder) -> Index:  # type: ignore[no-untyped-def]
    docs = tmp_path_factory.mktemp("docs")
    shutil.copytree(CORPUS, docs, dirs_exist_ok=True)
    return Index.build(docs, tmp_path_factory.mktemp("index"), encoder=real_encoder)


@pytest.mark.parametrize("row", SEED_ROWS, ids=lambda r: r.question[:40])
def test_seed_question(seed_index: Index, row) -> None:  # type: ignore[no-untyped-def]
    answer = seed_index.ask(row.question)
    if not row.answers:
        assert not answer.found, f"expected a no-answer, got {answer.text!r}"
        assert answer.hits, "a no-answer still shows the passages it looked at"
        return
    assert answer.found, f"no answer for {row.question!r}"
    assert contains_answer(answer.text, row.answers), f"{answer.text!r} lacks {row.answers}"
    citation = answer.citations[0]
    original = (CORPUS / citation.doc).read_text(encoding="utf-8-sig")
    assert original[citation.start : citation.end] == citation.text == answer.text
    assert original[citation.passage_start : citation.passage_end] == citation.passage_text
    assert citation.passage_start <= citation.start < citation.end <= citation.passage_end


def test_cli_eval_on_seed_reaches_the_issue_numbers(tmp_path: Path, capsys: pytest.CaptureFixture[str], real_encoder) -> None:  # type: ignore[no-untyped-def]
    code = main(["eval", "--docs", str(CORPUS), "--qa", str(SEED_DEV), "--index", str(tmp_path / "ix"), "--json"])
    assert code == 0
    metrics = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert metrics["questions"] == 12 and metrics["answerable"] == 10
    assert metrics["answer_accuracy"] == 1.0
    assert metrics["no_answer_accuracy"] == 1.0
    assert metrics["false_no_answer_rate"] == 0.0


def test_touching_one_squad_document_reembeds_only_it(tmp_path: Path, real_encoder) -> None:  # type: ignore[no-untyped-def]
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in ("Super_Bowl_50.txt", "Teacher.txt"):
        shutil.copy(SQUAD_SAMPLE / "docs" / name, docs / name)
    index = Index.build(docs, tmp_path / "ix", encoder=real_encoder)
    before = len(index.passages)
    path = docs / "Teacher.txt"
    path.write_text(path.read_text(encoding="utf-8") + "\n\nTeachers were first described in this test.\n", encoding="utf-8")
    report = Index.open(tmp_path / "ix", encoder=real_encoder).update(docs)
    assert report.changed == ["Teacher.txt"] and report.unchanged == ["Super_Bowl_50.txt"]
    teacher_passages = Index.open(tmp_path / "ix", encoder=real_encoder).manifest["documents"]["Teacher.txt"]["count"]
    assert report.passages_embedded == teacher_passages < before


@pytest.mark.slow
@needs_shared_data("eval", "squad_dev")
def test_full_squad_dev_reaches_the_issue_numbers(tmp_path: Path, real_encoder) -> None:  # type: ignore[no-untyped-def]
    """Minutes long: run with `pytest -m slow`. A regression floor a little under the measured values
    (README "Quality": hit@1 0.889, hit@5 0.971, answer_accuracy 0.807, answer_f1 0.653, 27.9 words)."""
    from qa.evaluate import evaluate

    squad = shared_data("eval", "squad_dev")
    index = Index.build(squad / "docs", tmp_path / "ix", encoder=real_encoder)
    metrics = evaluate(index, load_rows(squad / "qa.jsonl"))
    assert metrics["hit@1"] >= 0.87
    assert metrics["hit@5"] >= 0.96
    assert metrics["answer_accuracy"] >= 0.80
    assert metrics["answer_f1"] >= 0.64
    assert metrics["mean_answer_words"] <= 30
    assert metrics["false_no_answer_rate"] <= 0.10
