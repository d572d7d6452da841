"""Reading a documents folder: what is read, what is skipped, and why."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from qa.ingest import formats
from qa.errors import DocumentsError
from qa.ingest.folder import read_folder


def write(path: Path, data: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def test_reads_txt_and_md_recursively_with_relative_posix_ids(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", "Alpha text.")
    write(tmp_path / "sub" / "b.md", "# Beta\n\nBeta text.")
    write(tmp_path / "sub" / "deeper" / "c.TXT", "Gamma text.")
    result = read_folder(tmp_path)
    assert [d.id for d in result.documents] == ["a.txt", "sub/b.md", "sub/deeper/c.TXT"]
    assert result.documents[1].text == "Beta\n\nBeta text."  # Markdown markup is stripped
    assert result.skipped == [] and result.warnings == [] and result.unsupported == 0


def test_document_hash_is_sha256_of_the_text(tmp_path: Path) -> None:
    write(tmp_path / "a.txt", "Some text.\n")
    (doc,) = read_folder(tmp_path).documents
    assert doc.sha256 == hashlib.sha256(b"Some text.\n").hexdigest()


def test_unsupported_extensions_are_counted_not_read(tmp_path: Path) -> None:
    write(tmp_path / "keep.txt", "Kept.")
    write(tmp_path / "data.csv", "a,b\n1,2\n")
    write(tmp_path / "image.png", b"\x89PNG\r\n\x1a\n")
    write(tmp_path / "sub" / "notes.rst", "Notes.")
    write(tmp_path / "README", "no extension")
    result = read_folder(tmp_path)
    assert [d.id for d in result.documents] == ["keep.txt"]
    assert result.unsupported == 4


def test_hidden_files_and_folders_are_ignored(tmp_path: Path) -> None:
    write(tmp_path / "visible.txt", "Visible.")
    write(tmp_path / ".hidden.txt", "Hidden.")
    write(tmp_path / ".git" / "notes.txt", "Inside .git.")
    write(tmp_path / "sub" / ".cache" / "x.md", "Cached.")
    result = read_folder(tmp_path)
    assert [d.id for d in result.documents] == ["visible.txt"]
    assert result.unsupported == 0 and result.skipped == []


def test_invalid_utf8_is_read_with_replacement_and_a_warning_naming_the_file(tmp_path: Path) -> None:
    write(tmp_path / "sub" / "latin1.txt", "Caf\u00e9 au lait.".encode("latin-1"))
    result = read_folder(tmp_path)
    (doc,) = result.documents
    assert doc.text == "Caf\ufffd au lait."
    (warning,) = result.warnings
    assert warning.startswith("sub/latin1.txt:")
    assert "UTF-8" in warning


def test_empty_and_blank_files_are_skipped(tmp_path: Path) -> None:
    write(tmp_path / "empty.txt", b"")
    write(tmp_path / "blank.md", " \n\t\r\n")
    write(tmp_path / "real.txt", "Real.")
    result = read_folder(tmp_path)
    assert [d.id for d in result.documents] == ["real.txt"]
    assert {(s.path, s.reason) for s in result.skipped} == {("blank.md", "empty"), ("empty.txt", "empty")}


@pytest.mark.parametrize(
    "data",
    [
        b"\x00\x01\x02binary\x00data" * 10,  # NUL bytes
        bytes(range(1, 9)) * 50,  # mostly control characters, no NUL
        b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    ],
)
def test_binary_file_with_a_txt_name_is_skipped(tmp_path: Path, data: bytes) -> None:
    write(tmp_path / "photo.txt", data)
    write(tmp_path / "real.txt", "Real.")
    result = read_folder(tmp_path)
    assert [d.id for d in result.documents] == ["real.txt"]
    (skipped,) = result.skipped
    assert skipped.path == "photo.txt" and "binary" in skipped.reason


def test_oversized_file_is_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(formats.MAX_BYTES, "text", 10)
    write(tmp_path / "big.txt", "This file is longer than ten bytes.")
    write(tmp_path / "ok.txt", "Short.")
    result = read_folder(tmp_path)
    assert [d.id for d in result.documents] == ["ok.txt"]
    assert result.skipped[0].path == "big.txt" and "too large" in result.skipped[0].reason


def test_bom_is_dropped_and_crlf_kept(tmp_path: Path) -> None:
    write(tmp_path / "win.txt", b"\xef\xbb\xbfLine one.\r\nLine two.\r\n")
    (doc,) = read_folder(tmp_path).documents
    assert doc.text == "Line one.\r\nLine two.\r\n"
    with open(tmp_path / "win.txt", encoding="utf-8-sig", newline="") as fh:
        assert fh.read() == doc.text


def test_missing_folder_is_an_error_naming_it(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(DocumentsError, match="not found") as info:
        read_folder(missing)
    assert str(missing) in str(info.value)


def test_a_file_instead_of_a_folder_is_an_error(tmp_path: Path) -> None:
    path = write(tmp_path / "a.txt", "Text.")
    with pytest.raises(DocumentsError, match="not a folder"):
        read_folder(path)


def test_empty_folder_reads_nothing(tmp_path: Path) -> None:
    result = read_folder(tmp_path)
    assert result.documents == [] and result.skipped == [] and result.unsupported == 0
