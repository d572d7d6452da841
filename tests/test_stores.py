"""Vector store, lexical store and fusion, each on its own."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from qa.dense import FaissStore
from qa.errors import IndexCorruptError
from qa.fusion import RRF_K, Mode, rrf, weighted
from qa.lexical import BM25Store


def unit_rows(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    x = rng.standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def brute_force(vectors: np.ndarray, ids: np.ndarray, queries: np.ndarray, k: int) -> list[list[tuple[int, float]]]:
    scores = queries @ vectors.T
    out = []
    for row in scores:
        order = np.argsort(-row, kind="stable")[:k]
        out.append([(int(ids[i]), float(row[i])) for i in order])
    return out


def assert_same_results(got: list[list[tuple[int, float]]], expected: list[list[tuple[int, float]]]) -> None:
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert [i for i, _ in g] == [i for i, _ in e]
        np.testing.assert_allclose([s for _, s in g], [s for _, s in e], rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------- FaissStore


def test_faiss_store_matches_numpy_brute_force() -> None:
    rng = np.random.default_rng(7)
    vectors = unit_rows(rng, 300, 32)
    ids = np.arange(300, dtype=np.int64) * 3 + 1000  # sparse, non-contiguous ids
    queries = unit_rows(rng, 8, 32)
    store = FaissStore(32)
    store.add(ids.tolist(), vectors)
    assert len(store) == 300
    assert_same_results(store.search(queries, 10), brute_force(vectors, ids, queries, 10))


def test_faiss_store_remove_then_search_matches_brute_force_on_the_rest() -> None:
    rng = np.random.default_rng(11)
    vectors = unit_rows(rng, 120, 16)
    ids = np.arange(120, dtype=np.int64)
    store = FaissStore(16)
    store.add(ids.tolist(), vectors)
    removed = set(range(0, 120, 3))
    store.remove(sorted(removed))
    keep = np.array([i not in removed for i in ids])
    queries = unit_rows(rng, 5, 16)
    assert len(store) == 80
    assert_same_results(store.search(queries, 15), brute_force(vectors[keep], ids[keep], queries, 15))


def test_faiss_store_save_load_round_trip(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    vectors = unit_rows(rng, 50, 8)
    store = FaissStore(8)
    store.add(list(range(100, 150)), vectors)
    store.remove([100, 101])
    store.save(tmp_path / "v.faiss")
    loaded = FaissStore.load(tmp_path / "v.faiss", 8)
    queries = unit_rows(rng, 4, 8)
    assert len(loaded) == 48
    assert_same_results(loaded.search(queries, 48), store.search(queries, 48))
    assert [p.name for p in tmp_path.iterdir()] == ["v.faiss"], "no temporary file is left behind"


def test_faiss_store_k_larger_than_store_and_empty_store() -> None:
    store = FaissStore(4)
    query = np.eye(4, dtype=np.float32)[:1]
    assert store.search(query, 5) == [[]]
    store.add([7, 8], np.eye(4, dtype=np.float32)[:2])
    assert [i for i, _ in store.search(query, 10)[0]] == [7, 8]
    assert store.search(query, 0) == [[]]


def test_faiss_store_rejects_bad_shapes() -> None:
    store = FaissStore(4)
    with pytest.raises(ValueError, match=r"shape \(n, 4\)"):
        store.add([1], np.zeros((1, 5), dtype=np.float32))
    with pytest.raises(ValueError, match="2 ids for 1 vectors"):
        store.add([1, 2], np.zeros((1, 4), dtype=np.float32))


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_faiss_store_corrupted_file_raises_index_corrupt(tmp_path: Path, damage: str) -> None:
    path = tmp_path / "v.faiss"
    store = FaissStore(8)
    store.add(list(range(20)), unit_rows(np.random.default_rng(0), 20, 8))
    store.save(path)
    data = path.read_bytes()
    path.write_bytes({"truncate": data[: len(data) // 2], "garbage": b"\xde\xad\xbe\xef" * 64, "empty": b""}[damage])
    with pytest.raises(IndexCorruptError, match="rebuild"):
        FaissStore.load(path, 8)


def test_faiss_store_wrong_dimension_raises_index_corrupt(tmp_path: Path) -> None:
    store = FaissStore(8)
    store.save(tmp_path / "v.faiss")
    with pytest.raises(IndexCorruptError, match="dimension 8"):
        FaissStore.load(tmp_path / "v.faiss", 16)


# ---------------------------------------------------------------- BM25Store

TEXTS = {
    10: "The cat sat on the mat.",
    11: "Dogs bark loudly at night.",
    12: "A cat and a dog play together; the cat wins.",
    13: "Bread is baked every morning in the bakery.",
}


def bm25_store() -> BM25Store:
    store = BM25Store()
    store.add(list(TEXTS), list(TEXTS.values()))
    return store


def test_bm25_search_ranks_matching_passages_best_first() -> None:
    store = bm25_store()
    results = store.search("cat", 10)
    assert [pid for pid, _ in results] == [12, 10]  # two mentions beat one
    assert all(score > 0 for _, score in results)
    assert results[0][1] > results[1][1]
    assert [pid for pid, _ in store.search("baking bread", 10)] == [13]  # stemmed: baking ~ baked


def test_bm25_search_with_no_known_word_finds_nothing() -> None:
    store = bm25_store()
    assert store.search("zebra quantum", 5) == []
    assert store.search("the and of", 5) == []  # stop words only
    assert BM25Store().search("cat", 5) == []


def test_bm25_k_limits_results() -> None:
    store = bm25_store()
    assert len(store.search("cat dog bark bread", 2)) == 2


def test_bm25_remove_and_add() -> None:
    store = bm25_store()
    store.remove([12])
    assert len(store) == 3
    assert [pid for pid, _ in store.search("cat", 10)] == [10]
    store.add([20], ["A kitten is a young cat, cat, cat."])
    assert [pid for pid, _ in store.search("cat", 10)][0] == 20
    store.remove([999])  # unknown ids are ignored
    assert len(store) == 4


def test_bm25_idf() -> None:
    store = bm25_store()
    n = len(TEXTS)
    # "cat" is in 2 of 4 passages, "bark" in 1.
    assert store.idf("cat") == pytest.approx(math.log(1 + (n - 2 + 0.5) / (2 + 0.5)))
    assert store.idf("bark") == pytest.approx(math.log(1 + (n - 1 + 0.5) / (1 + 0.5)))
    assert store.idf("bark") > store.idf("cat")
    assert store.idf("zebra") == pytest.approx(math.log(1 + (n + 0.5) / 0.5))  # unseen: rarest possible
    assert store.idf("zebra") > store.idf("bark")
    assert BM25Store().idf("cat") == 0.0


def test_bm25_save_load_round_trip(tmp_path: Path) -> None:
    store = bm25_store()
    store.remove([11])
    store.save(tmp_path / "lex")
    loaded = BM25Store.load(tmp_path / "lex")
    assert len(loaded) == 3
    for query in ("cat", "bread bakery", "dogs bark", "cat dog"):
        assert loaded.search(query, 10) == store.search(query, 10)
    assert loaded.idf("cat") == store.idf("cat")
    loaded.add([30], ["Dogs bark at the cat."])  # a loaded store keeps growing
    assert [pid for pid, _ in loaded.search("bark", 10)] == [30]


def test_bm25_saved_files_are_not_pickles(tmp_path: Path) -> None:
    bm25_store().save(tmp_path / "lex")
    for npy in sorted((tmp_path / "lex").glob("*.npy")):
        np.load(npy, allow_pickle=False)  # raises if an object array were stored
    assert sorted(p.name for p in (tmp_path / "lex").iterdir()) == ["ids.npy", "offsets.npy", "tokens.npy", "vocab.json"]


@pytest.mark.parametrize("name", ["vocab.json", "ids.npy", "offsets.npy", "tokens.npy"])
@pytest.mark.parametrize("damage", ["truncate", "empty", "missing"])
def test_bm25_corrupted_files_raise_index_corrupt(tmp_path: Path, name: str, damage: str) -> None:
    folder = tmp_path / "lex"
    bm25_store().save(folder)
    path = folder / name
    if damage == "missing":
        path.unlink()
    else:
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 2] if damage == "truncate" else b"")
    with pytest.raises(IndexCorruptError, match="rebuild"):
        BM25Store.load(folder)


def test_bm25_out_of_range_token_ids_raise_index_corrupt(tmp_path: Path) -> None:
    folder = tmp_path / "lex"
    bm25_store().save(folder)
    (folder / "vocab.json").write_text('["cat"]', encoding="utf-8")
    with pytest.raises(IndexCorruptError, match="out of range"):
        BM25Store.load(folder)


# ---------------------------------------------------------------- fusion


def test_rrf_exact_order_and_scores() -> None:
    dense = [(1, 0.9), (2, 0.8), (3, 0.7)]
    sparse = [(3, 5.0), (1, 4.0), (4, 1.0)]
    fused = rrf([dense, sparse])
    assert [i for i, _ in fused] == [1, 3, 2, 4]
    expected = {1: 1 / 61 + 1 / 62, 3: 1 / 63 + 1 / 61, 2: 1 / 62, 4: 1 / 63}
    assert dict(fused) == pytest.approx(expected)
    assert RRF_K == 60


def test_rrf_ignores_scores_and_breaks_ties_by_id() -> None:
    assert [i for i, _ in rrf([[(5, 100.0)], [(2, 0.001)]])] == [2, 5]
    assert rrf([[(1, 1.0), (2, 0.5)]], k=0) == [(1, 1.0), (2, 0.5)]
    assert rrf([[], []]) == []


def test_weighted_exact_order_and_scores() -> None:
    dense = [(1, 10.0), (2, 5.0), (3, 0.0)]
    sparse = [(3, 2.0), (2, 1.0)]
    fused = weighted([dense, sparse], [0.6, 0.4])
    assert [i for i, _ in fused] == [1, 3, 2]
    assert dict(fused) == pytest.approx({1: 0.6, 3: 0.4, 2: 0.3})


def test_weighted_skips_empty_lists_and_checks_lengths() -> None:
    fused = weighted([[], [(4, 3.0), (5, 1.0)]], [0.6, 0.4])
    assert [i for i, _ in fused] == [4, 5]
    assert dict(fused) == pytest.approx({4: 0.4, 5: 0.0})
    with pytest.raises(ValueError):
        weighted([[(1, 1.0)]], [0.5, 0.5])


@pytest.mark.parametrize(
    ("value", "expected"),
    [("hybrid", Mode.HYBRID), ("DENSE", Mode.DENSE), ("bm25", Mode.BM25), ("keyword", Mode.BM25),
     ("semantic", Mode.DENSE), (Mode.BM25, Mode.BM25)],
)
def test_mode_from_str(value: str | Mode, expected: Mode) -> None:
    assert Mode.from_str(value) is expected


def test_mode_from_str_lists_valid_values() -> None:
    with pytest.raises(ValueError, match="choose one of: hybrid, dense, bm25") as info:
        Mode.from_str("fuzzy")
    assert "'fuzzy'" in str(info.value)
