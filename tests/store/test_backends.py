"""The same index on Milvus as in a folder: the same hits, scores and answers, through updates and rebuilds.

Every case runs on two real Milvus engines: Milvus Lite 2.5 (full-text BM25
inside Milvus) and the standalone server ``milvus==2.3.5`` (no full-text
search: BM25 is rebuilt in memory from the stored tokens), started once for
this module and stopped after it. The reference is the index folder
(FAISS + ``BM25Store``) built from the same documents with the same encoder.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any, Iterator

import pytest

from conftest import DOCS, REPO, SQUAD_SAMPLE, write_docs
from qa import Index
from qa.cli import main
from qa.errors import BackendError, IndexCorruptError, IndexNotFoundError
from qa.retrieval.encoder import HashEncoder
from qa.store import milvus
from qa.store.milvus import MilvusBackend, MilvusLocation
from qa.store.milvus_lease import LeaseTimes, WriterLease
from qa.textutil import tokenize

sys.path.insert(0, str(REPO / "scripts"))
import milvus_server  # noqa: E402

pytestmark = pytest.mark.milvus
QUESTIONS = [json.loads(line)["question"] for line in (SQUAD_SAMPLE / "qa.jsonl").read_text().splitlines()]
TINY_QUESTIONS = ["Which planet is largest?", "When did the war end?", "What is a dwarf planet?", "brand new document"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Milvus 2.3.5 standalone server for this module."""
    process, uri = milvus_server.start(tmp_path_factory.mktemp("milvus-server") / "data")
    yield uri
    milvus_server.stop(process)


@pytest.fixture(params=["lite", "server"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    name = f"t{uuid.uuid4().hex[:10]}"
    if request.param == "lite":
        return f"milvus-lite://{tmp_path}/milvus.db/{name}"
    # Strong: a test reads right after another client wrote (the default, Bounded, may lag a few seconds)
    return f"{request.getfixturevalue('server')}/{name}?consistency=Strong"


def snapshot(index: Index, questions: list[str]) -> list[Any]:
    """What a user sees: the hits of each mode (ids, rounded scores) and the answer with its citations.

    The engines sum inner products in different orders, so passages tied to 1e-7 (the hash
    encoder makes many) may come out either way round: hits with the same rounded score are
    listed by id, and of those tied with the last hit only the score is kept (which of them
    made the cut may differ).
    """
    out: list[Any] = []
    for q in questions:
        for mode in ("dense", "bm25", "hybrid"):
            hits = sorted(((round(h.score, 4), h.passage.id, h.doc) for h in index.search(q, k=5, mode=mode)),
                          key=lambda h: (-h[0], h[1]))
            last = hits[-1][0] if hits else None
            out.append([h if h[0] != last else (h[0],) for h in hits])
        answer = index.ask(q)
        out.append((answer.text, [(c.doc, c.start, c.end) for c in answer.citations]))
    return out


def passages_only(shot: list[Any]) -> list[Any]:
    """A snapshot without the scores: the passages found, and the answers."""
    return [[h[1:] for h in item] if isinstance(item, list) else item for item in shot]


def hits_only(shot: list[Any]) -> list[Any]:
    """Only which passages were found (no scores, no order, no answers)."""
    return [sorted(h[1:] for h in item) for item in shot if isinstance(item, list)]


def build(docs: Path, where: Path | str, **kwargs: Any) -> Index:
    return Index.build(docs, where, encoder=HashEncoder(), **kwargs)


def rows(backend: MilvusBackend, collection: str) -> int:
    return int(backend.client.query(collection, filter="", output_fields=["count(*)"], consistency_level="Strong")[0]["count(*)"])


def test_the_same_hits_scores_and_answers_as_the_index_folder(location: str, tmp_path: Path) -> None:
    local = build(SQUAD_SAMPLE / "docs", tmp_path / "local")
    remote = build(SQUAD_SAMPLE / "docs", location)
    expected = snapshot(local, QUESTIONS)
    assert snapshot(remote, QUESTIONS) == expected
    reopened = Index.open(location, encoder=HashEncoder())
    assert snapshot(reopened, QUESTIONS) == expected
    assert reopened.stats()["passages"] == local.stats()["passages"] == len(reopened.passages)
    words = {t for q in QUESTIONS for t in tokenize(q)} | {"zzzunknown"}
    assert {t: round(reopened.data.idf(t), 5) for t in words} == {t: round(local.data.idf(t), 5) for t in words}
    some = list(local.passages)[::17]
    assert [reopened.passages[pid] for pid in some] == [local.passages[pid] for pid in some]
    for pid in some:
        assert reopened.sentence_vectors[pid].shape == local.sentence_vectors[pid].shape
        assert abs(reopened.sentence_vectors[pid].astype(float) - local.sentence_vectors[pid].astype(float)).max() < 1e-3


def test_updates_keep_matching_the_folder_and_delete_by_document(location: str, tmp_path: Path) -> None:
    docs = write_docs(tmp_path / "docs", DOCS)
    local, remote = build(docs, tmp_path / "local"), build(docs, location)
    assert snapshot(remote, TINY_QUESTIONS) == snapshot(local, TINY_QUESTIONS)
    write_docs(docs, {"planets.txt": "Pluto is a dwarf planet. Jupiter is the largest planet.\n",
                      "new.md": "# New\n\nA brand new document.\n"})
    (docs / "history.txt").unlink()
    reports = []
    local = Index.build(docs, tmp_path / "local", encoder=HashEncoder())
    remote = Index.build(docs, location, encoder=HashEncoder(), on_report=reports.append)
    assert (reports[0].added, reports[0].changed, reports[0].removed) == (["new.md"], ["planets.txt"], ["history.txt"])
    assert snapshot(remote, TINY_QUESTIONS) == snapshot(local, TINY_QUESTIONS)
    reopened = Index.open(location, encoder=HashEncoder())
    assert snapshot(reopened, TINY_QUESTIONS) == snapshot(local, TINY_QUESTIONS)
    backend = reopened.data.backend
    assert isinstance(backend, MilvusBackend)
    files = reopened.manifest["files"]
    assert rows(backend, files["passages"]) == len(local.passages), "the old passages of changed and removed documents are gone"
    assert rows(backend, files["sentences"]) == sum(len(p.sentences) for p in local.passages.values())
    assert "history.txt" not in {p.doc for p in reopened.passages.values()}


def test_a_rebuild_writes_new_collections_moves_the_alias_and_drops_the_old_after_one_commit(location: str, tmp_path: Path) -> None:
    docs = write_docs(tmp_path / "docs", DOCS)
    first = build(docs, location)
    before = snapshot(first, TINY_QUESTIONS)
    old = set(first.manifest["files"].values())
    rebuilt = build(docs, location, rebuild=True)
    new = rebuilt.manifest["files"]
    assert set(new.values()).isdisjoint(old)
    backend = rebuilt.data.backend
    assert isinstance(backend, MilvusBackend)
    assert set(new.values()) | old <= set(backend.client.list_collections())
    assert snapshot(first, TINY_QUESTIONS) == before, "a reader of the old generation keeps working for one commit"
    if not backend.where.lite:  # Milvus Lite has no aliases
        assert backend.client.describe_alias(backend.where.name)["collection_name"] == new["passages"]
    assert snapshot(Index.open(location, encoder=HashEncoder()), TINY_QUESTIONS) == before
    write_docs(docs, {"new.md": "# New\n\nA brand new document.\n"})
    build(docs, location)
    assert not old & set(backend.client.list_collections()), "the commit after the rebuild dropped the old generation"


def test_a_failed_commit_removes_what_it_wrote(location: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    docs = write_docs(tmp_path / "docs", DOCS)
    index = build(docs, location)
    before = snapshot(index, TINY_QUESTIONS)
    write_docs(docs, {"planets.txt": "Pluto is a dwarf planet.\n", "new.md": "# New\n\nA brand new document.\n"})

    def fail(self: MilvusBackend, manifest: dict[str, Any], seq: int) -> None:
        raise RuntimeError("simulated failure before the manifest is published")

    monkeypatch.setattr(MilvusBackend, "_publish", fail)
    with pytest.raises(RuntimeError, match="simulated failure"):
        build(docs, location)
    monkeypatch.undo()
    reopened = Index.open(location, encoder=HashEncoder())
    assert snapshot(reopened, TINY_QUESTIONS) == before, "the same hits, scores and answers: nothing of the failed commit is left"
    backend = reopened.data.backend
    assert isinstance(backend, MilvusBackend)
    assert rows(backend, reopened.manifest["files"]["passages"]) == len(index.passages)


def test_a_killed_commit_keeps_the_old_passages_and_the_next_one_cleans_up(
    location: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    docs = write_docs(tmp_path / "docs", DOCS)
    before = snapshot(build(docs, location), TINY_QUESTIONS)
    build(docs, tmp_path / "local")  # the same history, in a folder
    write_docs(docs, {"planets.txt": "Pluto is a dwarf planet.\n", "new.md": "# New\n\nA brand new document.\n"})

    def killed(self: MilvusBackend, manifest: dict[str, Any], seq: int) -> None:
        raise RuntimeError("simulated kill before the manifest is published")

    monkeypatch.setattr(MilvusBackend, "_publish", killed)
    monkeypatch.setattr(MilvusBackend, "_roll_back", lambda self, *args: None)  # a killed process cleans nothing
    with pytest.raises(RuntimeError, match="simulated kill"):
        build(docs, location)
    monkeypatch.undo()
    # The killed commit's rows are never searched (ids past the manifest's next_id), but until the
    # next commit deletes them Milvus Lite counts them in its BM25 statistics: the same passages are
    # found, with other BM25 scores (so an answer near the no-answer threshold may change meanwhile).
    assert hits_only(snapshot(Index.open(location, encoder=HashEncoder()), TINY_QUESTIONS)) == hits_only(before)
    remote = build(docs, location)
    local = build(docs, tmp_path / "local")
    assert snapshot(remote, TINY_QUESTIONS) == snapshot(local, TINY_QUESTIONS)
    backend = remote.data.backend
    assert isinstance(backend, MilvusBackend)
    assert rows(backend, remote.manifest["files"]["passages"]) == len(local.passages), "the killed commit's rows are gone"
    words = {t for q in TINY_QUESTIONS for t in tokenize(q)}
    assert {t: round(remote.data.idf(t), 5) for t in words} == {t: round(local.data.idf(t), 5) for t in words}


def test_cli_builds_asks_and_reports_status_on_milvus(location: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    docs = write_docs(tmp_path / "docs", DOCS)
    assert main(["index", str(docs), "--index", location, "--model", "hash-256", "--quiet"]) == 0
    assert main(["ask", "Which planet is largest?", "--index", location, "--json"]) == 0
    reply = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert reply["citations"] and reply["citations"][0]["doc"] == "planets.txt"
    assert main(["status", "--index", location]) == 0
    assert "passages:" in capsys.readouterr().out
    other = write_docs(tmp_path / "other", {"x.txt": "Something else entirely.\n"})
    assert main(["index", str(other), "--index", location, "--model", "hash-256", "--quiet"]) == 2
    assert "was built from" in capsys.readouterr().err


# ---------------------------------------------------------------- bad locations, unreachable servers


@pytest.mark.parametrize("text", ["milvus://", "milvus://host:port/x", "milvus://h:1/bad-name", "milvus://h:1/a__b",
                                  "milvus-lite:///tmp/x/name", "milvus://h:1/x?consistency=sometimes",
                                  "milvus://h:1/x?index=LSH", "milvus://h:1/x?shards=0", "milvus://h:1/x?replicas=2&replicas=3",
                                  "milvus://h:1/x?colour=blue"])
def test_malformed_locations_are_one_clear_error(text: str) -> None:
    with pytest.raises(ValueError, match="milvus"):
        MilvusLocation.parse(text)
    with pytest.raises(BackendError):
        Index.open(text, encoder=HashEncoder())


def test_locations_parse_to_what_milvus_connects_to(tmp_path: Path) -> None:
    server = MilvusLocation.parse("milvus://db.example:19531/docs?consistency=strong")
    assert (server.uri, server.name, server.lite, server.consistency) == ("http://db.example:19531", "docs", False, "Strong")
    assert MilvusLocation.parse("milvus://db.example/docs").uri == "http://db.example:19530"
    lite = MilvusLocation.parse(f"milvus-lite://{tmp_path}/a.db/docs")
    assert (lite.uri, lite.name, lite.lite, lite.consistency) == (str(tmp_path / "a.db"), "docs", True, "Bounded")
    scaled = MilvusLocation.parse("milvus://h:1/docs?index=hnsw&shards=4&replicas=2")
    assert (scaled.vector_index, scaled.shards, scaled.replicas) == ("HNSW", 4, 2)


def test_an_unreachable_server_is_one_message_and_a_non_zero_exit(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setattr(milvus, "CONNECT_TIMEOUT", 1.0)
    where = f"milvus://127.0.0.1:{milvus_server.free_port()}/docs"
    assert main(["status", "--index", where]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot reach Milvus at " + where) and "Traceback" not in err
    docs = write_docs(tmp_path / "docs", DOCS)
    assert main(["index", str(docs), "--index", where, "--model", "hash-256", "--quiet"]) == 2
    assert "cannot reach Milvus" in capsys.readouterr().err


def test_opening_a_name_nothing_was_built_under_says_how_to_build_it(tmp_path: Path) -> None:
    with pytest.raises(IndexNotFoundError, match="qa index DOCS_FOLDER --index milvus-lite"):
        Index.open(f"milvus-lite://{tmp_path}/m.db/nothing", encoder=HashEncoder())


def test_a_manifest_naming_another_index_s_collections_is_refused(tmp_path: Path) -> None:
    docs = write_docs(tmp_path / "docs", DOCS)
    where = f"milvus-lite://{tmp_path}/m.db/mine"
    index = build(docs, where)
    backend = index.data.backend
    assert isinstance(backend, MilvusBackend)
    manifest = dict(index.manifest, files={"passages": "theirs__p_1", "sentences": "theirs__s_1"})
    backend._publish(manifest, int(manifest["commit_seq"]) + 1)
    with pytest.raises(IndexCorruptError, match="another index"):
        Index.open(where, encoder=HashEncoder())


def test_the_chat_opens_builds_and_updates_a_milvus_index(tmp_path: Path) -> None:
    from qa.app.web import load_index

    docs = write_docs(tmp_path / "docs", DOCS)
    where = f"milvus-lite://{tmp_path}/chat.db/docs"
    build(docs, where)  # with the hash encoder (the chat would build with the real model)
    first = load_index(docs, where)
    assert first.location == where and first.stats()["documents"] == len(DOCS)
    write_docs(docs, {"new.md": "# New\n\nA brand new document.\n"})
    again = load_index(docs, where)  # opened and brought up to date
    assert again.stats()["documents"] == len(DOCS) + 1
    assert again.ask("Which planet is largest?").citations[0].doc == "planets.txt"


def test_a_sharded_hnsw_index_on_the_server_finds_the_same_passages(server: str, tmp_path: Path) -> None:
    where = f"{server}/t{uuid.uuid4().hex[:10]}?index=HNSW&shards=2&replicas=1&consistency=Strong"
    remote = build(SQUAD_SAMPLE / "docs", where)
    local = build(SQUAD_SAMPLE / "docs", tmp_path / "local")
    backend = remote.data.backend
    assert isinstance(backend, MilvusBackend)
    described = backend.client.describe_collection(remote.manifest["files"]["passages"])
    assert described["num_shards"] == 2
    assert remote.dense.kind == "milvus-hnsw"
    # 147 passages: HNSW at ef 128 visits them all, so it is exact here (its recall at scale: bench/milvus_ann.py)
    assert passages_only(snapshot(remote, QUESTIONS[:6])) == passages_only(snapshot(local, QUESTIONS[:6]))


def test_a_milvus_lite_file_another_process_holds_is_one_clear_message(tmp_path: Path) -> None:
    import subprocess

    docs = write_docs(tmp_path / "docs", DOCS)
    where = f"milvus-lite://{tmp_path}/held.db/docs"
    build(docs, where)  # this process now holds the file
    done = subprocess.run([sys.executable, "-m", "qa", "status", "--index", where], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "Milvus Lite serves one process at a time" in done.stderr and "Traceback" not in done.stderr


def test_a_manifest_with_wrong_typed_values_is_refused_and_rebuild_repairs_it(tmp_path: Path) -> None:
    docs = write_docs(tmp_path / "docs", DOCS)
    where = f"milvus-lite://{tmp_path}/m.db/docs"
    index = build(docs, where)
    backend = index.data.backend
    assert isinstance(backend, MilvusBackend)
    seq = int(index.manifest["commit_seq"])
    backend._publish(dict(index.manifest, commit_seq="7"), seq + 1)
    with pytest.raises(IndexCorruptError, match="commit_seq"):
        Index.open(where, encoder=HashEncoder())
    backend._publish(dict(index.manifest, next_id="many"), seq + 2)
    with pytest.raises(IndexCorruptError, match="next_id"):
        Index.open(where, encoder=HashEncoder())
    reports = []
    repaired = Index.build(docs, where, encoder=HashEncoder(), on_report=reports.append)
    assert reports[0].rebuilt_because and "cannot be used" in reports[0].rebuilt_because
    assert repaired.stats()["documents"] == len(DOCS)
    assert Index.open(where, encoder=HashEncoder()).ask("Which planet is largest?").citations[0].doc == "planets.txt"
    names = set(backend.client.list_collections())
    assert {c for c in names if c.startswith("docs__p_")} == {repaired.manifest["files"]["passages"]}, "the broken generation is dropped"


QUICK = LeaseTimes(ttl=2.0, renew=0.4, settle=0.2, poll=0.1, wait=0.6)


def server_backend(server: str, name: str) -> MilvusBackend:
    backend = MilvusBackend(f"{server}/{name}?consistency=Strong")
    backend.lease_times = QUICK
    return backend


def test_two_writers_on_a_server_take_turns(server: str) -> None:
    name = f"t{uuid.uuid4().hex[:10]}"
    first, second = server_backend(server, name), server_backend(server, name)
    with first.writer_lock():
        with pytest.raises(BackendError, match="another writer .* is updating"):
            with second.writer_lock():
                pass
        time.sleep(QUICK.ttl + 0.5)  # past the first lease's ttl: only its renewals keep it
        with pytest.raises(BackendError, match="another writer"):
            with second.writer_lock():
                pass
    with second.writer_lock():  # released: the next writer takes it at once
        assert WriterLease(second).read()["token"] == second._lease.token  # type: ignore[index, union-attr]
    assert WriterLease(second).read() is None, "released leases are removed"


def test_the_lease_of_a_killed_writer_expires(server: str) -> None:
    backend = server_backend(server, f"t{uuid.uuid4().hex[:10]}")
    backend._ensure_meta()
    dead = {"token": "dead", "host": "elsewhere", "pid": 1, "expires": time.time() - 1}
    backend.call("write", "insert", backend.meta, [{"key": "lock", "value": json.dumps(dead), "v": [0.0, 0.0]}])
    with backend.writer_lock():
        assert WriterLease(backend).read()["token"] != "dead"  # type: ignore[index]


def test_a_writer_that_lost_its_lease_publishes_nothing(server: str, tmp_path: Path) -> None:
    docs = write_docs(tmp_path / "docs", DOCS)
    where = f"{server}/t{uuid.uuid4().hex[:10]}?consistency=Strong"
    before = snapshot(build(docs, where), TINY_QUESTIONS)
    write_docs(docs, {"new.md": "# New\n\nA brand new document.\n"})
    index = Index.open(where, encoder=HashEncoder())
    backend = index.data.backend
    assert isinstance(backend, MilvusBackend)
    original = backend._insert_passages

    def taken_meanwhile(*args: Any, **kwargs: Any) -> None:  # another writer takes the lease while this one writes
        original(*args, **kwargs)
        other = {"token": "other", "host": "elsewhere", "pid": 1, "expires": time.time() + 60}
        backend.call("write", "upsert", backend.meta, [{"key": "lock", "value": json.dumps(other), "v": [0.0, 0.0]}])

    backend._insert_passages = taken_meanwhile  # type: ignore[method-assign]
    with pytest.raises(BackendError, match="lost the writer's lease"):
        index.update(docs)
    reopened = Index.open(where, encoder=HashEncoder())
    assert "new.md" not in reopened.documents
    assert snapshot(reopened, TINY_QUESTIONS) == before


def test_a_writer_that_waited_starts_from_the_other_writer_s_commit(location: str, tmp_path: Path) -> None:
    """Its passage ids would otherwise repeat the other writer's (Milvus keeps both rows of a repeated id)."""
    docs = write_docs(tmp_path / "docs", DOCS)
    build(docs, location)
    late = Index.open(location, encoder=HashEncoder())
    write_docs(docs, {"new.md": "# New\n\nA brand new document.\n"})
    assert Index.open(location, encoder=HashEncoder()).update(docs).added == ["new.md"]
    report = late.update(docs)
    assert not report.changed_anything and report.passages_embedded == 0
    backend = late.data.backend
    assert isinstance(backend, MilvusBackend)
    assert rows(backend, late.manifest["files"]["passages"]) == len(late.passages) == len(build(docs, tmp_path / "local").passages)
