"""Vector store, lexical store and fusion, each on its own."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from qa.retrieval.dense import RETRAIN_GROWTH, FaissStore, cells_for
from qa.errors import IndexCorruptError
from qa.retrieval.fusion import (
    DENSE_WEIGHT,
    RRF_K,
    SENTENCE_WEIGHTS,
    SENTENCE_WORDS_WEIGHTS,
    Mode,
    convex,
    rrf,
    sentence_convex,
    sentence_words,
    weighted,
)
from qa.retrieval.lexical import FILES as LEXICAL_FILES
from qa.retrieval.lexical import BM25Store


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
    assert sorted(p.name for p in (tmp_path / "lex").iterdir()) == sorted(LEXICAL_FILES)


@pytest.mark.parametrize("name", LEXICAL_FILES)
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


def test_convex_exact_scores() -> None:
    fused = convex([(1, 0.8), (2, 0.5)], [(2, 4.0), (3, 2.0)])
    w = DENSE_WEIGHT
    assert dict(fused) == pytest.approx({1: w * 0.8, 2: w * 0.5 + (1 - w), 3: (1 - w) * 0.5})
    assert [i for i, _ in fused] == sorted(dict(fused), key=lambda i: -dict(fused)[i])


def test_sentence_convex_exact_scores_and_fallbacks() -> None:
    wp, ws, wb = SENTENCE_WEIGHTS
    dense = [(1, 0.6), (2, 0.5)]
    sparse = [(2, 4.0), (3, 2.0)]
    # 3 is only a BM25 hit (passage cosine 0); 2 has no sentence vectors: its passage cosine stands in
    fused = dict(sentence_convex(dense, sparse, {1: 0.9, 3: 0.7}))
    assert fused == pytest.approx({1: wp * 0.6 + ws * 0.9, 2: wp * 0.5 + ws * 0.5 + wb, 3: ws * 0.7 + wb * 0.5})
    assert sum(SENTENCE_WEIGHTS) == pytest.approx(1.0)


def test_sentence_convex_lets_one_close_sentence_lift_a_passage() -> None:
    """Same passage cosine and BM25, but one passage holds a sentence much closer to the question."""
    dense = [(1, 0.55), (2, 0.54)]
    fused = sentence_convex(dense, [], {1: 0.56, 2: 0.85})
    assert [i for i, _ in fused] == [2, 1]
    assert sentence_convex([], [], {}) == []


def test_sentence_words_exact_scores() -> None:
    wp, ws, wb, ww = SENTENCE_WORDS_WEIGHTS
    dense = [(1, 0.6), (2, 0.5)]
    sparse = [(2, 4.0), (3, 2.0)]
    # 1 has no word share (0); 2 has no sentence vectors: its passage cosine stands in
    fused = dict(sentence_words(dense, sparse, {1: 0.9, 3: 0.7}, {2: 0.5, 3: 1.0}))
    assert fused == pytest.approx({1: wp * 0.6 + ws * 0.9, 2: wp * 0.5 + ws * 0.5 + wb + ww * 0.5,
                                   3: ws * 0.7 + wb * 0.5 + ww})
    assert sum(SENTENCE_WORDS_WEIGHTS) == pytest.approx(1.0)
    assert sentence_words([], [], {}, {}) == []


def test_sentence_words_lifts_the_passage_whose_one_sentence_holds_the_question_words() -> None:
    """Same cosines and BM25: the passage with one sentence holding most of the question's words wins."""
    dense = [(1, 0.55), (2, 0.55)]
    sparse = [(1, 3.0), (2, 3.0)]
    fused = sentence_words(dense, sparse, {1: 0.6, 2: 0.6}, {1: 0.3, 2: 0.9})
    assert [i for i, _ in fused] == [2, 1]


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


# ---------------------------------------------------------------- FaissStore: exact -> IVF by size


def test_cells_for_grows_with_the_store_and_keeps_40_vectors_per_cell() -> None:
    assert cells_for(10) == 1
    assert cells_for(1000) == 25  # 4 * sqrt(1000) ~ 128 cells would hold 8 vectors each
    assert cells_for(1_000_000) == 4096
    sizes = [cells_for(n) for n in (10_000, 100_000, 1_000_000, 10_000_000)]
    assert sizes == sorted(sizes)


def test_faiss_store_switches_to_ivf_past_its_limit_and_stays_correct(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    vectors = unit_rows(rng, 1200, 16)
    ids = np.arange(1200, dtype=np.int64) * 7 + 3
    queries = unit_rows(rng, 6, 16)
    # nprobe >= cells makes IVF search every cell, i.e. exact: results must equal brute force.
    store = FaissStore(16, exact_limit=400, nprobe=10_000)
    store.add(ids[:400].tolist(), vectors[:400])
    assert store.kind == "exact" and not store.is_approximate
    store.add(ids[400:].tolist(), vectors[400:])  # crosses the limit: trains IVF on what it holds
    assert store.is_approximate and store.kind == f"ivf{cells_for(1200)}"
    assert len(store) == 1200
    assert_same_results(store.search(queries, 10), brute_force(vectors, ids, queries, 10))

    removed = ids[::3]
    store.remove(removed.tolist())
    extra = unit_rows(rng, 50, 16)
    extra_ids = np.arange(50, dtype=np.int64) + 100_000
    store.add(extra_ids.tolist(), extra)
    keep = ~np.isin(ids, removed)
    all_vectors, all_ids = np.concatenate([vectors[keep], extra]), np.concatenate([ids[keep], extra_ids])
    assert store.is_approximate and len(store) == len(all_ids)
    assert_same_results(store.search(queries, 20), brute_force(all_vectors, all_ids, queries, 20))
    got_ids, got_vectors = store.vectors()
    order = np.argsort(all_ids)
    assert np.array_equal(got_ids, all_ids[order]) and np.allclose(got_vectors, all_vectors[order])

    store.save(tmp_path / "v.faiss")
    loaded = FaissStore.load(tmp_path / "v.faiss", 16, nprobe=10_000)
    assert loaded.kind == store.kind and len(loaded) == len(store)
    assert_same_results(loaded.search(queries, 20), store.search(queries, 20))
    loaded.add([555_555], queries[:1])  # a loaded IVF store keeps growing
    assert loaded.search(queries[:1], 1)[0][0][0] == 555_555


def test_faiss_store_ivf_with_few_probes_finds_near_duplicates() -> None:
    rng = np.random.default_rng(9)
    vectors = unit_rows(rng, 2000, 32)
    store = FaissStore(32, exact_limit=500, nprobe=2)
    store.add(list(range(2000)), vectors)
    assert store.is_approximate
    noisy = vectors[:50] + 0.05 * unit_rows(rng, 50, 32)
    found = [hits[0][0] for hits in store.search(noisy / np.linalg.norm(noisy, axis=1, keepdims=True), 1)]
    assert found == list(range(50))  # each vector's own cell is always probed


def test_faiss_store_goes_back_to_exact_when_it_shrinks() -> None:
    rng = np.random.default_rng(2)
    vectors = unit_rows(rng, 600, 8)
    store = FaissStore(8, exact_limit=400, nprobe=10_000)
    store.add(list(range(600)), vectors)
    assert store.is_approximate
    store.remove(list(range(300)))
    assert store.is_approximate  # 300 >= half the limit: stays IVF
    store.remove(list(range(300, 450)))
    assert store.kind == "exact" and len(store) == 150
    queries = unit_rows(rng, 4, 8)
    ids = np.arange(450, 600, dtype=np.int64)
    assert_same_results(store.search(queries, 10), brute_force(vectors[450:], ids, queries, 10))


def test_faiss_store_retrains_ivf_after_growing_far_past_its_training_size() -> None:
    rng = np.random.default_rng(4)
    store = FaissStore(8, exact_limit=200, nprobe=10_000)
    store.add(list(range(201)), unit_rows(rng, 201, 8))
    cells = store.kind
    grown = 201 * RETRAIN_GROWTH
    store.add(list(range(1000, 1000 + grown - 201)), unit_rows(rng, grown - 201, 8))
    assert store.kind == cells, "not yet grown RETRAIN_GROWTH-fold"
    store.add(list(range(100_000, 100_100)), unit_rows(rng, 100, 8))
    assert store.is_approximate and store.kind == f"ivf{cells_for(grown + 100)}" != cells
    assert len(store) == grown + 100
    queries = unit_rows(rng, 3, 8)
    vectors_ids, vectors = store.vectors()
    assert_same_results(store.search(queries, 5), brute_force(vectors, vectors_ids, queries, 5))


def test_faiss_store_rejects_a_foreign_index_type(tmp_path: Path) -> None:
    import faiss

    faiss.write_index(faiss.IndexFlatL2(8), str(tmp_path / "v.faiss"))
    with pytest.raises(IndexCorruptError, match="not a docqa index"):
        FaissStore.load(tmp_path / "v.faiss", 8)


# ---------------------------------------------------------------- BM25Store against bm25s


def random_corpus(rng: np.random.Generator, n: int) -> list[str]:
    words = ["alpha", "beta", "gamma", "delta", "river", "mountain", "bread", "castle", "engine", "violin", "tiger", "planet"]
    return [" ".join(rng.choice(words, size=int(rng.integers(1, 30)))) for _ in range(n)]


def bm25s_scores(texts: list[str], query: str) -> np.ndarray:
    import bm25s
    from bm25s.tokenization import Tokenized

    from qa.textutil import tokenize

    vocab: dict[str, int] = {}
    rows = [[vocab.setdefault(t, len(vocab)) for t in tokenize(text)] for text in texts]
    retriever = bm25s.BM25()
    retriever.index(Tokenized(ids=rows, vocab=vocab), show_progress=False)
    ids = [vocab[t] for t in tokenize(query) if t in vocab]
    return retriever.get_scores(ids)


def test_bm25_scores_equal_bm25s_after_adds_and_removes(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    texts = random_corpus(rng, 300)
    store = BM25Store()
    store.add(list(range(300)), texts)
    store.remove(list(range(0, 300, 4)))
    store.add([1000, 1001], ["tiger tiger river", "violin planet castle castle"])
    kept = {i: t for i, t in enumerate(texts) if i % 4} | {1000: "tiger tiger river", 1001: "violin planet castle castle"}
    for candidate in (store, None):
        if candidate is None:
            store.save(tmp_path / "lex")
            candidate = BM25Store.load(tmp_path / "lex")
        for query in ("tiger", "river bread", "castle castle engine", "alpha beta gamma delta"):
            expected = bm25s_scores(list(kept.values()), query)
            by_id = dict(zip(kept, expected.tolist()))
            got = candidate.search(query, 500)
            assert len(got) == sum(1 for s in expected if s > 0)
            for pid, score in got:
                assert score == pytest.approx(by_id[pid], rel=1e-5)
            assert [s for _, s in got] == sorted((s for _, s in got), reverse=True)


def test_bm25_store_keeps_ids_in_order_whatever_the_order_they_come_in(tmp_path: Path) -> None:
    store = BM25Store()
    store.add([50, 7, 30], ["tiger river", "tiger", "river bread"])
    store.save(tmp_path / "lex")
    assert np.load(tmp_path / "lex" / "ids.npy").tolist() == [7, 30, 50]
    loaded = BM25Store.load(tmp_path / "lex")
    assert [pid for pid, _ in loaded.search("tiger", 5)] == [7, 50]
    loaded.add([7], ["bread only"])  # re-adding an id replaces its text
    assert len(loaded) == 3
    assert [pid for pid, _ in loaded.search("tiger", 5)] == [50]


# ---------------------------------------------------------------- FaissStore: memory-mapped loads, BM25Store: blocked matrix builds


@pytest.mark.parametrize("approximate", [False, True])
@pytest.mark.parametrize("file_removed", [False, True])
def test_loaded_store_is_memory_mapped_until_it_changes(tmp_path: Path, approximate: bool, file_removed: bool) -> None:
    rng = np.random.default_rng(8)
    vectors = unit_rows(rng, 900, 16)
    store = FaissStore(16, exact_limit=400 if approximate else 10_000, nprobe=10_000)
    store.add(list(range(900)), vectors)
    store.save(tmp_path / "v.faiss")
    loaded = FaissStore.load(tmp_path / "v.faiss", 16, nprobe=10_000)
    assert loaded.mapped_from == tmp_path / "v.faiss" and loaded.is_approximate == approximate
    queries = unit_rows(rng, 3, 16)
    assert_same_results(loaded.search(queries, 10), store.search(queries, 10))
    if file_removed:  # a later build removed this generation: the mapping still works
        (tmp_path / "v.faiss").unlink()
    loaded.remove(list(range(100)))  # FAISS would abort on a mapped index: the store reads it in first
    loaded.add([5000], queries[:1])
    assert loaded.mapped_from is None and len(loaded) == 801
    ids = np.arange(100, 900, dtype=np.int64)
    expected = brute_force(np.concatenate([vectors[100:], queries[:1]]), np.append(ids, 5000), queries, 10)
    assert_same_results(loaded.search(queries, 10), expected)


def test_bm25_matrix_built_in_blocks_equals_one_block(monkeypatch: pytest.MonkeyPatch) -> None:
    import qa.retrieval.lexical as lexical

    rng = np.random.default_rng(3)
    store = BM25Store()
    store.add(list(range(200)), random_corpus(rng, 200))
    store.refresh()
    whole = lexical.build_matrix(*store.token_arrays())
    monkeypatch.setattr(lexical, "_TOKEN_CHUNK", 37)  # many blocks, passages split across none
    blocks = lexical.build_matrix(*store.token_arrays())
    for a, b in zip(whole, blocks):
        assert np.array_equal(a, b)
    indptr, rows, _ = blocks
    for t in range(len(indptr) - 1):  # each term's passages in order
        assert np.all(np.diff(rows[indptr[t] : indptr[t + 1]]) > 0)
