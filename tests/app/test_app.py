"""The chat page: its helpers (fast, no model) and the running app end to end.

The end-to-end part starts ``app.py`` once for this module, on a free port
with a temporary copy of the sample document (``tests/data/corpus/``, never the
repository's ``docs_src/``) and a temporary index, then drives it
in headless Debian chromium (marked ``browser``) and through ``gradio_client``
(marked ``model``: the real embedding model answers).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import CORPUS, REPO, SEED_DEV
from doc_fixtures import docx_bytes, encrypted_pdf_bytes, pdf_bytes
from qa import Answer, Citation, Hit, Index, Passage, QuestionError
from qa.app.service import MAX_QUESTION_CHARS, BusyError, ChatService, check_question
from qa.app.uploads import (
    MAX_BINARY_UPLOAD_BYTES,
    MAX_UPLOAD_BYTES,
    NewDocument,
    UploadError,
    decode_text,
    prepare_paste,
    prepare_upload,
    safe_filename,
    save_document,
    title_filename,
    upload_limit,
)
from qa.app.render import NO_ANSWER, escape, example_questions, highlight, reply_html, reply_text, status_markdown
from qa.retrieval.encoder import HashEncoder

ARTIFACTS = REPO / "test-artifacts"  # gitignored: screenshots and timings of the browser test
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


# ====================================================================== helpers, no model
class TestQuestion:
    def test_strips_and_accepts(self) -> None:
        assert check_question("  Who invited Putin?\n") == "Who invited Putin?"

    @pytest.mark.parametrize("bad", ["", "   ", "\n\t"])
    def test_empty_is_refused(self, bad: str) -> None:
        with pytest.raises(QuestionError, match="empty"):
            check_question(bad)

    def test_too_long_names_length_and_limit(self) -> None:
        with pytest.raises(QuestionError, match=r"10,000 characters.*limit is 1,000"):
            check_question("x" * 10_000)
        assert check_question("y" * MAX_QUESTION_CHARS)

    def test_not_text(self) -> None:
        with pytest.raises(QuestionError, match="must be text"):
            check_question(None)


class TestFileNames:
    @pytest.mark.parametrize("name, expected", [
        ("notes.txt", "notes.txt"),
        ("Notes.MD", "Notes.md"),
        ("my report (v2).txt", "my report (v2).txt"),
        ("report: v2*?.txt", "report_ v2__.txt"),
        ("café.md", "café.md"),
    ])
    def test_plain_names_pass(self, name: str, expected: str) -> None:
        assert safe_filename(name) == expected

    @pytest.mark.parametrize("name, why", [
        ("../evil.txt", "without folders"),
        ("../../etc/passwd.txt", "without folders"),
        ("/etc/passwd.txt", "without folders"),
        ("sub/notes.txt", "without folders"),
        ("..\\..\\win.txt", "without folders"),
        ("C:evil.txt", "without folders"),
        ("..", "without folders"),
        (".hidden.txt", "hidden"),
        (".txt", "hidden"),
        ("notes.doc", "only these file types"),
        ("notes", "only these file types"),
        ("notes.txt.exe", "only these file types"),
        ("...txt", "hidden"),
        ("a\x00b.txt", "control characters"),
        ("line\nbreak.txt", "control characters"),
        ("", "no name"),
    ])
    def test_tricks_are_refused(self, name: str, why: str) -> None:
        with pytest.raises(UploadError, match=why):
            safe_filename(name)

    def test_long_name_is_cut_but_keeps_suffix(self) -> None:
        name = safe_filename("a" * 500 + ".md")
        assert name.endswith(".md") and len(name) <= 120

    @pytest.mark.parametrize("title, expected", [
        ("Meeting notes", "Meeting notes.txt"),
        ("../../etc/passwd", "etc-passwd.txt"),
        ("Q3 plan: draft/v2", "Q3 plan- draft-v2.txt"),
        ("notes.md", "notes.txt"),
        (".bashrc", "bashrc.txt"),
    ])
    def test_titles_become_safe_names(self, title: str, expected: str) -> None:
        assert title_filename(title) == expected

    @pytest.mark.parametrize("title", ["", "   ", "../..", "///", None])
    def test_unusable_titles(self, title: object) -> None:
        with pytest.raises(UploadError):
            title_filename(title)


class TestUploadContent:
    def test_text_is_decoded(self) -> None:
        assert decode_text("a.txt", "\ufeffhéllo\r\nworld".encode()) == "héllo\r\nworld"

    def test_binary(self) -> None:
        with pytest.raises(UploadError, match="binary"):
            decode_text("a.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")

    @pytest.mark.parametrize("data", [b"", b"  \n\n "])
    def test_empty(self, data: bytes) -> None:
        with pytest.raises(UploadError, match="empty"):
            decode_text("a.txt", data)

    def test_oversize(self) -> None:
        with pytest.raises(UploadError, match=r"a.txt: 2.0 MB is over the 2.0 MB limit"):
            decode_text("a.txt", b"a" * (MAX_UPLOAD_BYTES + 1))

    def test_not_utf8(self) -> None:
        with pytest.raises(UploadError, match="not UTF-8"):
            decode_text("a.txt", "Grüße aus Köln".encode("latin-1"))

    def test_prepare_upload_checks_name_first(self) -> None:
        with pytest.raises(UploadError, match="without folders"):
            prepare_upload("../x.txt", b"fine text")
        assert prepare_upload("x.txt", b"fine text") == NewDocument("x.txt", "fine text")

    def test_prepare_paste(self) -> None:
        assert prepare_paste("My notes", "Some text.") == NewDocument("My notes.txt", "Some text.")
        with pytest.raises(UploadError, match="empty"):
            prepare_paste("My notes", "  ")
        with pytest.raises(UploadError, match="title"):
            prepare_paste("", "Some text.")


def test_chat_accepts_a_pdf_upload_and_stores_its_bytes(tmp_path: Path) -> None:
    data = pdf_bytes()
    doc = prepare_upload("Report.PDF", data)
    assert doc.name == "Report.pdf" and doc.content == data
    path, note = save_document(tmp_path, doc)
    assert path is not None and path.read_bytes() == data and note == "saved as Report.pdf"
    assert save_document(tmp_path, doc) == (None, "Report.pdf is already in the documents folder with the same text")


@pytest.mark.parametrize(("name", "data", "why"), [
    ("locked.pdf", encrypted_pdf_bytes("secret"), "encrypted"),
    ("scan.pdf", pdf_bytes(blank=True), "no extractable text"),
    ("broken.docx", docx_bytes(corrupt=True), "corrupted"),
])
def test_chat_refuses_unreadable_uploads_with_the_reason(name: str, data: bytes, why: str) -> None:
    with pytest.raises(UploadError, match=why):
        prepare_upload(name, data)


def test_chat_limits_depend_on_the_format() -> None:
    assert upload_limit("a.pdf") == upload_limit("a.docx") == MAX_BINARY_UPLOAD_BYTES
    assert upload_limit("a.html") == upload_limit("a.txt") == MAX_UPLOAD_BYTES
    with pytest.raises(UploadError, match="over the"):
        prepare_upload("big.html", b"<p>" + b"x" * MAX_UPLOAD_BYTES + b"</p>")


class TestSaveDocument:
    def test_writes_inside_the_folder(self, tmp_path: Path) -> None:
        path, note = save_document(tmp_path / "docs", NewDocument("a.txt", "hello\r\n"))
        assert path == (tmp_path / "docs" / "a.txt").resolve()
        assert path.read_bytes() == b"hello\r\n"
        assert note == "saved as a.txt"
        assert [p.name for p in (tmp_path / "docs").iterdir()] == ["a.txt"]  # no temp file left

    def test_never_overwrites(self, tmp_path: Path) -> None:
        (tmp_path / "a.txt").write_text("original")
        path, note = save_document(tmp_path, NewDocument("a.txt", "other"))
        assert path is not None and path.name == "a (2).txt" and "already exists" in note
        assert (tmp_path / "a.txt").read_text() == "original"

    def test_same_text_is_not_duplicated(self, tmp_path: Path) -> None:
        (tmp_path / "a.txt").write_text("same")
        assert save_document(tmp_path, NewDocument("a.txt", "same")) == (None, "a.txt is already in the documents folder with the same text")

    def test_does_not_follow_a_symlink(self, tmp_path: Path) -> None:
        outside = tmp_path / "outside.txt"
        outside.write_text("keep me")
        docs = tmp_path / "docs"
        docs.mkdir()
        (docs / "a.txt").symlink_to(outside)
        path, _ = save_document(docs, NewDocument("a.txt", "new"))
        assert path is not None and path.parent == docs.resolve() and path.name == "a (2).txt"
        assert outside.read_text() == "keep me"

    def test_refuses_a_name_that_escapes(self, tmp_path: Path) -> None:
        with pytest.raises(UploadError, match="outside"):
            save_document(tmp_path / "docs", NewDocument("../x.txt", "text"))


# ---------------------------------------------------------------------- formatting
DOC_TEXT = "Intro line.\nThe visit came at the invitation of Kim Jong Un. It lasted two days."


def _passage(number: int = 0, start: int = 0, end: int = len(DOC_TEXT), doc: str = "visit.txt") -> Passage:
    return Passage(id=number, doc=doc, number=number, start=start, end=end, text=DOC_TEXT[start:end])


def _answer(span: tuple[int, int] | None = None) -> Answer:
    start = DOC_TEXT.index("The visit")
    end = DOC_TEXT.index(" It lasted")
    span_start, span_end = span or (start, end)
    citation = Citation(doc="visit.txt", passage=0, start=start, end=end, text=DOC_TEXT[start:end], score=0.8,
                        passage_start=0, passage_end=len(DOC_TEXT), passage_text=DOC_TEXT,
                        span_start=span_start, span_end=span_end)
    hits = (Hit(_passage(), 1.0), Hit(_passage(1, 0, 11, doc="other <b>.txt"), 0.5))
    return Answer("Who invited him?", citation.text, 0.8, (citation,), hits)


class TestFormatting:
    def test_escape_is_one_pass_and_literal(self) -> None:
        assert escape("it's <b>&amp;</b> *x* $y$\nz") == "it&#39;s &lt;b&gt;&amp;amp;&lt;/b&gt; &#42;x&#42; &#36;y&#36;<br>z"

    def test_highlight_marks_sentence_and_span(self) -> None:
        text = "ab <cd> ef"
        assert highlight(text, (3, 7)) == "ab <mark>&lt;cd&gt;</mark> ef"
        assert highlight(text, (3, 7), (4, 6)) == "ab <mark>&lt;<strong>cd</strong>&gt;</mark> ef"
        assert highlight(text, (5, 99)) == "ab &lt;cd&gt; ef"  # out of range: no mark rather than a wrong one
        assert highlight(text, (3, 7), (0, 2)) == "ab <mark>&lt;cd&gt;</mark> ef"  # span outside the sentence

    def test_reply_shows_answer_source_and_highlight(self) -> None:
        html = reply_html(_answer())
        assert html.startswith('<div class="qa-reply">') and html.endswith("</div>")
        assert "\n\n" not in html  # one HTML block: Markdown must not split it
        assert "visit.txt · passage 0 · chars 12–60" in html
        assert "<mark>The visit came at the invitation of Kim Jong Un.</mark>" in html
        assert "<details" in html and "<summary>" in html
        assert "Intro line.<br>" in html
        assert "1 other passage retrieved" in html and "other &lt;b&gt;.txt" in html  # names are escaped too

    def test_highlight_follows_document_offsets_in_a_passage_that_starts_later(self) -> None:
        """Citations give document offsets; the passage shown starts mid-document, so they must be shifted."""
        passage_start = DOC_TEXT.index("The visit")
        start, end = DOC_TEXT.index("It lasted"), len(DOC_TEXT)
        span_start = DOC_TEXT.index("two days")
        citation = Citation(doc="visit.txt", passage=1, start=start, end=end, text=DOC_TEXT[start:end], score=0.8,
                            passage_start=passage_start, passage_end=len(DOC_TEXT), passage_text=DOC_TEXT[passage_start:],
                            span_start=span_start, span_end=span_start + len("two days"))
        html = reply_html(Answer("How long did it last?", citation.text, 0.8, (citation,), ()))
        assert "<mark>It lasted <strong>two days</strong>.</mark>" in html
        assert "The visit came at the invitation of Kim Jong Un. <mark>" in html
        assert f"chars {start}\u2013{end}" in html

    def test_short_span_is_bold_inside_the_mark(self) -> None:
        start = DOC_TEXT.index("Kim")
        html = reply_html(_answer((start, start + len("Kim Jong Un"))))
        assert '<p class="qa-span"><strong>Kim Jong Un</strong></p>' in html
        assert "<mark>The visit came at the invitation of <strong>Kim Jong Un</strong>.</mark>" in html

    def test_no_answer_says_so_and_shows_closest(self) -> None:
        answer = Answer("Who won the World Cup?", "", 0.1, (), (Hit(_passage(), 0.3),))
        html = reply_html(answer, note="updating")
        assert NO_ANSWER in html and "Closest passages looked at (1)" in html
        assert "visit.txt · passage 0" in html and "<mark>" not in html
        assert "<em>updating</em>" in html
        text = reply_text(answer)
        assert text.startswith(NO_ANSWER) and "[1] visit.txt, passage 0, chars 0-" in text

    def test_reply_text_for_the_api(self) -> None:
        start = DOC_TEXT.index("Kim")
        text = reply_text(_answer((start, start + len("Kim Jong Un"))))
        lines = text.splitlines()
        assert lines[0] == "Kim Jong Un"
        assert lines[1] == "\u201cThe visit came at the invitation of Kim Jong Un.\u201d"
        assert "[1] visit.txt, passage 0, chars 12-60" in text
        assert reply_text(_answer()).splitlines()[0].startswith("\u201cThe visit")  # no separate span line

    def test_status_panel(self) -> None:
        stats = {"model": "all-MiniLM-L6-v2", "documents": 2, "passages": 9, "updated": "2025-01-02T03:04:05Z",
                 "documents_list": ["a.txt", "b.md"]}
        md = status_markdown(stats, updating=True)
        assert "`all-MiniLM-L6-v2`" in md and "**Documents:** 2" in md and "**Passages:** 9" in md
        assert "2025-01-02 03:04:05 UTC" in md and "`a.txt`, `b.md`" in md and "Updating" in md

    def test_examples_only_for_the_default_corpus(self) -> None:
        assert example_questions(["putin_north_korea_visit.txt"])
        assert example_questions(["mine.txt"]) == []


# ---------------------------------------------------------------------- the service (hash encoder)
class GatedEncoder(HashEncoder):
    """Blocks embedding on the update thread until released, to catch readers mid-update."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Event()
        self.release = threading.Event()
        self.release.set()

    def encode(self, texts, *, batch_size: int = 64, progress: bool = False):  # type: ignore[no-untyped-def]
        if threading.current_thread().name.startswith("qa-update"):
            self.entered.set()
            assert self.release.wait(20), "test never released the update"
        return super().encode(texts, batch_size=batch_size, progress=progress)


@pytest.fixture
def service(tmp_path: Path):  # type: ignore[no-untyped-def]
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "bakery.txt").write_text("The bakery opened in 1921 on Mill Street. Alma Reyes baked rye bread every morning.\n")
    encoder = GatedEncoder()
    svc = ChatService(Index.build(docs, tmp_path / "index", encoder=encoder), docs)
    yield svc
    encoder.release.set()
    svc.close()


class TestChatService:
    def test_add_document_updates_index_and_counts(self, service: ChatService) -> None:
        job = service.submit([NewDocument("lighthouse.txt", "The lighthouse keeper was Tomas Brandt. He lit the lamp at dusk.")]).wait(20)
        assert job.state == "done", job.message
        assert "saved as lighthouse.txt" in job.message and "2 documents" in job.message
        assert job.stats and job.stats["documents"] == 2
        assert service.index.stats()["documents"] == 2
        assert Index.open(service.index.index_dir, encoder=service.index.encoder).stats()["documents"] == 2

    def test_questions_during_update_use_the_old_index(self, service: ChatService) -> None:
        encoder = service.index.encoder
        encoder.release.clear()  # type: ignore[attr-defined]
        old = service.index
        job = service.submit([NewDocument("new.txt", "Completely new text about comets and their tails.")])
        assert encoder.entered.wait(10)  # type: ignore[attr-defined]
        assert service.updating and job.state == "indexing"
        hits = service.ask("comets tails").hits
        assert service.index is old and {h.doc for h in hits} == {"bakery.txt"}
        encoder.release.set()  # type: ignore[attr-defined]
        job.wait(20)
        assert job.state == "done" and not service.updating
        assert "new.txt" in {h.doc for h in service.ask("comets tails").hits}

    def test_a_second_update_waits_its_turn(self, service: ChatService) -> None:
        encoder = service.index.encoder
        encoder.release.clear()  # type: ignore[attr-defined]
        first = service.submit([NewDocument("one.txt", "First new document about owls.")])
        assert encoder.entered.wait(10)  # type: ignore[attr-defined]
        second = service.submit([NewDocument("two.txt", "Second new document about foxes.")])
        assert second.state == "waiting" and "Waiting for another update" in second.message
        encoder.release.set()  # type: ignore[attr-defined]
        first.wait(20), second.wait(20)
        assert (first.state, second.state) == ("done", "done")
        assert set(service.index.documents) == {"bakery.txt", "one.txt", "two.txt"}

    def test_too_many_waiting_updates_are_refused(self, service: ChatService) -> None:
        encoder = service.index.encoder
        encoder.release.clear()  # type: ignore[attr-defined]
        jobs = [service.submit([NewDocument(f"d{i}.txt", f"Document number {i} about rivers.")]) for i in range(4)]
        with pytest.raises(BusyError, match="already waiting"):
            service.submit([NewDocument("late.txt", "Too late.")])
        encoder.release.set()  # type: ignore[attr-defined]
        assert all(j.wait(30).state == "done" for j in jobs)

    def test_same_document_twice_changes_nothing(self, service: ChatService) -> None:
        text = (service.docs_dir / "bakery.txt").read_text()
        job = service.submit([NewDocument("bakery.txt", text)]).wait(20)
        assert job.state == "done" and "Nothing new to index" in job.message
        assert service.index.stats()["documents"] == 1

    def test_failed_update_removes_the_new_file_and_keeps_the_index(self, service: ChatService, monkeypatch: pytest.MonkeyPatch) -> None:
        old = service.index

        def broken(self, docs_dir, **kwargs):  # type: ignore[no-untyped-def]
            raise OSError("disk full")

        monkeypatch.setattr(Index, "update", broken)
        job = service.submit([NewDocument("x.txt", "Some text.")]).wait(20)
        assert job.state == "failed" and "disk full" in job.message and "unchanged" in job.message
        assert not (service.docs_dir / "x.txt").exists()
        assert service.index is old and service.ask("bakery").hits

    def test_ask_checks_its_input(self, service: ChatService) -> None:
        with pytest.raises(QuestionError):
            service.ask("x" * 10_000)
        with pytest.raises(ValueError, match="1 to 50"):
            service.ask("bakery", k=0)
        with pytest.raises(ValueError):
            service.ask("bakery", mode="psychic")
        assert service.ask("Who baked rye bread?", k=2, mode="keyword").hits[0].doc == "bakery.txt"


# ---------------------------------------------------------------------- app.py without a server
def test_parser_defaults_are_local_and_private() -> None:
    from qa.app import web as app

    args = app.build_parser().parse_args([])
    assert (args.host, args.port, args.share, args.docs, args.index) == ("127.0.0.1", 7860, False, "docs_src", "index")


def _free_port() -> int:
    """A port nothing listens on now (so a chat already running on 7860 cannot change a test)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_main_reports_a_missing_docs_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from qa.app import web as app

    assert app.main(["--docs", str(tmp_path / "nope"), "--index", str(tmp_path / "index"), "--port", str(_free_port())]) == 2
    assert "documents folder not found" in capsys.readouterr().err


def test_main_refuses_an_index_of_another_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from qa.app import web as app

    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "doc.txt").write_text(f"Document in folder {name}.")
    Index.build(tmp_path / "a", tmp_path / "index", encoder=HashEncoder())
    assert app.main(["--docs", str(tmp_path / "b"), "--index", str(tmp_path / "index"), "--port", str(_free_port())]) == 2
    assert "was built from" in capsys.readouterr().err
    assert Index.open(tmp_path / "index", encoder=HashEncoder()).documents == ["doc.txt"]  # nothing dropped


def test_a_busy_port_is_reported_before_loading_anything(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from qa.app import web as app

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert app.port_problem("127.0.0.1", port)
        assert app.main(["--docs", str(tmp_path), "--index", str(tmp_path / "index"), "--port", str(port)]) == 2
    assert "pick another --port" in capsys.readouterr().err
    assert not (tmp_path / "index").exists()


# ====================================================================== end to end
class Server:
    def __init__(self, url: str, docs: Path, proc: subprocess.Popen, log: Path) -> None:
        self.url, self.docs, self.proc, self.log = url, docs, proc, log

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """``app.py`` on a free port with a copy of the sample document and a fresh index; stopped after the module."""
    root = tmp_path_factory.mktemp("chat")
    docs = root / "docs"
    shutil.copytree(CORPUS, docs)
    for path in docs.iterdir():
        path.chmod(0o644)
    port = _free_port()
    log = root / "server.log"
    with open(log, "w") as fh:
        proc = subprocess.Popen(
            [sys.executable, str(REPO / "app.py"), "--docs", str(docs), "--index", str(root / "index"), "--port", str(port)],
            stdout=fh, stderr=subprocess.STDOUT, cwd=root, env={**os.environ, "GRADIO_ANALYTICS_ENABLED": "False"},
        )
    srv = Server(f"http://127.0.0.1:{port}/", docs, proc, log)
    deadline = time.monotonic() + 90
    while True:
        if not srv.alive():
            pytest.fail(f"app.py exited with {proc.returncode}:\n{srv.log_tail()}")
        try:
            with urllib.request.urlopen(srv.url + "gradio_api/info", timeout=2) as resp:
                if resp.status == 200:
                    break
        except OSError:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"app.py did not serve within 90 s:\n{srv.log_tail()}")
        time.sleep(0.3)
    yield srv
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(5)


def _seed(question: str) -> list[str]:
    for line in SEED_DEV.read_text().splitlines():
        row = json.loads(line)
        if row["question"] == question:
            return row["answers"]
    raise AssertionError(f"{question!r} is not in {SEED_DEV}")


NEW_DOC = ("Quillsby Lantern Festival\n\n"
           "The Quillsby Lantern Festival was founded by the glassblower Mirela Vantaggio in 1987.\n"
           "Every October, hundreds of paper lanterns float down the river past the old mill.\n")


NO_CHROMIUM = f"{CHROMIUM} is not installed (apt-get install -y chromium); the browser test needs Debian's chromium"


@pytest.mark.browser
@pytest.mark.model
# Skipped only outside CI: CI installs chromium (scripts/test.sh), so there a missing browser fails.
@pytest.mark.skipif(not Path(CHROMIUM).exists() and not os.environ.get("CI"), reason=NO_CHROMIUM)
def test_chat_page_in_chromium(server: Server, tmp_path: Path) -> None:
    if not Path(CHROMIUM).exists():
        pytest.fail(NO_CHROMIUM)
    from playwright.sync_api import expect, sync_playwright

    question = "Who invited Putin to North Korea?"
    gold = _seed(question)
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1100})
            page.set_default_timeout(20_000)
            expect.set_options(timeout=20_000)  # a loaded 2-core machine (CI) can take seconds to update the page
            page.goto(server.url)
            box = page.locator("#question textarea")
            expect(box).to_be_visible()
            expect(page.locator("#status")).to_contain_text("Documents: 1")
            expect(page.get_by_text("Who invited Putin to North Korea?").first).to_be_visible()  # an example

            replies = page.locator(".qa-reply")
            box.fill(question)
            sent = time.perf_counter()
            box.press("Enter")
            expect(replies).to_have_count(1)
            first_answer_s = time.perf_counter() - sent
            reply = replies.nth(0)
            expect(reply.locator(".qa-answer")).to_contain_text(gold[0])
            expect(reply.locator("summary").first).to_contain_text("putin_north_korea_visit.txt · passage")
            reply.locator("details.qa-source summary").first.click()
            mark = reply.locator("details.qa-source mark").first
            expect(mark).to_be_visible()
            expect(mark).to_contain_text(gold[0])
            assert first_answer_s < 15.0, f"first answer took {first_answer_s:.2f} s"  # a hang check; speed is measured by bench/chat_load.py
            page.screenshot(path=str(ARTIFACTS / "chat.png"), full_page=True)

            box.fill("Who won the 2022 football World Cup?")
            page.click("#ask")
            expect(replies).to_have_count(2)
            expect(replies.nth(1)).to_contain_text(NO_ANSWER)
            expect(replies.nth(1)).to_contain_text("Closest passages looked at (5)")

            # Settings (under "Advanced", closed at first) apply to the next question, no restart: 2 passages, keyword search.
            page.locator("#advanced").get_by_text("Advanced", exact=True).first.click()
            expect(page.locator("#k input[type=number]")).to_be_visible()
            slider, number = page.locator("#k input[type=range]"), page.locator("#k input[type=number]")
            slider.focus()
            # Arrow keys move a slider the way a user does. One key at a time, looking again before the next: a
            # loaded machine re-renders the slider between keys and a press can land on the old value (CI once
            # ended on 3 after three quick presses from 5).
            for _ in range(40):
                if number.input_value() == "2":
                    break
                if int(slider.input_value()) > 2:
                    slider.press("ArrowLeft")
                page.wait_for_timeout(250)
            expect(number).to_have_value("2", timeout=30_000)
            page.locator("#mode label", has_text="keyword").click()
            expect(page.locator("#mode input[value=keyword]")).to_be_checked(timeout=30_000)
            box.fill(question)
            box.press("Enter")
            expect(replies).to_have_count(3)
            expect(replies.nth(2).locator(".qa-answer")).to_contain_text(gold[0])
            expect(replies.nth(2)).to_contain_text("1 other passage retrieved")
            page.locator("#mode label", has_text="hybrid").click()

            # Bad questions: a message, nothing sent, the text kept for editing.
            box.fill("")
            page.click("#ask")
            expect(page.get_by_text("The question is empty").first).to_be_visible()
            box.fill("x" * 10_000)
            page.click("#ask")
            expect(page.get_by_text("the limit is 1,000").first).to_be_visible()
            assert len(box.input_value()) == 10_000
            expect(replies).to_have_count(3)

            # A binary file is refused with its name and reason; the index is untouched.
            binary = tmp_path / "image.txt"
            binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 10)
            upload = page.locator("#upload input[type=file]").first
            upload.set_input_files(str(binary))
            expect(page.locator("#upload td.filename[aria-label='image.txt']")).to_be_visible()
            page.click("#add-files")
            expect(page.locator("#update-status")).to_contain_text("binary")
            expect(page.locator("#upload td.filename")).to_have_count(0)  # the page empties the box once it has read the files

            # A new document: progress, then the new counts, then it answers.
            new_doc = tmp_path / "lantern_festival.txt"
            new_doc.write_text(NEW_DOC)
            upload = page.locator("#upload input[type=file]").first
            upload.set_input_files(str(new_doc))
            expect(page.locator("#upload td.filename[aria-label='lantern_festival.txt']")).to_be_visible()
            page.click("#add-files")
            # The box empties as soon as the files are read; a file chosen while the update runs stays chosen.
            expect(page.locator("#upload td.filename")).to_have_count(0, timeout=30_000)
            report = tmp_path / "report.pdf"
            report.write_bytes(pdf_bytes())
            page.locator("#upload input[type=file]").first.set_input_files(str(report))
            expect(page.locator("#update-status")).to_contain_text("✅", timeout=60_000)
            expect(page.locator("#update-status")).to_contain_text("2 documents")
            expect(page.locator("#upload td.filename[aria-label='report.pdf']")).to_be_visible()
            expect(page.locator("#status")).to_contain_text("Documents: 2")
            assert (server.docs / "lantern_festival.txt").read_text() == NEW_DOC

            box.fill("Who founded the Quillsby Lantern Festival?")
            box.press("Enter")
            expect(replies).to_have_count(4)
            expect(replies.nth(3).locator(".qa-answer")).to_contain_text("Mirela Vantaggio")
            expect(replies.nth(3).locator("summary").first).to_contain_text("lantern_festival.txt")

            # Pasted text whose title tries to climb out of the folder lands inside it.
            page.fill("#paste-title textarea", "../../etc/passwd")
            page.fill("#paste-text textarea", "The ferry to Ostholm leaves at 7:40 every morning from pier 3.")
            page.click("#add-text")
            expect(page.locator("#paste-status")).to_contain_text("saved as etc-passwd.txt", timeout=60_000)
            expect(page.locator("#status")).to_contain_text("Documents: 3")
            assert sorted(p.name for p in server.docs.iterdir()) == [
                "etc-passwd.txt", "lantern_festival.txt", "putin_north_korea_visit.txt"]
            assert not (server.docs.parent / "etc").exists()

            # The PDF chosen during the first update: its answer cites the page it is on.
            expect(page.locator("#upload td.filename[aria-label='report.pdf']")).to_be_visible()
            page.click("#add-files")
            expect(page.locator("#update-status")).to_contain_text("✅", timeout=60_000)
            expect(page.locator("#status")).to_contain_text("Documents: 4")
            box.fill("Who is the lighthouse keeper of the harbour?")
            box.press("Enter")
            expect(replies).to_have_count(5)
            expect(replies.nth(4).locator(".qa-answer")).to_contain_text("Margit Olsen")
            expect(replies.nth(4).locator("summary").first).to_contain_text("report.pdf, p. 2")
            (ARTIFACTS / "chat_timing.json").write_text(json.dumps({"first_answer_seconds": round(first_answer_s, 3)}))
        finally:
            browser.close()
    assert server.alive(), server.log_tail()


@pytest.mark.model
def test_api_ask(server: Server) -> None:
    from gradio_client import Client

    client = Client(server.url, verbose=False)
    reply = client.predict("Who invited Putin to North Korea?", api_name="/ask")
    assert "Kim Jong Un" in reply and "[1] putin_north_korea_visit.txt, passage" in reply
    assert client.predict("Who won the 2022 football World Cup?", api_name="/ask").startswith(NO_ANSWER)


@pytest.mark.model
@pytest.mark.parametrize("bad, message", [("", "empty"), ("   ", "empty"), ("x" * 10_000, "limit is 1,000")])
def test_api_bad_questions_get_a_message(server: Server, bad: str, message: str) -> None:
    from gradio_client import Client

    with pytest.raises(Exception, match=message):
        Client(server.url, verbose=False).predict(bad, api_name="/ask")
    assert server.alive(), server.log_tail()


@pytest.mark.model
def test_api_ten_concurrent_users(server: Server) -> None:
    """10 threads, 3 requests each, all answered correctly; the server keeps running."""
    from concurrent.futures import ThreadPoolExecutor

    from gradio_client import Client

    cases = [("Who invited Putin to North Korea?", "Kim Jong Un"),
             ("What natural resources is North Korea rich in?", "rare earth metals"),
             ("In which city will Putin meet Vietnamese leaders?", "Hanoi")]
    for question, expected in cases:
        assert expected in _seed(question)

    def user(n: int) -> list[tuple[str, str, float]]:
        client = Client(server.url, verbose=False)
        out = []
        for i in range(3):
            question, expected = cases[(n + i) % len(cases)]
            started = time.perf_counter()
            reply = client.predict(question, api_name="/ask")
            out.append((expected, reply, time.perf_counter() - started))
        return out

    with ThreadPoolExecutor(max_workers=10) as pool:
        results = [r for rs in pool.map(user, range(10)) for r in rs]
    assert len(results) == 30
    wrong = [(expected, reply[:120]) for expected, reply, _ in results if expected not in reply]
    assert not wrong, wrong
    assert max(seconds for *_, seconds in results) < 30
    assert server.alive(), server.log_tail()
