"""How an update splits its documents into commits (the whole update, through the index, is in tests/test_index.py)."""

from __future__ import annotations

from qa.store.update import COMMIT_CHARS, MAX_COMMIT_CHARS, commit_batches
from qa.types import Document


def test_commit_batches_grow_with_the_index() -> None:
    docs = [Document(f"d{i}.txt", "x" * (COMMIT_CHARS // 4), "h") for i in range(40)]
    sizes = [len(batch) for batch in commit_batches(docs, indexed_chars=0)]
    assert sum(sizes) == 40 and sizes[0] == 4
    assert sizes == sorted(sizes) and sizes[-2] > sizes[0], "later batches are at least half the index"
    assert [len(b) for b in commit_batches(docs[:3], indexed_chars=0)] == [3]
    big = [Document(f"d{i}.txt", "x" * (MAX_COMMIT_CHARS // 8), "h") for i in range(100)]
    assert max(len(b) for b in commit_batches(big, indexed_chars=50 * MAX_COMMIT_CHARS)) == 8, "capped"
