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

FORMAT_VERSION = 2  # 2: passage table, BM25 score matrix on disk, IVF vectors for large indexes
MANIFEST = "manifest.json"
_GENERATION_PREFIXES = ("passages-", "vectors-", "lexical-", "sentences-")
VERIFY_HASH_BYTES = 64 * 1024 * 1024  # hash every file on open below this total size


def read_manifest(index_dir: str | Path) -> dict[str, Any]:
    """Load and sanity-check ``manifest.json``.

    Raises:
        IndexNotFoundError: no manifest (no index built yet).
        IndexMismatchError: another format version.
        IndexCorruptError: unreadable JSON or missing fields.
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
    if not isinstance(manifest, dict) or "format" not in manifest:
        raise IndexCorruptError(f"{path} is not a docqa manifest; rebuild with `qa index --rebuild`")
    for key in ("settings", "documents", "files", "checksums", "next_id"):  # every format has these
        if key not in manifest:
            raise IndexCorruptError(f"{path} lacks {key!r}; rebuild with `qa index --rebuild`")
    if manifest["format"] != FORMAT_VERSION:
        raise IndexMismatchError(
            f"index at {index_dir} has format version {manifest['format']}, this docqa reads version "
            f"{FORMAT_VERSION}: rebuild it with `qa index --rebuild`"
        )
    return manifest


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
