"""What the chat page does, without Gradio: answer checked questions, and add
documents on a background thread while readers keep the index they have.

``qa.app.web`` only wires this, ``qa.app.uploads`` and ``qa.app.render`` to
widgets, so everything here is testable with the hash encoder and no browser.

Usage example::

    from qa import Index
    from qa.app.render import reply_text
    from qa.app.service import ChatService
    from qa.app.uploads import prepare_upload

    service = ChatService(Index.build("docs_src", "index"), "docs_src")
    print(reply_text(service.ask("Who invited Putin to North Korea?")))
    job = service.submit([prepare_upload("notes.txt", b"Some new text.")])
    job.wait()
    print(job.message)
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Sequence

from qa.conversation import Conversation
from qa.errors import QAError, QuestionError
from qa.index import Index
from qa.store.update import UpdateReport
from qa.app.render import MODES, index_size, plural
from qa.app.uploads import ACCEPTED, NewDocument, UploadError, save_document
from qa.textutil import encodes_as_utf8
from qa.types import Answer

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 1000  # a question longer than this is almost surely pasted text
MAX_QUEUED_UPDATES = 4


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
    if not encodes_as_utf8(question):
        raise QuestionError("The question holds characters that are not valid text; type it again.")
    question = question.strip()
    if not question:
        raise QuestionError("The question is empty: type a question about your documents.")
    if len(question) > MAX_QUESTION_CHARS:
        raise QuestionError(
            f"The question is {len(question):,} characters long; the limit is {MAX_QUESTION_CHARS:,}. "
            "Ask the question itself, or add long text as a document under \u201cAdd documents\u201d."
        )
    return question


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

    def conversation(self) -> Conversation:
        """A new chat: its questions may lean on its earlier turns, and it always asks the current index."""
        return Conversation(lambda: self._index)

    def ask(self, question: str, k: int = 5, mode: str = "hybrid", conversation: Conversation | None = None) -> Answer:
        """Answer from the index as it is now (never a half-updated one), as a turn of ``conversation`` if given.

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
        if conversation is not None:
            return conversation.ask(question, k=k, mode=mode)
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
            job.message = f"Saving {plural(len(job.documents), 'document')}\u2026"
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
            job.message = f"Indexing {plural(len(written), 'new document')} (embedding passages)\u2026 questions are still answered meanwhile."
            current = self._index
            fresh = Index.open(current.index_dir, encoder=current.encoder)
            job.report = fresh.update(self.docs_dir)
            fresh.warm_up()  # the reader loads here, not on the next user's question
            self._index = fresh  # the swap: readers see the old or the new index, nothing between
            job.stats = self.stats()
            job.state = "done"
            job.message = "Added: " + "; ".join(job.notes) + f". The index now holds {index_size(job.stats)}."
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
