"""What the chat page does, without Gradio: check input, store new documents,
update the index behind the readers' backs, and format replies.

``app.py`` only wires these to widgets, so everything here is testable with
the hash encoder and no browser.

Usage example::

    from qa import Index
    from qa.chat import ChatService, prepare_upload, reply_text

    service = ChatService(Index.build("docs_src", "index"), "docs_src")
    print(reply_text(service.ask("Who invited Putin to North Korea?")))
    job = service.submit([prepare_upload("notes.txt", b"Some new text.")])
    job.wait()
    print(job.message)
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import threading
import unicodedata
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Literal, Sequence

from .errors import QAError, QuestionError
from .index import Index, UpdateReport
from .formats import ExtractError, extract, kind_of
from .ingest import SUPPORTED_SUFFIXES, looks_binary
from .types import Answer, Hit

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 1000  # a question longer than this is almost surely pasted text
MAX_UPLOAD_BYTES = 2 * 1024 * 1024  # per text file (.txt, .md, .html) or pasted text; the page states it
MAX_BINARY_UPLOAD_BYTES = 20 * 1024 * 1024  # per PDF or Word file: they carry fonts and images
BINARY_KINDS = frozenset({"pdf", "docx", "html"})  # stored byte for byte (HTML may be in a legacy encoding)
ACCEPTED = ", ".join(sorted(SUPPORTED_SUFFIXES))
MAX_FILENAME_CHARS = 120
MAX_QUEUED_UPDATES = 4

# What the page calls each mode -> what Index.ask takes.
MODES: dict[str, str] = {"hybrid": "hybrid", "dense": "dense", "keyword": "bm25"}

# Questions about the default corpus, offered on the empty page.
DEFAULT_DOCUMENT = "putin_north_korea_visit.txt"
EXAMPLE_QUESTIONS = (
    "Who invited Putin to North Korea?",
    "How long had it been since Putin last visited North Korea?",
    "What natural resources is North Korea rich in?",
    "In which city will Putin meet Vietnamese leaders?",
)

FOLLOW_UP_NOTE = (
    "Each question is answered on its own: the assistant does not read earlier turns, "
    "so name the subject again (\u201cWhere will Putin go next?\u201d rather than \u201cWhere will he go next?\u201d)."
)
NO_ANSWER = "The documents do not cover this question."


class UploadError(QAError):
    """A file or pasted text that cannot be added; the message names it and why."""


class BusyError(QAError):
    """Too many index updates are already waiting."""


# ---------------------------------------------------------------------- input checks
def check_question(question: Any) -> str:
    """The question, stripped, if the page should answer it.

    Raises:
        QuestionError: empty, not text, or longer than ``MAX_QUESTION_CHARS``.
    """
    if not isinstance(question, str):
        raise QuestionError(f"the question must be text, got {type(question).__name__}")
    question = question.strip()
    if not question:
        raise QuestionError("The question is empty: type a question about your documents.")
    if len(question) > MAX_QUESTION_CHARS:
        raise QuestionError(
            f"The question is {len(question):,} characters long; the limit is {MAX_QUESTION_CHARS:,}. "
            "Ask the question itself, or add long text as a document under \u201cAdd documents\u201d."
        )
    return question


_UNSAFE_CHARS = re.compile(r"[^\w .()\[\]+,-]")


def safe_filename(name: Any) -> str:
    """A plain file name of a supported type that can only land inside the documents folder.

    Folders, ``..``, absolute paths, hidden names, control characters and
    other extensions are refused rather than repaired, so a user sees what
    was wrong; odd but harmless characters become ``_``.

    Raises:
        UploadError: the name is unusable; the message says why.
    """
    if not isinstance(name, str):
        raise UploadError(f"the file name must be text, got {type(name).__name__}")
    shown = name if len(name) <= 80 else name[:77] + "..."
    name = unicodedata.normalize("NFC", name.strip())
    if not name:
        raise UploadError("the file has no name")
    if any(unicodedata.category(ch) == "Cc" for ch in name):
        raise UploadError(f"{shown!r}: the file name contains control characters")
    if "/" in name or "\\" in name or name in (".", "..") or re.match(r"^[A-Za-z]:", name):
        raise UploadError(f"{shown!r}: give a plain file name, without folders or '..'")
    if name.startswith("."):
        raise UploadError(f"{shown!r}: hidden file names (starting with '.') are not indexed")
    stem, dot, suffix = name.rpartition(".")
    if not dot or f".{suffix.lower()}" not in SUPPORTED_SUFFIXES or not stem.strip(" ."):
        raise UploadError(f"{shown!r}: only these file types can be added: {ACCEPTED}")
    stem = _UNSAFE_CHARS.sub("_", stem).strip(" ")[: MAX_FILENAME_CHARS - len(suffix) - 1]
    return f"{stem}.{suffix.lower()}"


def title_filename(title: Any) -> str:
    """The file name for pasted text: the title with unsafe characters replaced, plus ``.txt``.

    Raises:
        UploadError: no usable title.
    """
    if not isinstance(title, str) or not title.strip():
        raise UploadError("give the pasted text a title: it becomes the document name shown in citations")
    title = unicodedata.normalize("NFC", title.strip())
    if title.lower().endswith((".txt", ".md")):
        title = title.rsplit(".", 1)[0]
    cleaned = re.sub(r"[^\w .()\[\]+,-]+", "-", title)
    cleaned = re.sub(r"-{2,}", "-", cleaned).strip(" .-_")[: MAX_FILENAME_CHARS - 4].rstrip(" .")
    if not cleaned:
        raise UploadError(f"the title {title[:80]!r} has no letters or digits to name a file with")
    return f"{cleaned}.txt"


def decode_text(name: str, data: bytes) -> str:
    """The text of an upload, if it is non-empty UTF-8 text within the size limit.

    Raises:
        UploadError: too large, empty, binary or not UTF-8.
    """
    if len(data) > MAX_UPLOAD_BYTES:
        raise UploadError(f"{name}: {_size(len(data))} is over the {_size(MAX_UPLOAD_BYTES)} limit per document")
    if looks_binary(data):
        raise UploadError(f"{name}: this looks like a binary file, not text; save it as .txt or .md first")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UploadError(f"{name}: not UTF-8 text (bad byte at position {exc.start}); save it as UTF-8 and try again") from None
    if not text.strip():
        raise UploadError(f"{name}: the file is empty")
    return text


def _size(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB" if n >= 1024 * 1024 else f"{n / 1024:.0f} KB" if n >= 1024 else f"{n} bytes"


def upload_limit(name: str) -> int:
    """The size limit for an upload with this (safe) name."""
    return MAX_BINARY_UPLOAD_BYTES if kind_of(name) in ("pdf", "docx") else MAX_UPLOAD_BYTES


@dataclass(frozen=True)
class NewDocument:
    """A checked document waiting to be written: a safe file name and its text
    (``.txt``/``.md``/pasted), or its bytes (``data``: PDF, Word, HTML)."""

    name: str
    text: str = ""
    data: bytes | None = field(default=None, repr=False)

    @property
    def content(self) -> bytes:
        return self.data if self.data is not None else self.text.encode("utf-8")


def prepare_upload(name: str, data: bytes) -> NewDocument:
    """Check an uploaded file's name and content.

    Raises:
        UploadError: the name or the content is unusable.
    """
    safe = safe_filename(name)
    if kind_of(safe) not in BINARY_KINDS:
        return NewDocument(safe, decode_text(safe, data))
    limit = upload_limit(safe)
    if len(data) > limit:
        raise UploadError(f"{safe}: {_size(len(data))} is over the {_size(limit)} limit per document")
    try:
        extract(safe, data)  # refuse now what the index would skip later
    except ExtractError as exc:
        raise UploadError(f"{safe}: {exc}") from None
    return NewDocument(safe, data=data)


def prepare_paste(title: str, text: Any) -> NewDocument:
    """Check pasted text and its title.

    Raises:
        UploadError: no title, or the text is empty or too large.
    """
    name = title_filename(title)
    if not isinstance(text, str) or not text.strip():
        raise UploadError("the pasted text is empty")
    return NewDocument(name, decode_text(name, text.encode("utf-8")))


def save_document(docs_dir: str | Path, doc: NewDocument) -> tuple[Path | None, str]:
    """Write ``doc`` into ``docs_dir`` without replacing any existing file.

    An existing file with the same text is left alone; one with other text
    keeps its name and the new document gets ``name (2).txt``. The write goes
    to a hidden temp file first (never indexed), then is hard-linked into
    place, which fails rather than overwrite a file that appeared meanwhile.

    Returns:
        ``(path written or None, what happened)``.

    Raises:
        UploadError: the final path would leave ``docs_dir`` (cannot happen
            with names from :func:`safe_filename`; checked anyway).
    """
    root = Path(docs_dir).resolve()
    root.mkdir(parents=True, exist_ok=True)
    stem, suffix = doc.name.rsplit(".", 1)
    for n in range(1, 1000):
        name = doc.name if n == 1 else f"{stem} ({n}).{suffix}"
        target = root / name
        if target.parent != root or target.name != name:
            raise UploadError(f"{doc.name!r} would be written outside the documents folder")
        if target.is_symlink() or target.exists():
            try:
                if target.is_file() and not target.is_symlink() and _same_content(target, doc):
                    return None, f"{name} is already in the documents folder with the same text"
            except (OSError, UnicodeDecodeError):
                pass
            continue
        tmp = root / f".upload-{secrets.token_hex(6)}.tmp"
        try:
            with open(tmp, "xb") as fh:
                fh.write(doc.content)
            # link() fails if a file appeared meanwhile, so nothing is ever overwritten.
            os.link(tmp, target)
        except FileExistsError:
            continue
        finally:
            tmp.unlink(missing_ok=True)
        note = "" if name == doc.name else f" ({doc.name} already exists with other text)"
        return target, f"saved as {name}{note}"
    raise UploadError(f"too many documents named like {doc.name}; rename the file")


def _same_content(path: Path, doc: NewDocument) -> bool:
    data = path.read_bytes()
    if doc.data is not None:
        return data == doc.data
    return data.decode("utf-8-sig") == doc.text


# ---------------------------------------------------------------------- the service
@dataclass
class UpdateJob:
    """One request to add documents; runs on the service's single update thread."""

    documents: list[NewDocument]
    state: Literal["waiting", "saving", "indexing", "done", "failed"] = "waiting"
    message: str = "Waiting for another update to finish\u2026"
    notes: list[str] = field(default_factory=list)
    report: UpdateReport | None = None
    stats: dict[str, Any] | None = None
    future: Future | None = field(default=None, repr=False)

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed")

    def wait(self, timeout: float | None = None) -> UpdateJob:
        if self.future is not None:
            self.future.result(timeout)
        return self


class ChatService:
    """Answers questions from the current index while updates build the next one.

    Updates run one at a time on a background thread, on a fresh ``Index``
    opened from disk (reusing the loaded encoder); the reference readers use
    is swapped only when the update has been committed, so a question is
    always answered from a complete index, old or new.
    """

    def __init__(self, index: Index, docs_dir: str | Path) -> None:
        self._index = index
        self.docs_dir = Path(docs_dir)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qa-update")
        self._jobs_lock = threading.Lock()
        self._pending: list[UpdateJob] = []

    @property
    def index(self) -> Index:
        return self._index

    @property
    def updating(self) -> bool:
        with self._jobs_lock:
            return bool(self._pending)

    def ask(self, question: str, k: int = 5, mode: str = "hybrid") -> Answer:
        """Answer from the index as it is now (never a half-updated one).

        Raises:
            QuestionError: empty or too long.
            ValueError: ``k`` outside 1..50 or an unknown mode.
        """
        question = check_question(question)
        if isinstance(k, float) and k.is_integer():
            k = int(k)
        if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= 50:
            raise ValueError(f"number of passages must be a whole number from 1 to 50, got {k!r}")
        mode = MODES.get(mode, mode)  # page labels or Index.ask names
        return self._index.ask(question, k=k, mode=mode)

    def stats(self) -> dict[str, Any]:
        stats = dict(self._index.stats())
        stats["documents_list"] = list(self._index.documents)
        return stats

    def submit(self, documents: Sequence[NewDocument]) -> UpdateJob:
        """Queue ``documents`` to be saved and indexed; returns at once.

        Raises:
            UploadError: nothing to add.
            BusyError: ``MAX_QUEUED_UPDATES`` updates are already waiting.
        """
        if not documents:
            raise UploadError(f"nothing to add: choose files ({ACCEPTED}), or paste text with a title")
        job = UpdateJob(list(documents))
        with self._jobs_lock:
            if len(self._pending) >= MAX_QUEUED_UPDATES:
                raise BusyError(f"{len(self._pending)} updates are already waiting; try again in a minute")
            if not self._pending:
                job.message = "Starting\u2026"
            self._pending.append(job)
            job.future = self._executor.submit(self._run, job)
        return job

    def _run(self, job: UpdateJob) -> None:
        written: list[Path] = []
        try:
            job.state = "saving"
            job.message = f"Saving {_count(len(job.documents), 'document')}\u2026"
            for doc in job.documents:
                path, note = save_document(self.docs_dir, doc)
                job.notes.append(note)
                if path is not None:
                    written.append(path)
            if not written:
                job.state, job.message = "done", "Nothing new to index: " + "; ".join(job.notes)
                job.stats = self.stats()
                return
            job.state = "indexing"
            job.message = f"Indexing {_count(len(written), 'new document')} (embedding passages)\u2026 questions are still answered meanwhile."
            current = self._index
            fresh = Index.open(current.index_dir, encoder=current.encoder)
            job.report = fresh.update(self.docs_dir)
            fresh.warm_up()  # the reader loads here, not on the next user's question
            self._index = fresh  # the swap: readers see the old or the new index, nothing between
            job.stats = self.stats()
            job.state = "done"
            job.message = "Added: " + "; ".join(job.notes) + f". The index now holds {_counts(job.stats)}."
        except Exception as exc:  # noqa: BLE001 - the server must keep running; the message goes to the page
            for path in written:
                path.unlink(missing_ok=True)  # keep the folder in step with the index
            if not isinstance(exc, QAError):
                log.exception("index update failed")
            job.state = "failed"
            job.message = f"Could not add the documents: {exc}. The index is unchanged."
            job.stats = self.stats()
        finally:
            with self._jobs_lock:
                self._pending.remove(job)

    def close(self) -> None:
        self._executor.shutdown(wait=True)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _counts(stats: dict[str, Any]) -> str:
    return f"{_count(stats['documents'], 'document')} and {_count(stats['passages'], 'passage')}"


# ---------------------------------------------------------------------- formatting
_ESCAPES = str.maketrans({
    "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;",
    # Markdown and LaTeX markers: harmless inside the reply's HTML block, but a
    # user message is rendered as Markdown, so they are neutralised everywhere.
    **{ch: f"&#{ord(ch)};" for ch in "*_`$~[]|\\#"},
})


def escape(text: str) -> str:
    """HTML-escape ``text`` (in one pass) and neutralise Markdown, so the chat shows it literally."""
    return text.replace("\r\n", "\n").replace("\r", "\n").translate(_ESCAPES).replace("\n", "<br>")


def highlight(text: str, mark: tuple[int, int] | None = None, strong: tuple[int, int] | None = None) -> str:
    """``text`` as safe HTML with ``text[mark]`` in ``<mark>`` and ``text[strong]`` in ``<strong>``.

    Offsets are relative to ``text``. A ``strong`` range must sit inside
    ``mark``; ranges that do not fit are ignored rather than mis-drawn.
    """
    if mark is None or not 0 <= mark[0] < mark[1] <= len(text):
        return escape(text)
    a, b = mark
    inner = escape(text[a:b])
    if strong is not None and a <= strong[0] < strong[1] <= b and (strong[0], strong[1]) != (a, b):
        c, d = strong
        inner = escape(text[a:c]) + "<strong>" + escape(text[c:d]) + "</strong>" + escape(text[d:b])
    return escape(text[:a]) + "<mark>" + inner + "</mark>" + escape(text[b:])


def _bold(text: str, start: int, end: int) -> str:
    """Escaped ``text`` with ``text[start:end]`` in ``<strong>`` (unless that is all of it)."""
    if not 0 <= start < end <= len(text) or (start, end) == (0, len(text)):
        return escape(text)
    return escape(text[:start]) + "<strong>" + escape(text[start:end]) + "</strong>" + escape(text[end:])


def _where(location: str, passage: int, start: int, end: int) -> str:
    return f"{location} \u00b7 passage {passage} \u00b7 chars {start}\u2013{end}"


def _hit_details(hit: Hit, *, open_: bool = False) -> str:
    return (
        f"<details class=\"qa-source\"{' open' if open_ else ''}><summary>{escape(_where(hit.passage.location, hit.passage.number, hit.start, hit.end))}</summary>"
        f"<div class=\"qa-passage\">{escape(hit.text)}</div></details>"
    )


def reply_html(answer: Answer, *, note: str | None = None) -> str:
    """The chat reply: the answer, then each source as an expandable passage with the answer highlighted.

    One HTML block without blank lines, so the chat's Markdown renderer passes
    it through as is; every piece of document text is escaped.
    """
    parts = ['<div class="qa-reply">']
    if not answer.found:
        parts.append(f'<p class="qa-noanswer"><strong>{escape(NO_ANSWER)}</strong> '
                     "No sentence in them answers it closely enough to quote.</p>")
        if answer.hits:
            parts.append(f'<p class="qa-label">Closest passages looked at ({len(answer.hits)}):</p>')
            parts.extend(_hit_details(h) for h in answer.hits)
    else:
        first = answer.citations[0]
        if answer.span and answer.span.strip() != answer.text.strip():
            parts.append(f'<p class="qa-span"><strong>{escape(answer.span)}</strong></p>')
        parts.append(f'<p class="qa-answer">{_bold(first.text, first.span_start - first.start, first.span_end - first.start)}</p>')
        parts.append(f'<p class="qa-label">{"Source" if len(answer.citations) == 1 else "Sources"}:</p>')
        cited = set()
        for n, c in enumerate(answer.citations, 1):
            cited.add((c.doc, c.passage))
            offset = c.passage_start
            body = highlight(c.passage_text, (c.start - offset, c.end - offset), (c.span_start - offset, c.span_end - offset))
            parts.append(
                f'<details class="qa-source"><summary>[{n}] {escape(_where(c.location, c.passage, c.start, c.end))}</summary>'
                f'<div class="qa-passage">{body}</div></details>'
            )
        others = [h for h in answer.hits if (h.doc, h.passage.number) not in cited]
        if others:
            parts.append(f'<details class="qa-more"><summary>{_count(len(others), "other passage")} retrieved</summary>'
                         + "".join(_hit_details(h) for h in others) + "</details>")
    if note:
        parts.append(f'<p class="qa-note"><em>{escape(note)}</em></p>')
    parts.append("</div>")
    return "".join(parts)


def reply_text(answer: Answer, *, passage_chars: int = 300) -> str:
    """The reply as plain text, for the ``/ask`` API: answer, then numbered sources.

    A cited passage is given whole; the closest passages of a no-answer are
    cut to ``passage_chars``.
    """
    if not answer.found:
        lines = [NO_ANSWER]
        if answer.hits:
            lines += ["", "Closest passages looked at:"]
            lines += [f"[{n}] {h.passage.location}, passage {h.passage.number}, chars {h.start}-{h.end}: {_shorten(h.text, passage_chars)}"
                      for n, h in enumerate(answer.hits, 1)]
        return "\n".join(lines)
    lines = []
    if answer.span and answer.span.strip() != answer.text.strip():
        lines.append(answer.span)
    lines += [f"\u201c{_shorten(answer.text, 10_000)}\u201d", "", "Sources:"]
    for n, c in enumerate(answer.citations, 1):
        lines.append(f"[{n}] {c.location}, passage {c.passage}, chars {c.start}-{c.end}")
        lines.append(f"    {_shorten(c.passage_text, 10_000)}")
    return "\n".join(lines)


def _shorten(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "\u2026"


def status_markdown(stats: dict[str, Any], *, updating: bool = False, max_listed: int = 15) -> str:
    """The index status panel: model, counts, last build time, documents."""
    updated = stats.get("updated") or "never"
    if isinstance(updated, str) and updated.endswith("Z") and "T" in updated:
        updated = updated.replace("T", " ").rstrip("Z") + " UTC"
    lines = [
        f"**Model:** `{stats.get('model')}`  ",
        f"**Documents:** {stats.get('documents', 0)} \u00b7 **Passages:** {stats.get('passages', 0)}  ",
        f"**Last build:** {updated}",
    ]
    if updating:
        lines.append("\n\u23f3 *Updating the index; questions are answered from the current one meanwhile.*")
    names: Iterable[str] = stats.get("documents_list") or ()
    names = list(names)
    if names:
        shown = ", ".join(f"`{n}`" for n in names[:max_listed])
        more = f" and {len(names) - max_listed} more" if len(names) > max_listed else ""
        lines.append(f"\n**Files:** {shown}{more}")
    return "\n".join(lines)


def example_questions(documents: Iterable[str]) -> list[str]:
    """Example questions for the empty page: only when the default document is indexed."""
    return list(EXAMPLE_QUESTIONS) if DEFAULT_DOCUMENT in set(documents) else []
