"""Bad input a user can give the CLI or the Python API: one clear error, nothing indexed lost."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from conftest import DOCS, write_docs
from qa import Index, QuestionError, Settings
from qa.app.service import check_question
from qa.cli import main
from qa.query import Query


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_qa_index_from_another_folder_refuses_and_keeps_the_index(
    docs_dir: Path, index_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(capsys, "index", str(docs_dir), "--index", str(index_dir), "--model", "hash-256", "-q")[0] == 0
    other = write_docs(tmp_path / "other", {"comets.txt": "Comets are icy bodies that grow tails near the Sun.\n"})
    code, _, err = _run(capsys, "index", str(other), "--index", str(index_dir), "-q")
    assert code == 2
    assert err.startswith("error: ") and len(err.strip().splitlines()) == 1
    assert f"was built from {docs_dir.resolve()}" in err and "--rebuild" in err
    assert sorted(Index.open(index_dir).documents) == sorted(DOCS), "nothing indexed was dropped"
    code, out, _ = _run(capsys, "index", str(other), "--index", str(index_dir), "--rebuild", "-q")
    assert code == 0 and "1 added" in out
    assert Index.open(index_dir).documents == ["comets.txt"]


def test_an_index_whose_folder_was_moved_is_updated_from_the_new_place(
    docs_dir: Path, index_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(capsys, "index", str(docs_dir), "--index", str(index_dir), "--model", "hash-256", "-q")[0] == 0
    moved = tmp_path / "moved"
    shutil.move(str(docs_dir), moved)
    code, out, _ = _run(capsys, "index", str(moved), "--index", str(index_dir), "-q")
    assert code == 0 and f"0 added, 0 changed, 0 removed, {len(DOCS)} unchanged" in out


def test_a_question_with_bytes_that_are_not_utf8_is_a_clear_error(
    docs_dir: Path, index_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run(capsys, "index", str(docs_dir), "--index", str(index_dir), "--model", "hash-256", "-q")[0] == 0
    question = os.fsdecode(b"Why is Mars \xff red?")  # what Python makes of such bytes in argv
    code, out, err = _run(capsys, "ask", question, "--index", str(index_dir))
    assert code == 2 and out == ""
    assert err.startswith("error: the question holds bytes that are not UTF-8")
    with pytest.raises(QuestionError, match="not UTF-8"):
        Query.parse(question)
    with pytest.raises(QuestionError, match="not valid text"):
        check_question(question)


@pytest.mark.parametrize("call", [
    lambda ix: ix.search("Mars", k=0),
    lambda ix: ix.search("Mars", k=2.5),
    lambda ix: ix.ask("Mars", k=True),
    lambda ix: ix.ask("Mars", k=0),
    lambda ix: ix.search("Mars", mode="fuzzy"),
    lambda ix: ix.search("Mars", mode="bm25", fusion="max"),
    lambda ix: ix.ask("Mars", fusion=None),
], ids=["search k=0", "search k=2.5", "ask k=True", "ask k=0", "unknown mode", "unknown fusion in bm25 mode", "fusion None"])
def test_index_api_arguments_are_checked(built_index: Index, call) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError):
        call(built_index)


@pytest.mark.parametrize("question", [None, 42, b"Mars", "", "   \n "])
def test_index_api_questions_are_checked(built_index: Index, question: object) -> None:
    with pytest.raises(QuestionError):
        built_index.ask(question)  # type: ignore[arg-type]


def test_index_api_paths_and_settings_are_checked(docs_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="index_dir must be a folder path"):
        Index.open(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="docs_dir must be a folder path"):
        Index.build(3, tmp_path / "ix")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="settings must be a qa.Settings"):
        Index.build(docs_dir, tmp_path / "ix", {"model": "hash-256"})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="passage_chars must be a whole number"):
        Settings(passage_chars="800")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="model must be"):
        Settings(model="")
    assert not (tmp_path / "ix").exists(), "nothing was written"


def test_another_scorer_that_cannot_be_loaded_is_a_clear_error(built_index: Index, tmp_path: Path) -> None:
    from qa.errors import ModelNotFoundError

    (tmp_path / "broken.json").write_text('{"sentence": {}}', encoding="utf-8")
    for path in (tmp_path / "missing.json", tmp_path / "broken.json"):
        with pytest.raises(ModelNotFoundError, match="cannot load the answer scorer"):
            built_index.use_scorer(path)
    assert built_index.ask("Why is Mars called the Red Planet?").found, "the shipped scorer is still in use"
