"""PDF, HTML, Markdown and Word ingest: extracted text, pages and sections, bad files (the chat's uploads of them: tests/app/)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from doc_fixtures import HTML, MARKDOWN, docx_bytes, encrypted_pdf_bytes, pdf_bytes, write_all_formats
from qa.ingest import formats
from qa.cli import main
from qa.ingest.formats import ExtractError, extract
from qa.ingest.formats.pdf import page_paragraphs
from qa.index import Index
from qa.ingest.folder import read_folder


# ---------------------------------------------------------------------- extractors
def test_pdf_text_comes_per_page_with_hyphenation_mended(tmp_path: Path) -> None:
    path = tmp_path / "report.pdf"
    path.write_bytes(pdf_bytes())
    result = extract(path)
    assert [r.page for r in result.regions] == [1, 2]
    page1, page2 = (result.text[r.start : r.end] for r in result.regions)
    assert page1.startswith("Harbour Inspection Report\n\n")
    assert "The old crane was examined by the chief engineer" in page1
    assert "Margit Olsen" in page2 and "Margit" not in page1


def test_pdf_lines_join_into_paragraphs() -> None:
    lines = "A first line of a paragraph that is long enough\nand its end.\nNext Heading\nA new para-\ngraph begins here and runs on for a while longer\nthan that."
    assert page_paragraphs(lines) == [
        "A first line of a paragraph that is long enough and its end.",
        "Next Heading",
        "A new paragraph begins here and runs on for a while longer than that.",
    ]


def test_html_keeps_visible_text_and_heading_paths(tmp_path: Path) -> None:
    result = extract(_write(tmp_path / "garden.html", HTML))
    for boilerplate in ("tracking", "console.log", "About us", "Welcome to the Garden", "Copyright", "GARDEN42", "color: #333"):
        assert boilerplate not in result.text
    sections = {result.regions[i].section: result.text[r.start : r.end] for i, r in enumerate(result.regions)}
    assert "Prune them in late winter" in sections[("Garden guide", "Roses")]
    assert "Ladybirds eat the aphids." in sections[("Garden guide", "Roses", "Pests")]
    assert "Gardener's Delight | 65" in sections[("Garden guide", "Tomatoes")]


@pytest.mark.parametrize("declared", [True, False])
def test_html_in_a_legacy_encoding_is_decoded(tmp_path: Path, declared: bool) -> None:
    meta = '<meta charset="windows-1251">' if declared else ""
    page = f"<html><head>{meta}</head><body><h1>Отчёт</h1><p>Москва — столица России, крупнейший город страны.</p></body></html>"
    result = extract(_write(tmp_path / "ru.html", page.encode("cp1251")))
    assert "Москва — столица России" in result.text
    assert result.regions[0].section == ("Отчёт",)
    assert bool(result.warnings) is not declared  # a guess is reported, a declaration is trusted


def test_markdown_strips_markup_and_nests_sections(tmp_path: Path) -> None:
    result = extract(_write(tmp_path / "guide.md", MARKDOWN))
    for markup in ("**", "](", "```", "title: Install guide", "|---|", "!["):
        assert markup not in result.text
    by_section = {r.section: result.text[r.start : r.end] for r in result.regions}
    assert "install the python3-venv package first" in by_section[("Guide", "Installation", "Linux")]
    assert "bash scripts/setup.sh" in by_section[("Guide", "Installation", "Linux")]
    assert "use WSL" in by_section[("Guide", "Installation", "Windows")]
    assert "qa ask | answers a question" in by_section[("Guide", "Usage")]
    assert "See the project page for news." in by_section[("Guide",)]


def test_word_headings_become_sections(tmp_path: Path) -> None:
    result = extract(_write(tmp_path / "handbook.docx", docx_bytes()))
    by_section = {r.section: result.text[r.start : r.end] for r in result.regions}
    assert "7:30 on Monday" in by_section[("Field Trip Handbook", "Travel")]
    assert "waterproof boots" in by_section[("Field Trip Handbook", "Travel", "Packing list")]
    assert "Tuesday | Rock pool survey" in by_section[("Field Trip Handbook", "Safety")]


def test_regions_tile_the_text_in_order(tmp_path: Path) -> None:
    counts: dict[str, int] = {}
    for path in sorted(write_all_formats(tmp_path).iterdir()):
        result = extract(path)
        counts[path.name] = len(result.regions)
        ends = [0]
        for region in result.regions:
            assert ends[-1] <= region.start < region.end <= len(result.text)
            assert result.text[region.start : region.end] == result.text[region.start : region.end].strip()
            ends.append(region.end)
    # pages of the PDF, heading sections of the others; plain text has no regions
    assert counts == {"garden.html": 4, "guide.md": 5, "handbook.docx": 4, "notes.txt": 0, "report.pdf": 2}


# ---------------------------------------------------------------------- bad files
@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("locked.pdf", encrypted_pdf_bytes("secret"), "encrypted: it needs a password"),
        ("scan.pdf", pdf_bytes(blank=True), "no extractable text in its 2 page(s)"),
        ("broken.pdf", b"%PDF-1.7\n" + b"\x00garbage that is not a pdf\n" * 40, "corrupted or not a valid PDF"),
        ("fake.pdf", b"just some text named like a PDF", "not a PDF file"),
        ("broken.docx", docx_bytes(corrupt=True), "not a valid zip"),
        ("nodoc.docx", None, "no word/document.xml"),
        ("blob.html", b"\x00\x01\x02\x03" * 100, "binary"),
    ],
)
def test_bad_files_raise_a_reason(tmp_path: Path, name: str, data: bytes | None, reason: str) -> None:
    if data is None:
        import zipfile

        with zipfile.ZipFile(tmp_path / name, "w") as archive:
            archive.writestr("hello.txt", "not a Word document")
    else:
        _write(tmp_path / name, data)
    with pytest.raises(ExtractError, match=re.escape(reason)):
        extract(tmp_path / name)


def test_pdf_encrypted_without_a_user_password_is_read(tmp_path: Path) -> None:
    result = extract(_write(tmp_path / "open.pdf", encrypted_pdf_bytes("")))
    assert "Margit Olsen" in result.text


def test_folder_with_bad_files_indexes_the_rest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hash_encoder) -> None:  # type: ignore[no-untyped-def]
    docs = write_all_formats(tmp_path / "docs")
    _write(docs / "locked.pdf", encrypted_pdf_bytes("secret"))
    _write(docs / "scan.pdf", pdf_bytes(blank=True))
    _write(docs / "broken.docx", docx_bytes(corrupt=True))
    _write(docs / "huge.html", "<p>" + "Too much text. " * 2000 + "</p>")
    monkeypatch.setitem(formats.MAX_BYTES, "html", 20_000)
    index = Index.build(docs, tmp_path / "index", encoder=hash_encoder)
    assert index.documents == ["garden.html", "guide.md", "handbook.docx", "notes.txt", "report.pdf"]
    skipped = {s.path: s.reason for s in read_folder(docs).skipped}
    assert set(skipped) == {"locked.pdf", "scan.pdf", "broken.docx", "huge.html"}
    assert skipped["huge.html"] == "too large: 29.3 KiB, the limit for this format is 19.5 KiB"


def test_an_indexed_file_that_turns_bad_keeps_its_indexed_version(tmp_path: Path, hash_encoder) -> None:  # type: ignore[no-untyped-def]
    docs = write_all_formats(tmp_path / "docs")
    index = Index.build(docs, tmp_path / "index", encoder=hash_encoder)
    before = {pid: p for pid, p in index.passages.items() if p.doc == "report.pdf"}
    (docs / "report.pdf").write_bytes(b"%PDF-1.7\n" + b"\x00truncated download" * 10)
    report = index.update(docs)
    assert not report.changed_anything
    assert [s.path for s in report.skipped] == ["report.pdf"] and "previously indexed version is kept" in report.skipped[0].reason
    assert {pid: p for pid, p in index.passages.items() if p.doc == "report.pdf"} == before


def test_unchanged_files_are_not_extracted_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hash_encoder) -> None:  # type: ignore[no-untyped-def]
    docs = write_all_formats(tmp_path / "docs")
    index = Index.build(docs, tmp_path / "index", encoder=hash_encoder)
    calls: list[str] = []
    real = formats.extract

    def counting(path, data=None):  # type: ignore[no-untyped-def]
        calls.append(Path(path).name)
        return real(path, data)

    monkeypatch.setattr("qa.ingest.folder.extract", counting)
    (docs / "guide.md").write_text(MARKDOWN + "\nOne more line about updates.\n", encoding="utf-8")
    report = index.update(docs)
    assert report.changed == ["guide.md"]
    assert sorted(calls) == ["guide.md", "notes.txt"]  # .txt is always decoded: its hash is of the text


# ---------------------------------------------------------------------- index, citations, CLI
def test_passages_carry_pages_and_sections_and_slice_back(tmp_path: Path, hash_encoder) -> None:  # type: ignore[no-untyped-def]
    docs = write_all_formats(tmp_path / "docs")
    index = Index.build(docs, tmp_path / "index", encoder=hash_encoder)
    texts = {p.name: extract(p) for p in docs.iterdir()}
    for passage in index.passages.values():
        extracted = texts[passage.doc]
        assert extracted.text[passage.start : passage.end] == passage.text
        if extracted.regions:  # the passage lies inside one region, and carries its page / section
            (region,) = [r for r in extracted.regions if r.start <= passage.start and passage.end <= r.end]
            assert (passage.page, passage.section) == (region.page, region.section)
    pages = {p.page for p in index.passages.values() if p.doc == "report.pdf"}
    assert pages == {1, 2}
    reopened = Index.open(tmp_path / "index", encoder=hash_encoder)
    assert reopened.passages == index.passages


def test_cli_extract_prints_the_text_citations_point_into(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path / "report.pdf", pdf_bytes())
    assert main(["extract", str(path)]) == 0
    assert capsys.readouterr().out == extract(path).text
    assert main(["extract", "--regions", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("\t")[1] for line in lines] == ["report.pdf, p. 1", "report.pdf, p. 2"]


@pytest.mark.parametrize(("name", "data", "message"), [
    ("locked.pdf", None, "encrypted"),
    ("missing.pdf", b"", "file not found"),
    ("slides.pptx", b"PK", "unsupported file type"),
])
def test_cli_extract_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, data: bytes | None, message: str) -> None:
    path = tmp_path / name
    if data is None:
        path.write_bytes(encrypted_pdf_bytes("secret"))
    elif data:
        path.write_bytes(data)
    assert main(["extract", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err


@pytest.mark.model
def test_a_fact_on_page_2_is_cited_with_page_2(tmp_path: Path, real_encoder, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    docs = write_all_formats(tmp_path / "docs")
    index = Index.build(docs, tmp_path / "index", encoder=real_encoder)
    answer = index.ask("Who is the lighthouse keeper?")
    assert answer.found and "Margit Olsen" in answer.text
    (citation,) = answer.citations
    assert (citation.doc, citation.page, citation.location) == ("report.pdf", 2, "report.pdf, p. 2")
    assert extract(docs / "report.pdf").text[citation.start : citation.end] == citation.text
    answer = index.ask("When does the bus leave for the field trip?")
    assert answer.found and "7:30" in answer.text
    assert answer.citations[0].location == "handbook.docx > Field Trip Handbook > Travel"
    answer = index.ask("How much sun do roses need?")
    assert answer.citations[0].location == "garden.html > Garden guide > Roses"
    assert json.loads(json.dumps(answer.to_dict()))["citations"][0]["section"] == ["Garden guide", "Roses"]


def _write(path: Path, data: str | bytes) -> Path:
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def test_section_path_leads_what_the_models_read(tmp_path: Path, hash_encoder) -> None:  # type: ignore[no-untyped-def]
    from qa.ingest.titles import embedding_input

    docs = write_all_formats(tmp_path / "docs")
    index = Index.build(docs, tmp_path / "index", encoder=hash_encoder)
    linux = min((p for p in index.passages.values() if p.section == ("Guide", "Installation", "Linux")), key=lambda p: p.start)
    text, spans = embedding_input(linux)
    assert text.startswith("Guide > Installation > Linux: Linux On Linux, install")
    first = linux.text[linux.sentences[1][0] - linux.start : linux.sentences[1][1] - linux.start]
    assert text[spans[1][0] : spans[1][1]] == " ".join(first.split())
    # A heading with nothing under it (Installation's own text is one sentence, so it stays) is no passage of its own.
    assert not [p for p in index.passages.values() if p.text in ("Guide", "Field Trip Handbook")]
