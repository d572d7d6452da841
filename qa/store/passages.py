"""Passages and their sentence vectors on disk, read only when used.

``passages-<gen>.jsonl`` holds one passage a line and ``passages-<gen>.table.npy``
each line's offset, so opening an index parses no passage; the sentence
vectors are one memory-mapped float16 matrix. A commit copies the lines and
rows of unchanged passages as bytes. Nothing here is pickled.
"""

from __future__ import annotations

import json
import os
import weakref
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from qa.errors import IndexCorruptError
from qa.files import atomic_path
from qa.store.manifest import VERIFY_HASH_BYTES
from qa.types import Passage


def write_sentence_vectors(path: Path, passages: Mapping[int, Passage], vectors: Mapping[int, np.ndarray], dim: int) -> None:
    """One float16 matrix: each passage's sentence rows, in passage-id order.

    Written block by block, never assembled in memory; rows of passages that
    were already on disk are copied as bytes from the previous file.
    """
    order = _sorted_ids(passages)
    segments = _segments(vectors, order)
    total = 0
    for segment in segments:
        total += segment.rows(vectors)
    header = {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float16)), "fortran_order": False, "shape": (total, dim)}
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.lib.format.write_array_header_1_0(fh, header)
            for segment in segments:
                segment.write_rows(vectors, fh, dim)


def read_sentence_vectors(path: Path, passages: Mapping[int, Passage], dim: int) -> SentenceVectors:
    """Memory-mapped: pages are read only for passages that become answer candidates."""
    try:
        matrix = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, EOFError, ValueError) as exc:
        raise IndexCorruptError(f"sentence vectors {path} are corrupted or truncated ({exc}); rebuild with `qa index --rebuild`") from None
    if isinstance(passages, PassageTable) and passages.unchanged:
        ids, rows = passages._ids, passages._rows
    else:
        ids = _sorted_ids(passages)
        rows = np.concatenate([[0], np.cumsum([len(passages[int(pid)].sentences) for pid in ids], dtype=np.int64)]).astype(np.int64)
    if matrix.ndim != 2 or matrix.shape != (int(rows[-1]), dim) or matrix.dtype != np.float16:
        raise IndexCorruptError(f"sentence vectors {path} have shape {matrix.shape}, expected ({int(rows[-1])}, {dim}); rebuild with `qa index --rebuild`")
    return SentenceVectors(matrix, ids, rows)


def _passage_row(p: Passage) -> dict[str, Any]:
    row: dict[str, Any] = {"id": p.id, "doc": p.doc, "number": p.number, "start": p.start, "end": p.end,
                           "text": p.text, "sentences": [list(s) for s in p.sentences]}
    if p.page is not None:
        row["page"] = p.page
    if p.section:
        row["section"] = list(p.section)
    return row


def _passage_from_row(row: dict[str, Any]) -> Passage:
    return Passage(
        row["id"], row["doc"], row["number"], row["start"], row["end"], row["text"],
        tuple((s, e) for s, e in row["sentences"]),
        row.get("page"), tuple(row.get("section", ())),
    )


def write_passages(path: Path, passages: Mapping[int, Passage], table_path: Path) -> None:
    """``passages-<gen>.jsonl`` (one JSON object a line, in id order) and its table.

    The table (``passages-<gen>.table.npy``, int64, one row per passage plus a
    closing row) holds each passage's id, the byte offset of its line and its
    first row in the sentence-vector matrix, so opening an index reads no
    passage. Lines of passages already on disk are copied as bytes.
    """
    order = _sorted_ids(passages)
    line_bytes = np.zeros(len(order), dtype=np.int64)
    sentence_rows = np.zeros(len(order), dtype=np.int64)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            at = 0
            for segment in _segments(passages, order):
                at = segment.write_lines(passages, fh, line_bytes, sentence_rows, at)
    table = np.zeros((len(order) + 1, 3), dtype=np.int64)
    table[:-1, 0], table[-1, 0] = order, -1
    table[1:, 1] = np.cumsum(line_bytes)
    table[1:, 2] = np.cumsum(sentence_rows)
    with atomic_path(table_path) as tmp:
        with open(tmp, "wb") as fh:
            np.save(fh, table, allow_pickle=False)


def read_passages(path: Path, table_path: Path) -> PassageTable:
    """Checks the table against the file's line breaks; passages themselves are parsed when used."""
    try:
        table = np.load(table_path, allow_pickle=False)
        if table.dtype != np.int64 or table.ndim != 2 or table.shape[1] != 3 or len(table) < 1:
            raise ValueError(f"passage table has type {table.dtype}{table.shape}")
        ids, lines, rows = (np.ascontiguousarray(table[:-1, 0]), np.ascontiguousarray(table[:, 1]),
                            np.ascontiguousarray(table[:, 2]))
        del table
        if lines[0] != 0 or lines[-1] != path.stat().st_size or rows[0] != 0:
            raise ValueError("the passage table does not match the file's size")
        if np.any(np.diff(lines) <= 0) or np.any(np.diff(rows) < 0) or np.any(np.diff(ids) <= 0) or (len(ids) and ids[0] < 0):
            raise ValueError("the passage table is out of order")
        if lines[-1] <= VERIFY_HASH_BYTES:  # larger files: each line is checked when it is read
            _check_line_breaks(path, lines)
        passages = PassageTable(path, ids, lines, rows)
        for i in {0, len(ids) - 1} if len(ids) else ():
            passages._value(i)  # the first and last line parse and carry their ids
    except (OSError, EOFError, ValueError) as exc:
        raise IndexCorruptError(f"passage file {path} is corrupted or truncated ({exc}); rebuild with `qa index --rebuild`") from None
    return passages


def _check_line_breaks(path: Path, lines: np.ndarray) -> None:
    """Every line break of the file is where the table says a line ends (read in blocks, not mapped)."""
    expected = lines[1:] - 1
    found = 0
    offset = 0
    with open(path, "rb") as fh:
        while block := fh.read(1 << 24):
            breaks = np.flatnonzero(np.frombuffer(block, dtype=np.uint8) == 10) + offset
            if found + len(breaks) > len(expected) or not np.array_equal(expected[found : found + len(breaks)], breaks):
                raise ValueError("line breaks do not match the passage table")
            found += len(breaks)
            offset += len(block)
    if found != len(expected):
        raise ValueError("line breaks do not match the passage table")


def _sorted_ids(mapping: Mapping[int, Any]) -> np.ndarray:
    ids = np.fromiter(mapping, dtype=np.int64, count=len(mapping))
    return ids if isinstance(mapping, _OnDisk) else np.sort(ids)


class _OnDisk(MutableMapping):  # type: ignore[type-arg]
    """Values by passage id: those written by the last commit are read from disk on
    demand (``_value``); changes since then are kept in a dict and a set."""

    def __init__(self, ids: np.ndarray) -> None:
        self._ids = ids  # sorted ids of the values on disk
        self._added: dict[int, Any] = {}
        self._removed: set[int] = set()  # ids on disk that were deleted or replaced

    def _value(self, i: int) -> Any:
        raise NotImplementedError

    def _position(self, pid: Any) -> int:
        """Row of ``pid`` on disk, or -1."""
        if isinstance(pid, bool) or not isinstance(pid, (int, np.integer)):
            return -1
        i = int(np.searchsorted(self._ids, pid))
        return i if i < len(self._ids) and int(self._ids[i]) == pid else -1

    @property
    def unchanged(self) -> bool:
        return not self._added and not self._removed

    def __getitem__(self, pid: Any) -> Any:
        if pid in self._added:
            return self._added[pid]
        i = self._position(pid)
        if i < 0 or pid in self._removed:
            raise KeyError(pid)
        return self._value(i)

    def __contains__(self, pid: object) -> bool:
        return pid in self._added or (pid not in self._removed and self._position(pid) >= 0)

    def __setitem__(self, pid: int, value: Any) -> None:
        pid = int(pid)
        if self._position(pid) >= 0:
            self._removed.add(pid)
        self._added[pid] = value

    def __delitem__(self, pid: int) -> None:
        if pid in self._added:
            del self._added[pid]
        elif pid not in self._removed and self._position(pid) >= 0:
            self._removed.add(int(pid))
        else:
            raise KeyError(pid)

    def __len__(self) -> int:
        return len(self._ids) - len(self._removed) + len(self._added)

    def __iter__(self) -> Iterator[int]:
        ids = self._ids
        if self._removed:
            ids = ids[~np.isin(ids, np.fromiter(self._removed, dtype=np.int64, count=len(self._removed)))]
        if self._added:
            ids = np.sort(np.concatenate([ids, np.fromiter(self._added, dtype=np.int64, count=len(self._added))]))
        for start in range(0, len(ids), 65536):
            yield from ids[start : start + 65536].tolist()

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {len(self)} passages, {len(self._added)} added and {len(self._removed)} removed since the last commit>"


class PassageTable(_OnDisk):
    """Passages by id, parsed from their line of ``passages-<gen>.jsonl`` when asked for.

    An index of a million passages keeps three integer arrays in memory
    instead of a million Python objects (bench/query.py); reading one passage
    costs one ``pread`` and one ``json.loads``.
    """

    def __init__(self, path: Path | None = None, ids: np.ndarray | None = None, lines: np.ndarray | None = None,
                 rows: np.ndarray | None = None) -> None:
        super().__init__(ids if ids is not None else np.zeros(0, dtype=np.int64))
        self.path = path
        self._lines = lines if lines is not None else np.zeros(1, dtype=np.int64)
        self._rows = rows if rows is not None else np.zeros(1, dtype=np.int64)  # first sentence-vector row
        self._fd = os.open(path, os.O_RDONLY) if path is not None else -1
        if self._fd >= 0:
            weakref.finalize(self, os.close, self._fd)

    def _value(self, i: int) -> Passage:
        start, end = int(self._lines[i]), int(self._lines[i + 1])
        try:
            passage = _passage_from_row(json.loads(os.pread(self._fd, end - start, start)))
        except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise IndexCorruptError(f"passage file {self.path} is corrupted or truncated ({exc}); rebuild with `qa index --rebuild`") from None
        if passage.id != int(self._ids[i]):
            raise IndexCorruptError(f"passage file {self.path} is corrupted or truncated (line {i} holds passage {passage.id}, "
                                    f"the table says {int(self._ids[i])}); rebuild with `qa index --rebuild`")
        return passage


class SentenceVectors(_OnDisk):
    """Each passage's (sentences, dim) float16 unit rows: views of the memory-mapped matrix."""

    def __init__(self, matrix: np.ndarray, ids: np.ndarray, rows: np.ndarray) -> None:
        super().__init__(ids)
        self._matrix = matrix
        self._rows = rows

    def _value(self, i: int) -> np.ndarray:
        return self._matrix[int(self._rows[i]) : int(self._rows[i + 1])]


@dataclass
class _Segment:
    """Consecutive passages of the output that are consecutive on disk (rows ``first:stop``
    of the source), or one passage (``pid``) taken from the mapping."""

    first: int = 0
    stop: int = 0
    pid: int = -1

    def rows(self, vectors: Mapping[int, np.ndarray]) -> int:
        if self.pid >= 0:
            return len(vectors[self.pid])
        return int(vectors._rows[self.stop] - vectors._rows[self.first])  # type: ignore[attr-defined]

    def write_rows(self, vectors: Mapping[int, np.ndarray], fh: Any, dim: int) -> None:
        if self.pid >= 0:
            fh.write(np.ascontiguousarray(vectors[self.pid], dtype=np.float16).reshape(-1, dim).tobytes())
            return
        matrix = vectors._matrix  # type: ignore[attr-defined]
        row_bytes = dim * 2
        start = matrix.offset + int(vectors._rows[self.first]) * row_bytes  # type: ignore[attr-defined]
        _copy_bytes(matrix.filename, start, self.rows(vectors) * row_bytes, fh)

    def write_lines(self, passages: Mapping[int, Passage], fh: Any, line_bytes: np.ndarray, sentence_rows: np.ndarray, at: int) -> int:
        if self.pid >= 0:
            p = passages[self.pid]
            line = (json.dumps(_passage_row(p), ensure_ascii=False) + "\n").encode("utf-8")
            fh.write(line)
            line_bytes[at], sentence_rows[at] = len(line), len(p.sentences)
            return at + 1
        table: PassageTable = passages  # type: ignore[assignment]
        n = self.stop - self.first
        start, end = int(table._lines[self.first]), int(table._lines[self.stop])
        _copy_bytes(table.path, start, end - start, fh)  # type: ignore[arg-type]
        line_bytes[at : at + n] = np.diff(table._lines[self.first : self.stop + 1])
        sentence_rows[at : at + n] = np.diff(table._rows[self.first : self.stop + 1])
        return at + n


def _segments(mapping: Mapping[int, Any], order: np.ndarray) -> list[_Segment]:
    """How to produce ``mapping``'s values in ``order``: runs copied from its file, single values."""
    if not isinstance(mapping, _OnDisk) or not len(mapping._ids) or not len(order):
        return [_Segment(pid=int(pid)) for pid in order]
    position = np.minimum(np.searchsorted(mapping._ids, order), len(mapping._ids) - 1)
    on_disk = mapping._ids[position] == order
    if mapping._removed:
        on_disk &= ~np.isin(order, np.fromiter(mapping._removed, dtype=np.int64, count=len(mapping._removed)))
    # a run continues while the next passage is on disk, right after the previous one
    continues = np.zeros(len(order), dtype=bool)
    continues[1:] = on_disk[1:] & on_disk[:-1] & (position[1:] == position[:-1] + 1)
    segments: list[_Segment] = []
    starts = np.flatnonzero(~continues)
    ends = np.append(starts[1:], len(order))
    for a, b in zip(starts.tolist(), ends.tolist()):
        if on_disk[a]:
            segments.append(_Segment(int(position[a]), int(position[a]) + b - a))
        else:
            segments.append(_Segment(pid=int(order[a])))  # a single new value (b == a + 1)
    return segments


def _copy_bytes(source: str | Path, start: int, length: int, out: Any) -> None:
    with open(source, "rb") as fh:
        fh.seek(start)
        while length > 0:
            block = fh.read(min(length, 1 << 24))
            if not block:
                raise IndexCorruptError(f"index file {source} is truncated; rebuild with `qa index --rebuild`")
            out.write(block)
            length -= len(block)
