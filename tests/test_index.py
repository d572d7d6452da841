"""The index: persistence, incremental updates, offsets, bad input, interrupted builds."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import qa.index
import qa.store.update as update
from conftest import DOCS, CountingEncoder, read_original, write_docs
from qa.config import Settings
from qa.retrieval.encoder import HashEncoder
from qa.errors import DocumentsError, IndexCorruptError, IndexMismatchError, IndexNotFoundError, QuestionError
from qa.index import Index
from qa.store.update import UpdateReport
from qa.store.manifest import FORMAT_VERSION, MANIFEST, UPGRADABLE, passage_ids
from qa.query import Query
from qa.store.data import IndexData
from qa.store import local
from qa.store.local import LocalBackend
from qa.textutil import matching_tokens, tokenize

QUESTIONS = [
    "Which is the largest planet?",
    "When did the bakery open?",
    "How do I install the package?",
    "What line endings do Windows files use?",
    "How long is a day on Mars?",
]


def build(docs: Path, index_dir: Path, encoder=None, **kwargs) -> tuple[Index, UpdateReport]:  # type: ignore[no-untyped-def]
    reports: list[UpdateReport] = []
    index = Index.build(docs, index_dir, encoder=encoder or HashEncoder(), on_report=reports.append, **kwargs)
    assert len(reports) == 1
    return index, reports[0]


def search_snapshot(index: Index) -> list[list[tuple[str, int, int, str]]]:
    return [[(h.doc, h.start, h.end, h.text) for h in index.search(q, k=5)] for q in QUESTIONS]


def generation_entries(index_dir: Path) -> set[str]:
    return {p.name for p in index_dir.iterdir() if not p.name.startswith(".") and p.name != MANIFEST}


def normalized(text: str) -> str:
    return " ".join(text.split())


# ---------------------------------------------------------------- build and open


def test_build_then_open_round_trip(built_index: Index, index_dir: Path) -> None:
    reopened = Index.open(index_dir)
    assert reopened.passages == built_index.passages
    assert reopened.documents == built_index.documents == sorted(DOCS)
    assert isinstance(reopened.encoder, HashEncoder)
    assert search_snapshot(reopened) == search_snapshot(built_index)
    assert len(reopened.dense) == len(reopened.lexical) == len(reopened.passages)


def test_manifest_records_format_model_settings_and_documents(built_index: Index, docs_dir: Path, index_dir: Path) -> None:
    manifest = json.loads((index_dir / MANIFEST).read_text(encoding="utf-8"))
    assert manifest["format"] == FORMAT_VERSION
    settings = manifest["settings"]
    assert (settings["model"], settings["dim"], settings["passage_chars"], settings["overlap_chars"]) == ("hash-256", 256, 800, 200)
    assert manifest["counts"] == {"documents": len(DOCS), "passages": len(built_index.passages)}
    assert sorted(manifest["documents"]) == sorted(DOCS)
    all_ids: list[int] = []
    for doc_id, info in manifest["documents"].items():
        if doc_id.endswith(".txt"):  # the hash of the text; other formats hash the file's bytes
            assert info["sha256"] == hashlib.sha256(read_original(docs_dir, doc_id).encode("utf-8")).hexdigest()
        else:
            assert info["sha256"].endswith(":" + hashlib.sha256((docs_dir / doc_id).read_bytes()).hexdigest())
        ids = passage_ids(info)
        assert ids, f"{doc_id} has no passages"
        assert {built_index.passages[pid].doc for pid in ids} == {doc_id}
        assert [built_index.passages[pid].number for pid in ids] == list(range(len(ids)))
        all_ids.extend(ids)
    assert sorted(all_ids) == sorted(built_index.passages)
    for name in manifest["files"].values():
        assert (index_dir / name).exists()
    for name, check in manifest["checksums"].items():
        assert (index_dir / name).stat().st_size == check["bytes"]


def test_index_files_are_json_or_plain_arrays_never_pickles(built_index: Index, index_dir: Path) -> None:
    files = json.loads((index_dir / MANIFEST).read_text(encoding="utf-8"))["files"]
    lines = (index_dir / files["passages"]).read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(built_index.passages)
    assert all(isinstance(json.loads(line), dict) for line in lines)
    npys = sorted(index_dir.rglob("*.npy"))
    assert npys
    for npy in npys:
        np.load(npy, allow_pickle=False)


def test_every_passage_and_sentence_slices_back_to_the_file(built_index: Index, docs_dir: Path) -> None:
    for p in built_index.passages.values():
        original = read_original(docs_dir, p.doc)
        assert original[p.start : p.end] == p.text
        for s, e in p.sentences:
            assert p.start <= s < e <= p.end
            assert original[s:e] == original[s:e].strip()


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_every_hit_slices_back_to_the_file(built_index: Index, docs_dir: Path, mode: str) -> None:
    total = 0
    for question in QUESTIONS:
        for hit in built_index.search(question, k=5, mode=mode):
            assert read_original(docs_dir, hit.doc)[hit.start : hit.end] == hit.text
            total += 1
    assert total >= len(QUESTIONS)


def test_every_citation_slices_back_to_the_file(built_index: Index, docs_dir: Path) -> None:
    found = 0
    for question in QUESTIONS:
        answer = built_index.ask(question)
        for hit in answer.hits:
            assert read_original(docs_dir, hit.doc)[hit.start : hit.end] == hit.text
        for c in answer.citations:
            original = read_original(docs_dir, c.doc)
            assert original[c.start : c.end] == c.text
            assert original[c.passage_start : c.passage_end] == c.passage_text
            assert c.passage_start <= c.start < c.end <= c.passage_end
            assert c.start <= c.span_start <= c.span_end <= c.end
        found += answer.found
    assert found >= 1, "at least one of these plain questions must be answered"


def test_search_finds_the_right_document(built_index: Index) -> None:
    assert built_index.search("rye bread", k=3, mode="bm25")[0].doc == "history.txt"
    assert built_index.search("Jupiter largest planet", k=3, mode="dense")[0].doc == "planets.txt"
    top = built_index.search("Saturn rings of ice", k=3, mode="hybrid")[0]
    assert top.doc == "planets.txt"
    assert top.dense_rank is not None and top.sparse_rank is not None
    assert len(built_index.search("planet", k=2)) == 2


def test_search_rejects_bad_arguments(built_index: Index) -> None:
    with pytest.raises(QuestionError, match="empty"):
        built_index.search("  \n\t ")
    with pytest.raises(QuestionError):
        built_index.ask("")
    with pytest.raises(ValueError, match="k must be"):
        built_index.search("planet", k=0)
    with pytest.raises(ValueError, match="choose one of"):
        built_index.search("planet", mode="fuzzy")
    with pytest.raises(ValueError, match="choose sentence-words, sentence, convex, rrf or weighted"):
        built_index.search("planet", fusion="max")


def test_sentence_fusion_scores_each_passage_by_its_closest_sentence(built_index: Index) -> None:
    """The default fusion's sentence term is the best of the passage's stored sentence vectors."""
    question = "How long is a day on Mars?"
    query = built_index.encode_query(question)
    ids = set(built_index.passages)
    best = built_index.retriever.best_sentence_cosines(ids, query)
    assert set(best) == ids
    for pid in ids:
        rows = np.asarray(built_index.sentence_vectors[pid], dtype=np.float32)
        assert best[pid] == pytest.approx(float((rows @ query[0]).max()), abs=1e-5)
    assert built_index.retriever.best_sentence_cosines(ids, None) == {}
    hits = built_index.search(question, k=len(ids))
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    convex = built_index.search(question, k=len(ids), fusion="convex")
    assert {h.passage.id for h in hits} == {h.passage.id for h in convex}  # same candidates, other scores


def test_word_share_is_the_best_sentence_share_of_the_question_idf(built_index: Index) -> None:
    """The default fusion's word term: per passage, the IDF-weighted share of the question's words in its best sentence."""
    question = "How long is a day on Mars?"
    ids = set(built_index.passages)
    shares = built_index.retriever.best_sentence_word_shares(ids, Query.parse(question))
    assert set(shares) == ids and all(0.0 <= v <= 1.0 for v in shares.values())
    words = set(matching_tokens(question))
    weights = {t: max(built_index.lexical.idf(t), 0.1) for t in words}  # written out: the test checks the formula
    for pid in ids:
        p = built_index.passages[pid]
        sentences = [set(tokenize(p.text[s - p.start : e - p.start])) for s, e in p.sentences]
        expected = max(sum(w for t, w in weights.items() if t in s) for s in sentences) / sum(weights.values())
        assert shares[pid] == pytest.approx(expected)
    # "Mars is called the Red Planet." holds every word of this question: the whole share
    assert max(built_index.retriever.best_sentence_word_shares(ids, Query.parse("Why is Mars called the Red Planet?")).values()) == pytest.approx(1.0)
    assert built_index.retriever.best_sentence_word_shares(ids, Query.parse("the of and")) == {}  # only stop words: no term
    assert built_index.retriever.best_sentence_word_shares(ids, Query.parse(question)) == shares  # cached word sets give the same
    sentence = built_index.search(question, k=len(ids), fusion="sentence")
    assert {h.passage.id for h in built_index.search(question, k=len(ids))} == {h.passage.id for h in sentence}


# ---------------------------------------------------------------- incremental updates


def test_second_build_embeds_nothing_and_writes_nothing(built_index: Index, docs_dir: Path, index_dir: Path) -> None:
    before = {p: p.read_bytes() for p in index_dir.rglob("*") if p.is_file() and p.name != ".lock"}
    encoder = CountingEncoder()
    index, report = build(docs_dir, index_dir, encoder)
    assert (report.added, report.changed, report.removed) == ([], [], [])
    assert sorted(report.unchanged) == sorted(DOCS)
    assert report.passages_embedded == 0 and report.rebuilt_because is None
    assert not report.changed_anything
    assert encoder.calls == 0 and encoder.texts == 0
    after = {p: p.read_bytes() for p in index_dir.rglob("*") if p.is_file() and p.name != ".lock"}
    assert after == before
    assert index.passages == built_index.passages


def test_adding_a_document_embeds_only_it(built_index: Index, docs_dir: Path, index_dir: Path) -> None:
    new_text = "Neptune is the windiest planet. Its winds reach 2,100 kilometres per hour.\n"
    write_docs(docs_dir, {"more/neptune.txt": new_text})
    encoder = CountingEncoder()
    index, report = build(docs_dir, index_dir, encoder)
    assert report.added == ["more/neptune.txt"]
    assert (report.changed, report.removed) == ([], [])
    assert sorted(report.unchanged) == sorted(DOCS)
    new_ids = passage_ids(index.manifest["documents"]["more/neptune.txt"])
    assert report.passages_embedded == len(new_ids) == 1
    assert encoder.texts > 0
    assert all(normalized(t.removeprefix("neptune: ")) in normalized(new_text) for t in encoder.seen)  # after the title
    assert not set(new_ids) & set(built_index.passages), "new passages get new ids"
    assert index.search("windiest planet Neptune", k=1)[0].doc == "more/neptune.txt"
    assert Index.open(index_dir).passages == index.passages


def test_changing_a_document_re_embeds_only_it(built_index: Index, docs_dir: Path, index_dir: Path) -> None:
    old_ids = set(passage_ids(built_index.manifest["documents"]["history.txt"]))
    new_text = "The bakery opened in 1921.\n\nIt now sells sourdough and croissants to the whole town.\n"
    write_docs(docs_dir, {"history.txt": new_text})
    encoder = CountingEncoder()
    index, report = build(docs_dir, index_dir, encoder)
    assert report.changed == ["history.txt"]
    assert (report.added, report.removed) == ([], [])
    assert sorted(report.unchanged) == sorted(set(DOCS) - {"history.txt"})
    new_ids = passage_ids(index.manifest["documents"]["history.txt"])
    assert report.passages_embedded == len(new_ids) == 2
    assert encoder.seen, "the changed document went through the model"
    assert all(normalized(t.removeprefix("history: ")) in normalized(new_text) for t in encoder.seen)  # after the title
    assert not old_ids & set(index.passages), "the old passages are gone"
    assert len(index.dense) == len(index.lexical) == len(index.passages)
    history = [p.text for p in index.passages.values() if p.doc == "history.txt"]
    assert history == ["The bakery opened in 1921.", "It now sells sourdough and croissants to the whole town."]
    assert "rye" not in " ".join(h.text for h in index.search("rye bread Mill Street", k=10, mode="bm25"))
    reopened = Index.open(index_dir)
    assert reopened.passages == index.passages
    for p in reopened.passages.values():
        assert read_original(docs_dir, p.doc)[p.start : p.end] == p.text


def test_removing_a_document_embeds_nothing(built_index: Index, docs_dir: Path, index_dir: Path) -> None:
    (docs_dir / "history.txt").unlink()
    encoder = CountingEncoder()
    index, report = build(docs_dir, index_dir, encoder)
    assert report.removed == ["history.txt"]
    assert (report.added, report.changed) == ([], [])
    assert report.passages_embedded == 0 and encoder.texts == 0
    assert "history.txt" not in index.documents
    assert all(p.doc != "history.txt" for p in index.passages.values())
    assert all(h.doc != "history.txt" for h in index.search("bakery rye bread flour", k=10))
    reopened = Index.open(index_dir)
    assert reopened.manifest["counts"] == {"documents": 3, "passages": len(index.passages)}
    assert len(reopened.dense) == len(reopened.lexical) == len(index.passages)


def test_add_change_and_remove_in_one_update(built_index: Index, docs_dir: Path, index_dir: Path) -> None:
    (docs_dir / "guide" / "windows.txt").unlink()
    write_docs(docs_dir, {"planets.txt": "Pluto is a dwarf planet.\n", "new.md": "# New\n\nA brand new document.\n"})
    index = Index.open(index_dir, encoder=CountingEncoder())
    report = index.update(docs_dir)
    assert report.added == ["new.md"]
    assert report.changed == ["planets.txt"]
    assert report.removed == ["guide/windows.txt"]
    assert sorted(report.unchanged) == ["guide/setup.md", "history.txt"]
    assert report.passages_embedded == 2
    assert report.summary().startswith("1 added, 1 changed, 1 removed, 2 unchanged; 2 passages embedded")
    assert Index.open(index_dir).documents == ["guide/setup.md", "history.txt", "new.md", "planets.txt"]


@pytest.mark.parametrize(
    ("settings", "reason"),
    [
        (Settings(model="hash-256", passage_chars=120, overlap_chars=30), "passage_chars 800 -> 120"),
        (Settings(model="hash-256", passage_chars=800, overlap_chars=0), "overlap_chars 200 -> 0"),
    ],
)
def test_changing_chunking_settings_rebuilds_everything(
    built_index: Index, docs_dir: Path, index_dir: Path, settings: Settings, reason: str
) -> None:
    index, report = build(docs_dir, index_dir, settings=settings)
    assert report.rebuilt_because is not None and reason in report.rebuilt_because
    assert sorted(report.added) == sorted(DOCS) and report.unchanged == []
    assert report.passages_embedded == len(index.passages)
    assert Index.open(index_dir).settings == settings


def test_changing_the_model_rebuilds_everything(built_index: Index, docs_dir: Path, index_dir: Path) -> None:
    index, report = build(docs_dir, index_dir, HashEncoder(dim=64, name="hash-64"))
    assert report.rebuilt_because is not None and "model 'hash-256' -> 'hash-64'" in report.rebuilt_because
    assert report.passages_embedded == len(index.passages)
    reopened = Index.open(index_dir)
    assert reopened.manifest["settings"]["model"] == "hash-64"
    assert reopened.manifest["settings"]["dim"] == 64 == reopened.encoder.dim


def test_rebuild_flag_re_embeds_everything(built_index: Index, docs_dir: Path, index_dir: Path) -> None:
    index, report = build(docs_dir, index_dir, rebuild=True)
    assert report.rebuilt_because == "a rebuild was asked for"
    assert report.passages_embedded == len(built_index.passages)
    assert [p.text for p in index.passages.values()] == [p.text for p in built_index.passages.values()]


# ---------------------------------------------------------------- bad input


def test_missing_docs_folder_leaves_the_index_intact(built_index: Index, tmp_path: Path, index_dir: Path) -> None:
    manifest_before = (index_dir / MANIFEST).read_bytes()
    with pytest.raises(DocumentsError, match="not found"):
        Index.build(tmp_path / "nowhere", index_dir, encoder=HashEncoder())
    assert (index_dir / MANIFEST).read_bytes() == manifest_before
    assert search_snapshot(Index.open(index_dir)) == search_snapshot(built_index)


@pytest.mark.parametrize("contents", [{}, {"picture.png": "not text", "data.csv": "a,b"}, {"empty.txt": ""}])
def test_empty_docs_folder_leaves_the_index_intact(
    built_index: Index, tmp_path: Path, index_dir: Path, contents: dict[str, str]
) -> None:
    empty = tmp_path / "empty_docs"
    empty.mkdir()
    write_docs(empty, contents)
    manifest_before = (index_dir / MANIFEST).read_bytes()
    with pytest.raises(DocumentsError, match="no indexable documents") as info:
        Index.build(empty, index_dir, encoder=HashEncoder())
    assert "left unchanged" in str(info.value)
    assert (index_dir / MANIFEST).read_bytes() == manifest_before
    assert Index.open(index_dir).documents == sorted(DOCS)


def test_empty_docs_folder_without_an_index_creates_nothing(tmp_path: Path, index_dir: Path) -> None:
    (tmp_path / "empty_docs").mkdir()
    with pytest.raises(DocumentsError, match="no indexable documents"):
        Index.build(tmp_path / "empty_docs", index_dir, encoder=HashEncoder())
    assert not (index_dir / MANIFEST).exists()


@pytest.mark.parametrize("make_dir", [False, True])
def test_opening_a_missing_index_says_how_to_build_it(tmp_path: Path, make_dir: bool) -> None:
    where = tmp_path / "no_index"
    if make_dir:
        where.mkdir()
    with pytest.raises(IndexNotFoundError) as info:
        Index.open(where)
    assert "qa index" in str(info.value) and str(where) in str(info.value)


def test_other_format_version_is_a_mismatch(built_index: Index, docs_dir: Path, index_dir: Path) -> None:
    path = index_dir / MANIFEST
    manifest = json.loads(path.read_text(encoding="utf-8"))
    manifest["format"] = FORMAT_VERSION + 1
    path.write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(IndexMismatchError, match="format version") as info:
        Index.open(index_dir)
    assert "--rebuild" in str(info.value)
    _, report = build(docs_dir, index_dir)  # building over it starts afresh
    assert report.rebuilt_because is not None and "format version" in report.rebuilt_because
    assert Index.open(index_dir).manifest["format"] == FORMAT_VERSION


def test_opening_with_another_model_is_a_mismatch(built_index: Index, index_dir: Path) -> None:
    with pytest.raises(IndexMismatchError, match="hash-256") as info:
        Index.open(index_dir, encoder=HashEncoder(dim=256, name="hash-other"))
    assert "hash-other" in str(info.value)


@pytest.mark.parametrize("content", [b"", b"{not json", b"[1, 2, 3]", b'{"format": 1}'])
def test_unreadable_manifest_is_corrupt(built_index: Index, index_dir: Path, content: bytes) -> None:
    (index_dir / MANIFEST).write_bytes(content)
    with pytest.raises(IndexCorruptError, match="rebuild"):
        Index.open(index_dir)


def data_file(index_dir: Path, kind: str) -> Path:
    """The file of one kind (vectors, passages, lexical) the manifest points at."""
    name = json.loads((index_dir / MANIFEST).read_text(encoding="utf-8"))["files"][kind]
    path = index_dir / name
    return path / "vocab.json" if path.is_dir() else path


@pytest.mark.parametrize("kind", ["vectors", "passages", "lexical"])
@pytest.mark.parametrize("damage", ["truncate", "same_size_garbage", "missing"])
def test_damaged_data_file_is_corrupt(built_index: Index, index_dir: Path, kind: str, damage: str) -> None:
    path = data_file(index_dir, kind)
    data = path.read_bytes()
    if damage == "missing":
        path.unlink()
    elif damage == "truncate":
        path.write_bytes(data[: len(data) // 2])
    else:
        path.write_bytes(bytes(b ^ 0x5A for b in data))
    with pytest.raises(IndexCorruptError, match="rebuild"):
        Index.open(index_dir)


@pytest.mark.parametrize("kind", ["vectors", "passages", "lexical"])
def test_unverified_open_still_rejects_garbage(built_index: Index, index_dir: Path, kind: str) -> None:
    # verify=False skips the checksums, so each loader must catch garbage itself.
    path = data_file(index_dir, kind)
    data = path.read_bytes()
    junk = b"\xff\xfe\x00garbage"
    path.write_bytes(junk + data[len(junk) :])  # same size, so only the loader can notice
    with pytest.raises(IndexCorruptError, match="corrupted or truncated"):
        Index.open(index_dir, verify=False)


def test_altered_but_parseable_file_fails_its_checksum(built_index: Index, index_dir: Path) -> None:
    path = data_file(index_dir, "passages")
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("Jupiter", "Jupitex", 1), encoding="utf-8")  # same size, still valid JSON
    with pytest.raises(IndexCorruptError, match="checksum"):
        Index.open(index_dir)
    with pytest.raises(IndexCorruptError, match="checksum"):
        Index.open(index_dir, verify=True)


def test_every_listed_file_is_checked(built_index: Index, index_dir: Path) -> None:
    checksums = json.loads((index_dir / MANIFEST).read_text(encoding="utf-8"))["checksums"]
    assert len(checksums) >= 4
    for name in checksums:
        path = index_dir / name
        data = path.read_bytes()
        path.write_bytes(data[:-1])
        with pytest.raises(IndexCorruptError, match="truncated"):
            Index.open(index_dir)
        path.write_bytes(data)
    Index.open(index_dir)


def test_building_over_a_corrupted_index_starts_afresh(built_index: Index, docs_dir: Path, index_dir: Path) -> None:
    data_file(index_dir, "vectors").write_bytes(b"junk")
    index, report = build(docs_dir, index_dir)
    assert report.rebuilt_because is not None and "cannot be used" in report.rebuilt_because
    assert report.passages_embedded == len(index.passages)
    assert search_snapshot(Index.open(index_dir)) == search_snapshot(built_index)


# ---------------------------------------------------------------- interrupted builds


def change_everything(docs_dir: Path) -> None:
    write_docs(docs_dir, {"planets.txt": "Pluto is a dwarf planet.\n", "new.md": "# New\n\nA brand new document.\n"})
    (docs_dir / "history.txt").unlink()


def test_crash_before_the_manifest_is_replaced_keeps_the_old_index(
    built_index: Index, docs_dir: Path, index_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manifest_before = (index_dir / MANIFEST).read_bytes()
    entries_before = generation_entries(index_dir)
    snapshot = search_snapshot(built_index)
    change_everything(docs_dir)

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("simulated crash after the data files were written")

    monkeypatch.setattr(local, "commit_manifest", crash)
    with pytest.raises(RuntimeError, match="simulated crash"):
        Index.build(docs_dir, index_dir, encoder=HashEncoder())
    monkeypatch.undo()

    stale = generation_entries(index_dir) - entries_before
    assert stale, "the crashed build had written its data files"
    assert (index_dir / MANIFEST).read_bytes() == manifest_before
    old = Index.open(index_dir)
    assert search_snapshot(old) == snapshot
    assert old.ask(QUESTIONS[0]).hits

    index, report = build(docs_dir, index_dir)
    assert (report.added, report.changed, report.removed) == (["new.md"], ["planets.txt"], ["history.txt"])
    assert not stale & generation_entries(index_dir), "files of the crashed build are cleaned up"
    assert Index.open(index_dir).documents == ["guide/setup.md", "guide/windows.txt", "new.md", "planets.txt"]


KILL_MID_WRITE = textwrap.dedent(
    """
    import os, sys
    from qa.retrieval.encoder import HashEncoder
    from qa.index import Index

    real_replace, calls = os.replace, []

    def dying_replace(src, dst):
        calls.append(dst)
        if len(calls) == 3:  # third atomic rename: some data files written, manifest not yet
            os._exit(9)
        real_replace(src, dst)

    os.replace = dying_replace
    Index.build(sys.argv[1], sys.argv[2], encoder=HashEncoder())
    """
)


def test_process_killed_mid_write_leaves_the_old_index_working(built_index: Index, docs_dir: Path, index_dir: Path) -> None:
    manifest_before = (index_dir / MANIFEST).read_bytes()
    snapshot = search_snapshot(built_index)
    change_everything(docs_dir)
    proc = subprocess.run(
        [sys.executable, "-c", KILL_MID_WRITE, str(docs_dir), str(index_dir)],
        capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": str(Path(qa.index.__file__).parents[1])},
    )
    assert proc.returncode == 9, proc.stderr
    leftovers = [p for p in index_dir.rglob("*.tmp")]
    assert leftovers, "the kill happened in the middle of an atomic write"
    assert (index_dir / MANIFEST).read_bytes() == manifest_before
    assert search_snapshot(Index.open(index_dir)) == snapshot

    _, report = build(docs_dir, index_dir)
    assert (report.added, report.changed, report.removed) == (["new.md"], ["planets.txt"], ["history.txt"])
    assert list(index_dir.rglob("*.tmp")) == []
    reopened = Index.open(index_dir)
    assert reopened.documents == ["guide/setup.md", "guide/windows.txt", "new.md", "planets.txt"]
    files = set(reopened.manifest["files"].values())
    previous = set(json.loads(manifest_before)["files"].values())
    assert generation_entries(index_dir) <= files | previous


def test_retry_after_a_failed_update_on_the_same_object_writes_the_changes(
    built_index: Index, docs_dir: Path, index_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_docs(docs_dir, {"new.txt": "Neptune is the windiest planet.\n"})

    def disk_full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(local, "commit_manifest", disk_full)
    with pytest.raises(OSError):
        built_index.update(docs_dir)
    monkeypatch.undo()
    report = built_index.update(docs_dir)
    assert report.added == ["new.txt"]
    assert "new.txt" in Index.open(index_dir).documents


class _NoModel(HashEncoder):
    """An encoder that fails if anything is encoded: stands for a model that must not load."""

    def encode(self, texts, *, batch_size: int = 64, progress: bool = False):  # type: ignore[no-untyped-def]
        raise AssertionError(f"the model was asked to encode {len(texts)} texts")


def test_removing_a_document_never_calls_the_model(built_index: Index, docs_dir: Path, index_dir: Path) -> None:
    (docs_dir / "history.txt").unlink()
    report = Index.open(index_dir, encoder=_NoModel()).update(docs_dir)
    assert report.removed == ["history.txt"] and report.passages_embedded == 0
    assert "history.txt" not in Index.open(index_dir).documents


# ---------------------------------------------------------------- large builds commit in batches


def test_a_build_in_several_commits_equals_a_build_in_one(
    built_index: Index, docs_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(update, "COMMIT_CHARS", 1)  # one document per commit
    commits: list[int] = []
    real_commit = LocalBackend.commit

    def counting_commit(self: LocalBackend, data: IndexData, *args: object) -> None:
        commits.append(len(data.manifest["documents"]))
        real_commit(self, data, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(LocalBackend, "commit", counting_commit)
    index, report = build(docs_dir, tmp_path / "batched")
    assert commits == [1, 2, 3, 4], "each commit adds one more document"
    assert report.added == sorted(DOCS) and report.passages_embedded == len(index.passages)
    assert [p.text for p in index.passages.values()] == [p.text for p in built_index.passages.values()]
    assert search_snapshot(Index.open(tmp_path / "batched")) == search_snapshot(built_index)
    assert len(generation_entries(tmp_path / "batched")) == len(index.manifest["files"]), "intermediate files are gone"


def test_a_build_stopped_between_commits_resumes_where_it_stopped(
    docs_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(update, "COMMIT_CHARS", 1)
    index_dir = tmp_path / "stopped"
    real_apply, calls = update.apply_changes, []

    def stop_at_third(data, todo, removed, encoder, progress=False):  # type: ignore[no-untyped-def]
        calls.append([d.id for d in todo])
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real_apply(data, todo, removed, encoder, progress)

    monkeypatch.setattr(update, "apply_changes", stop_at_third)
    with pytest.raises(KeyboardInterrupt):
        Index.build(docs_dir, index_dir, encoder=HashEncoder())
    monkeypatch.setattr(update, "apply_changes", real_apply)
    assert Index.open(index_dir).documents == sorted(calls[0] + calls[1]), "the first two batches were committed"
    encoder = CountingEncoder()
    index, report = build(docs_dir, index_dir, encoder=encoder)
    assert sorted(report.added) == sorted(set(DOCS) - set(calls[0] + calls[1]))
    assert sorted(report.unchanged) == sorted(calls[0] + calls[1])
    assert index.documents == sorted(DOCS)


def test_a_format_2_index_opens_and_is_written_as_the_current_format(built_index: Index, docs_dir: Path, index_dir: Path) -> None:
    """Indexes of the previous format (each document listing its passage ids) need no rebuild."""
    path = index_dir / MANIFEST
    manifest = json.loads(path.read_text(encoding="utf-8"))
    for info in manifest["documents"].values():
        info["passages"] = list(passage_ids(info))
        del info["first"], info["count"]
    manifest["format"] = UPGRADABLE
    path.write_text(json.dumps(manifest), encoding="utf-8")
    old = Index.open(index_dir)
    assert old.passages == built_index.passages
    assert search_snapshot(old) == search_snapshot(built_index)
    write_docs(docs_dir, {"more/neptune.txt": "Neptune is the windiest planet.\n"})
    _, report = build(docs_dir, index_dir)
    assert report.added == ["more/neptune.txt"] and report.rebuilt_because is None and report.passages_embedded == 1
    written = json.loads(path.read_text(encoding="utf-8"))
    assert written["format"] == FORMAT_VERSION
    assert all("passages" not in info for info in written["documents"].values())


def test_a_format_2_list_that_is_not_a_run_of_ids_is_a_clear_error(built_index: Index, index_dir: Path) -> None:
    path = index_dir / MANIFEST
    manifest = json.loads(path.read_text(encoding="utf-8"))
    for info in manifest["documents"].values():
        info["passages"] = list(passage_ids(info))[::-1] + [0]
        del info["first"], info["count"]
    manifest["format"] = UPGRADABLE
    path.write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(IndexCorruptError, match="rebuild"):
        Index.open(index_dir)


def test_overlapping_passage_runs_are_a_clear_error(built_index: Index, index_dir: Path) -> None:
    path = index_dir / MANIFEST
    manifest = json.loads(path.read_text(encoding="utf-8"))
    first, second = list(manifest["documents"].values())[:2]
    second["first"] = first["first"]
    path.write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(IndexCorruptError, match="passage ids"):
        Index.open(index_dir)


def test_a_writer_that_waited_for_the_lock_starts_from_the_other_writer_s_commit(built_index: Index, docs_dir: Path,
                                                                                  index_dir: Path) -> None:
    """Two updates of one index: the one that opened it first but writes second must not embed the other's work again."""
    late = Index.open(index_dir)
    write_docs(docs_dir, {"more/neptune.txt": "Neptune is the windiest planet.\n"})
    first = Index.open(index_dir).update(docs_dir)
    assert first.added == ["more/neptune.txt"]
    encoder = CountingEncoder()
    late.encoder = encoder
    report = late.update(docs_dir)
    assert not report.changed_anything and report.passages_embedded == 0 and encoder.texts == 0
    assert "more/neptune.txt" in late.documents
    assert Index.open(index_dir).passages == late.passages
