"""Files that must be reported and skipped, never crash a build: links out of the folder, names
that are not UTF-8, HTML nested too deeply, Word files that unpack to far more than they weigh."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import pytest

from doc_fixtures import docx_bytes
from qa.app.uploads import MAX_UPLOAD_CHARS, UploadError, prepare_upload
from qa.ingest.folder import read_folder
from qa.ingest.formats import MAX_CHARS, ExtractError, extract
from qa.ingest.formats.docx import MAX_XML_BYTES

GOOD = "The harbour opens at dawn. Fishing boats leave before six."


def test_a_link_to_a_file_outside_the_folder_is_skipped_and_a_link_inside_is_read(tmp_path: Path) -> None:
    docs, outside = tmp_path / "docs", tmp_path / "private"
    docs.mkdir(), outside.mkdir()
    (outside / "secret.txt").write_text("The vault code is 4711.", encoding="utf-8")
    (docs / "harbour.txt").write_text(GOOD, encoding="utf-8")
    (docs / "out.txt").symlink_to(outside / "secret.txt")
    (docs / "alias.txt").symlink_to("harbour.txt")
    result = read_folder(docs)
    assert sorted(d.id for d in result.documents) == ["alias.txt", "harbour.txt"]
    assert [s.path for s in result.skipped] == ["out.txt"]
    assert "outside the documents folder" in result.skipped[0].reason
    assert all("4711" not in d.text for d in result.documents)


def test_a_file_name_that_is_not_utf8_is_skipped_with_a_printable_name(tmp_path: Path) -> None:
    (tmp_path / "harbour.txt").write_text(GOOD, encoding="utf-8")
    bad = os.fsdecode(b"caf\xe9.txt")  # Latin-1 bytes in a name
    (tmp_path / bad).write_text(GOOD, encoding="utf-8")  # Linux file systems take any bytes but / and NUL
    result = read_folder(tmp_path)
    assert [d.id for d in result.documents] == ["harbour.txt"]
    (skipped,) = result.skipped
    assert "not valid UTF-8" in skipped.reason
    skipped.path.encode("utf-8")  # printable: no lone surrogates left


def test_html_nested_a_thousand_deep_is_an_extract_error_not_a_crash(tmp_path: Path) -> None:
    deep = ("<div>" * 1000 + "Deep text." + "</div>" * 1000).encode()
    with pytest.raises(ExtractError, match="nested too deeply"):
        extract("deep.html", deep)
    (tmp_path / "deep.html").write_bytes(deep)
    (tmp_path / "harbour.txt").write_text(GOOD, encoding="utf-8")
    result = read_folder(tmp_path)
    assert [d.id for d in result.documents] == ["harbour.txt"]
    assert [s.path for s in result.skipped] == ["deep.html"]


def _bomb_docx(xml_bytes: int) -> bytes:
    """A valid .docx whose document.xml is padded with ``xml_bytes`` of whitespace: tiny zipped."""
    source = zipfile.ZipFile(io.BytesIO(docx_bytes()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename == "word/document.xml":
                data = data.replace(b"<w:body>", b"<w:body>" + b" " * xml_bytes, 1)
            target.writestr(item, data, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


def test_a_word_file_that_unpacks_past_the_limit_is_refused_before_it_is_parsed() -> None:
    bomb = _bomb_docx(MAX_XML_BYTES + 1)
    assert len(bomb) < 1_000_000, "the point: small on disk, huge unpacked"
    with pytest.raises(ExtractError, match="unpacks to"):
        extract("bomb.docx", bomb)
    with pytest.raises(UploadError, match="bomb.docx: its XML unpacks to"):
        prepare_upload("bomb.docx", bomb)
    assert "Field Trip Handbook" in extract("fine.docx", _bomb_docx(1000)).text  # padding alone is harmless


def test_text_beyond_the_character_limits_is_refused() -> None:
    import docx

    words = "Boats leave the harbour at dawn. "
    document = docx.Document()
    document.add_paragraph(words * (MAX_UPLOAD_CHARS // len(words) + 10))
    out = io.BytesIO()
    document.save(out)
    long_docx = out.getvalue()
    with pytest.raises(UploadError, match="long.docx: its text is .* characters, over the 2,097,152 limit"):
        prepare_upload("long.docx", long_docx)
    assert len(extract("long.docx", long_docx).text) > MAX_UPLOAD_CHARS  # a file in the folder may hold more
    with pytest.raises(ExtractError, match="characters, over the 100 limit"):
        extract("short.html", b"<p>" + words.encode() * 10 + b"</p>", max_chars=100)
    assert MAX_CHARS >= MAX_UPLOAD_CHARS
