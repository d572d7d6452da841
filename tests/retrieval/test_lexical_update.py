"""BM25 after updates must score exactly like a store built from scratch.

A regression test: building the score matrix once sorted the stored token
ids in place, so every later rebuild (after any add or remove) scored the
wrong words.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from qa.retrieval.lexical import BM25Store

TEXTS = {
    0: "Rare earth metals are mined in the north of Korea, rare and valuable.",
    1: "Putin visited Pyongyang and met Kim Jong Un; Putin praised the visit.",
    2: "The lighthouse keeper of the harbour has served since 1987.",
    3: "The harbour master will replace the wooden pier for 40,000 euros.",
    4: "Rare birds nest on the pier of the old harbour every spring.",
}
QUERIES = ["rare earth metals", "Putin visit Pyongyang", "harbour pier", "keeper since 1987"]


def fresh(ids: list[int]) -> BM25Store:
    store = BM25Store()
    store.add(ids, [TEXTS[i] for i in ids])
    return store


@pytest.mark.parametrize("reload", [False, True])
def test_scores_after_remove_and_add_match_a_fresh_store(tmp_path: Path, reload: bool) -> None:
    store = fresh([0, 1, 2, 3])
    store.search("harbour", 3)  # builds the matrix
    if reload:
        store.save(tmp_path / "a")
        store = BM25Store.load(tmp_path / "a")
    store.remove([2])
    store.add([4], [TEXTS[4]])
    store.save(tmp_path / "b")
    expected = fresh([0, 1, 3, 4])
    for query in QUERIES:
        got, want = store.search(query, 5), expected.search(query, 5)
        assert [i for i, _ in got] == [i for i, _ in want]
        assert [s for _, s in got] == pytest.approx([s for _, s in want], rel=1e-5)
    reloaded = BM25Store.load(tmp_path / "b")
    assert [reloaded.search(q, 5) for q in QUERIES] == [store.search(q, 5) for q in QUERIES]
