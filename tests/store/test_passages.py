"""Passages and their sentence vectors on disk: the table round trip, changes, and damaged files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from qa.errors import IndexCorruptError
from qa.store.passages import read_passages, read_sentence_vectors, write_passages, write_sentence_vectors
from qa.types import Passage


def sample_passages(n: int, first_id: int = 0) -> dict[int, Passage]:
    out = {}
    for i in range(n):
        pid = first_id + 2 * i
        text = f"Passage {pid} says “hello”.\nSecond line é."
        out[pid] = Passage(pid, f"doc{pid % 3}.md", i, 10 * i, 10 * i + len(text), text, ((10 * i, 10 * i + 5), (10 * i + 6, 10 * i + 9))[: 1 + pid % 2],
                           page=pid if pid % 3 == 0 else None, section=("Intro", f"Part {pid}") if pid % 2 else ())
    return out


def write_table(folder: Path, passages, vectors, name: str = "a"):  # type: ignore[no-untyped-def]
    write_passages(folder / f"passages-{name}.jsonl", passages, folder / f"passages-{name}.table.npy")
    write_sentence_vectors(folder / f"sentences-{name}.npy", passages, vectors, 4)
    table = read_passages(folder / f"passages-{name}.jsonl", folder / f"passages-{name}.table.npy")
    return table, read_sentence_vectors(folder / f"sentences-{name}.npy", table, 4)


def test_passage_table_round_trip_and_changes(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    passages = sample_passages(40)
    vectors = {pid: rng.standard_normal((len(p.sentences), 4)).astype(np.float16) for pid, p in passages.items()}
    table, sentence_vectors = write_table(tmp_path, passages, vectors)
    assert table == passages and len(table) == 40 and list(table) == sorted(passages)
    assert 2 in table and 3 not in table and "2" not in table
    for pid in passages:
        assert np.array_equal(sentence_vectors[pid], vectors[pid])
    # what qa.store.update.apply_changes does: delete stale passages, add new ones
    for pid in (0, 2, 40):
        del table[pid]
        sentence_vectors.pop(pid, None)
    new = sample_passages(5, first_id=1001)
    new[20] = Passage(20, "x.txt", 0, 0, 8, "replaced", ((0, 8),))  # replaces a passage on disk
    table.update(new)
    new_vectors = {pid: rng.standard_normal((len(p.sentences), 4)).astype(np.float16) for pid, p in new.items()}
    sentence_vectors.update(new_vectors)
    expected = {pid: p for pid, p in passages.items() if pid not in (0, 2, 40)} | new
    expected_vectors = {pid: v for pid, v in vectors.items() if pid not in (0, 2, 40)} | new_vectors
    assert table == expected and list(table) == sorted(expected)
    with pytest.raises(KeyError):
        table[0]
    with pytest.raises(KeyError):
        del table[0]
    table2, vectors2 = write_table(tmp_path, table, sentence_vectors, "b")  # copies unchanged runs as bytes
    assert table2 == expected
    for pid in expected:
        assert np.array_equal(vectors2[pid], expected_vectors[pid])
    for line in (tmp_path / "passages-b.jsonl").read_text(encoding="utf-8").splitlines():
        assert json.loads(line)["id"] in expected


@pytest.mark.parametrize("damage", ["swap_lines", "table_size", "truncate", "garbage_middle"])
def test_damaged_passage_files_raise_index_corrupt(tmp_path: Path, damage: str) -> None:
    passages = sample_passages(30)
    vectors = {pid: np.ones((len(p.sentences), 4), np.float16) for pid, p in passages.items()}
    write_table(tmp_path, passages, vectors)
    path = tmp_path / "passages-a.jsonl"
    lines = path.read_bytes().splitlines(keepends=True)
    if damage == "swap_lines":  # two lines of equal length: the table still fits, the ids do not
        i, j = next((i, j) for i in range(len(lines)) for j in range(i + 1, len(lines)) if len(lines[i]) == len(lines[j]))
        lines[i], lines[j] = lines[j], lines[i]
        path.write_bytes(b"".join(lines))
    elif damage == "table_size":
        table = np.load(tmp_path / "passages-a.table.npy")
        np.save(tmp_path / "passages-a.table.npy", table[:-2])
    elif damage == "truncate":
        path.write_bytes(b"".join(lines)[:-10])
    else:
        data = bytearray(path.read_bytes())
        middle = sum(len(x) for x in lines[:15]) + 3
        data[middle : middle + 4] = b"\x00\x00\x00\x00"
        path.write_bytes(bytes(data))
    with pytest.raises(IndexCorruptError, match="corrupted or truncated"):
        table = read_passages(path, tmp_path / "passages-a.table.npy")
        [table[pid] for pid in table]  # a damaged line in the middle is found when it is read
