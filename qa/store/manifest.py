"""The index folder's table of contents: written last, so it is the commit point.

Each build writes its data files under fresh names (``passages-<gen>.jsonl``,
``vectors-<gen>.faiss``, ``lexical-<gen>/``) and then replaces
``manifest.json`` atomically. A build killed at any moment leaves the old
manifest pointing at the old, complete files. Files no manifest refers to
are removed after the next successful commit (the previous generation is
kept one more round, for readers that opened it a moment earlier).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from qa.errors import IndexCorruptError, IndexMismatchError, IndexNotFoundError
from qa.files import sha256_file, write_json_atomic

FORMAT_VERSION = 3  # 3: a document's passages as a run of ids; 2: passage table, BM25 matrix on disk, IVF vectors
UPGRADABLE = 2  # read, and written as FORMAT_VERSION by the next commit: its documents list their passage ids
MANIFEST = "manifest.json"
_GENERATION_PREFIXES = ("passages-", "vectors-", "lexical-", "sentences-")
VERIFY_HASH_BYTES = 64 * 1024 * 1024  # hash every file on open below this total size


def read_manifest(index_dir: str | Path) -> dict[str, Any]:
    """Load and sanity-check ``manifest.json``.

    Raises:
        IndexNotFoundError: no manifest (no index built yet).
        IndexMismatchError: another format version.
        IndexCorruptError: unreadable JSON, missing fields, values of the wrong type, or
            file names that would leave the index folder.
    """
    index_dir = Path(index_dir)
    path = index_dir / MANIFEST
    if not path.exists():
        raise IndexNotFoundError(
            f"no index at {index_dir}: build one with `qa index DOCS_FOLDER --index {index_dir}`"
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise IndexCorruptError(f"{path} is unreadable ({exc}); rebuild with `qa index --rebuild`") from None
    return check_manifest(manifest, str(path), str(index_dir), LOCAL_FILES)


def check_manifest(manifest: Any, where: str, index: str, data_files: frozenset[str]) -> dict[str, Any]:
    """``manifest`` (parsed JSON read from ``where``, of the index at ``index``) if it is one this docqa reads.

    Raises:
        IndexMismatchError: another format version.
        IndexCorruptError: missing fields or values of the wrong type.
    """
    if not isinstance(manifest, dict) or "format" not in manifest:
        raise IndexCorruptError(f"{where} is not a docqa manifest; rebuild with `qa index --rebuild`")
    for key in ("settings", "documents", "files", "checksums", "next_id"):  # every format has these
        if key not in manifest:
            raise IndexCorruptError(f"{where} lacks {key!r}; rebuild with `qa index --rebuild`")
    if manifest["format"] == UPGRADABLE and isinstance(manifest["documents"], dict):
        manifest = upgrade_documents(manifest, where)
    if manifest["format"] != FORMAT_VERSION:
        raise IndexMismatchError(
            f"index at {index} has format version {manifest['format']!r}, this docqa reads version "
            f"{FORMAT_VERSION}: rebuild it with `qa index --rebuild`"
        )
    check_shape(manifest, where, data_files)
    return manifest


def passage_ids(info: dict[str, Any]) -> range:
    """The ids of a document's passages (an update numbers one document's passages in one run)."""
    return range(info["first"], info["first"] + info["count"])


def passage_run(first: int, count: int) -> dict[str, int]:
    """What a document's manifest entry says of its passages: ids ``first`` to ``first + count - 1``.

    A run, not a list of ids, keeps the manifest's size in proportion to the
    number of documents, not of passages (an index of millions of passages).
    """
    return {"first": first, "count": count}


def upgrade_documents(manifest: dict[str, Any], where: str) -> dict[str, Any]:
    """A format-2 manifest (each document lists its passage ids) as FORMAT_VERSION: the lists as runs.

    Raises:
        IndexCorruptError: a list that is not a run of consecutive ids (docqa never wrote one).
    """
    documents = {}
    for doc, info in manifest["documents"].items():
        ids = info.get("passages") if isinstance(info, dict) else None
        if not (isinstance(ids, list) and all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in ids)
                and ids == list(range(ids[0], ids[0] + len(ids)) if ids else [])):
            raise IndexCorruptError(f"{where} has a wrong entry for document {doc!r}; rebuild with `qa index --rebuild`")
        documents[doc] = {**{k: v for k, v in info.items() if k != "passages"},
                          **passage_run(ids[0] if ids else 0, len(ids))}
    return {**manifest, "format": FORMAT_VERSION, "documents": documents}


def other_docs_dir(manifest: dict[str, Any], docs: str | Path) -> str | None:
    """The folder the index was built from, when that is another folder that still exists.

    Updating from ``docs`` would drop that folder's documents. A folder that is gone
    (the project was moved) is not in the way: unchanged files keep their passages.
    """
    built_from = manifest.get("docs_dir")
    if built_from and Path(built_from).resolve() != Path(docs).resolve() and Path(built_from).is_dir():
        return str(built_from)
    return None


LOCAL_FILES = frozenset({"passages", "passage_table", "vectors", "lexical", "sentences"})


def check_shape(manifest: dict[str, Any], path: str, data_files: frozenset[str]) -> None:
    """Every value the code reads has the type it expects, and file names stay inside the index folder.

    ``data_files`` are the names ``files`` must give once anything is committed
    (a folder's files, or a Milvus index's collections).
    """
    def bad(what: str) -> IndexCorruptError:
        return IndexCorruptError(f"{path} has a wrong {what}; rebuild with `qa index --rebuild`")

    def whole(value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and value >= 0

    def plain_name(name: Any, nested: bool = False) -> bool:
        parts = name.split("/") if isinstance(name, str) else [""]
        return (nested or len(parts) == 1) and all(p and p not in (".", "..") and not p.startswith(".") for p in parts)

    settings = manifest["settings"]
    if not isinstance(settings, dict) or not isinstance(settings.get("model"), str) or not settings["model"]:
        raise bad("'settings' (model)")
    if not all(whole(settings.get(k)) for k in ("passage_chars", "overlap_chars")):
        raise bad("'settings' (passage_chars, overlap_chars)")
    if settings.get("dim") is not None and not whole(settings["dim"]):
        raise bad("'settings' (dim)")
    if not whole(manifest["next_id"]):
        raise bad("'next_id'")
    counts = manifest.get("counts", {"documents": 0, "passages": 0})
    if not isinstance(counts, dict) or not all(whole(counts.get(k)) for k in ("documents", "passages")):
        raise bad("'counts'")
    documents = manifest["documents"]
    if not isinstance(documents, dict):
        raise bad("'documents'")
    for doc, info in documents.items():
        if not (isinstance(info, dict) and isinstance(info.get("sha256"), str) and whole(info.get("first"))
                and whole(info.get("count")) and whole(info.get("chars", 0))
                and isinstance(info.get("title", ""), str)):
            raise bad(f"entry for document {doc!r}")
    end = 0
    for first, count in sorted((info["first"], info["count"]) for info in documents.values() if info["count"]):
        if first < end or first + count > manifest["next_id"]:  # runs overlap, or use ids not handed out yet
            raise bad("'documents' (passage ids)")
        end = first + count
    files = manifest["files"]
    if not isinstance(files, dict) or not all(isinstance(k, str) and plain_name(v) for k, v in files.items()):
        raise bad("'files'")
    if files and not data_files <= set(files):
        raise bad("'files' (a data file is not named)")
    checksums = manifest["checksums"]
    if not isinstance(checksums, dict) or not all(
        plain_name(name, nested=True) and isinstance(c, dict) and whole(c.get("bytes")) and isinstance(c.get("sha256"), str)
        for name, c in checksums.items()
    ):
        raise bad("'checksums'")
    if manifest.get("docs_dir") is not None and not isinstance(manifest["docs_dir"], str):
        raise bad("'docs_dir'")


def verify_files(index_dir: str | Path, manifest: dict[str, Any], hashes: bool | None = None) -> None:
    """Check every data file's size (and, for small indexes or ``hashes=True``, its sha256).

    Raises:
        IndexCorruptError: a file is missing, truncated or altered.
    """
    index_dir = Path(index_dir)
    checksums: dict[str, dict[str, Any]] = manifest["checksums"]
    total = sum(int(c["bytes"]) for c in checksums.values())
    check_hashes = total <= VERIFY_HASH_BYTES if hashes is None else hashes
    for name, expected in checksums.items():
        path = index_dir / name
        if not path.is_file():
            raise IndexCorruptError(f"index file {path} is missing; rebuild with `qa index --rebuild`")
        if path.stat().st_size != expected["bytes"]:
            raise IndexCorruptError(
                f"index file {path} is truncated or altered ({path.stat().st_size} bytes, expected "
                f"{expected['bytes']}); rebuild with `qa index --rebuild`"
            )
        if check_hashes and sha256_file(path) != expected["sha256"]:
            raise IndexCorruptError(f"index file {path} does not match its checksum; rebuild with `qa index --rebuild`")


def checksums_for(index_dir: Path, names: list[str]) -> dict[str, dict[str, Any]]:
    """Size and sha256 of each data file (folders expanded to their files)."""
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        path = index_dir / name
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            rel = file.relative_to(index_dir).as_posix()
            out[rel] = {"bytes": file.stat().st_size, "sha256": sha256_file(file)}
    return out


def commit_manifest(index_dir: Path, manifest: dict[str, Any], previous: dict[str, Any] | None) -> None:
    """Atomically publish ``manifest``, then delete generations neither it nor ``previous`` uses."""
    write_json_atomic(index_dir / MANIFEST, manifest)
    keep = set(manifest["files"].values())
    if previous:
        keep |= set(previous.get("files", {}).values())
    for path in index_dir.iterdir():
        if path.name.startswith(_GENERATION_PREFIXES) and path.name not in keep:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        elif path.name.startswith(".") and path.name.endswith(".tmp"):
            path.unlink(missing_ok=True)  # left by a build that was killed
