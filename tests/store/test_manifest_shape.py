"""A manifest with values of the wrong type, or file names that leave the index folder, is one
clear IndexCorruptError (never a TypeError deep inside), and ``qa index --rebuild`` repairs it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

import pytest

from qa.cli import main
from qa.errors import IndexCorruptError
from qa.index import Index
from qa.store.manifest import MANIFEST, read_manifest


def _set(path: list[str], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(manifest: dict[str, Any]) -> None:
        target = manifest
        for key in path[:-1]:
            target = target[key] if key != "*" else next(iter(target.values()))
        target[path[-1]] = value
    return change


BREAKAGES = {
    "settings is text": _set(["settings"], "all-MiniLM-L6-v2"),
    "passage_chars is text": _set(["settings", "passage_chars"], "800"),
    "model is a number": _set(["settings", "model"], 7),
    "next_id is negative": _set(["next_id"], -1),
    "next_id is a bool": _set(["next_id"], True),
    "documents is a list": _set(["documents"], []),
    "a document's passages are text": _set(["documents", "*", "count"], "2"),
    "a document's passages run past next_id": _set(["documents", "*", "count"], 10**9),
    "a document's first passage is negative": _set(["documents", "*", "first"], -1),
    "a data file leaves the folder": _set(["files", "passages"], "../../etc/passwd"),
    "a checksum names a parent folder": _set(["checksums"], {"../x": {"bytes": 1, "sha256": "0"}}),
    "counts is null": _set(["counts"], None),
}


@pytest.mark.parametrize("breakage", BREAKAGES, ids=list(BREAKAGES))
def test_wrong_typed_manifest_values_are_a_clear_error(built_index: Index, index_dir: Path, breakage: str) -> None:
    manifest = json.loads((index_dir / MANIFEST).read_text(encoding="utf-8"))
    BREAKAGES[breakage](manifest)
    (index_dir / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(IndexCorruptError, match="rebuild with `qa index --rebuild`"):
        read_manifest(index_dir)
    with pytest.raises(IndexCorruptError):
        Index.open(index_dir)


@pytest.mark.parametrize("breakage", ["settings is text", "a data file leaves the folder", "documents is a list"])
def test_rebuild_repairs_any_broken_manifest(built_index: Index, docs_dir: Path, index_dir: Path, breakage: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    manifest = json.loads((index_dir / MANIFEST).read_text(encoding="utf-8"))
    BREAKAGES[breakage](manifest)
    (index_dir / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")
    assert main(["ask", "Why is Mars red?", "--index", str(index_dir)]) == 2
    assert "error:" in capsys.readouterr().err
    assert main(["index", str(docs_dir), "--index", str(index_dir), "--model", "hash-256", "--rebuild", "-q"]) == 0
    repaired = Index.open(index_dir)
    assert sorted(repaired.documents) == sorted(built_index.documents)
    assert repaired.ask("Why is Mars called the Red Planet?").found
