"""The chat page: ask questions about your documents and see exactly where each answer came from.

Start it with ``python app.py`` (or ``qa serve``) and open http://127.0.0.1:7860.
It serves the index in ``index/``, building it from ``docs_src/`` first if
there is none. Programs can ask through Gradio's API::

    from gradio_client import Client
    print(Client("http://127.0.0.1:7860/").predict("Who invited Putin to North Korea?", api_name="/ask"))

The logic lives in :mod:`qa.app.service`, :mod:`qa.app.uploads` and :mod:`qa.app.render`;
this module wires them to widgets. ``app.py`` at the repository's top level runs it.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any, Iterator, Sequence

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")  # no calls home; set before gradio reads it

import gradio as gr  # noqa: E402

from qa import Index, IndexNotFoundError, QAError  # noqa: E402
from qa.ingest.folder import SUPPORTED_SUFFIXES  # noqa: E402
from qa.index import index_location  # noqa: E402
from qa.store.manifest import other_docs_dir  # noqa: E402
from qa.app.render import FOLLOW_UP_NOTE, MODES, escape, example_questions, reply_html, reply_text, status_markdown  # noqa: E402
from qa.app.auth import AUTH_ENV, checker, load_users  # noqa: E402
from qa.app.service import MAX_QUESTION_CHARS, ChatService, check_question  # noqa: E402
from qa.conversation import Conversation  # noqa: E402
from qa.app.uploads import (  # noqa: E402
    MAX_BINARY_UPLOAD_BYTES,
    MAX_UPLOAD_BYTES,
    UploadError,
    prepare_paste,
    prepare_upload,
    upload_limit,
)

log = logging.getLogger("docqa.app")

DEFAULT_DOCS = "docs_src"
DEFAULT_INDEX = "index"
# Questions run this many at a time (page and API together); more only queue, since
# the embedding model already uses every core for one question.
ANSWER_CONCURRENCY = 2
PAGE_ONLY = "Documents can be added from the chat page only."
UPDATE_NOTE = ("The index is being updated with new documents; this answer comes from the index "
               "as it was before the update.")

CSS = """
.qa-reply mark { background: #fde68a; color: inherit; padding: 0 2px; border-radius: 3px; }
.qa-reply details { border: 1px solid var(--border-color-primary); border-radius: 6px; padding: 4px 8px; margin: 4px 0; }
.qa-reply summary { cursor: pointer; font-size: 0.9em; color: var(--body-text-color); opacity: 0.85; }
.qa-reply .qa-passage { margin-top: 6px; line-height: 1.45; }
.qa-reply .qa-label { margin: 8px 0 2px; font-size: 0.9em; font-weight: 600; }
.qa-reply .qa-noanswer { color: var(--body-text-color); }
.qa-hint { font-size: 0.85em; color: var(--body-text-color-subdued); }
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="app.py",
        description="Chat with your documents: answers are quoted from them, with the passage they come from.",
    )
    parser.add_argument("--docs", default=DEFAULT_DOCS, help=f"documents folder; uploads are saved here (default {DEFAULT_DOCS})")
    parser.add_argument("--index", default=DEFAULT_INDEX, help=f"index folder, built from --docs if missing (default {DEFAULT_INDEX})")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1, this machine only)")
    parser.add_argument("--port", type=int, default=7860, help="port (default 7860)")
    parser.add_argument("--share", action="store_true", help="also open a public gradio.live link (off by default)")
    parser.add_argument("--auth", metavar="FILE", default=None,
                        help=f"require a login: FILE holds user:password lines (default: ${AUTH_ENV} if set, else no login)")
    return parser


def load_index(docs: str | Path, index_dir: str | Path) -> Index:
    """Open the index, bringing it up to date with ``docs`` (building it if there is none).

    Raises:
        QAError: no index and nothing to build it from, or the index was built
            from another documents folder (so an update would drop its documents).
    """
    docs, index_dir = Path(docs), index_location(index_dir)
    try:
        existing = Index.open(index_dir)
    except IndexNotFoundError:
        print(f"No index in {index_dir}: building it from {docs}/ (the model loads first, about 10 s)…", flush=True)
        return Index.build(docs, index_dir, progress=False, on_report=_print_report)
    built_from = other_docs_dir(existing.manifest, docs)
    if built_from:
        raise QAError(
            f"the index in {index_dir}/ was built from {built_from}, not {docs}: start with --docs {built_from}, "
            f"or pick another --index folder for {docs}"
        )
    if not docs.is_dir():  # updating now would empty the index
        raise QAError(f"documents folder {docs} not found, but the index in {index_dir}/ was built from it: "
                      "restore the folder, or pass --docs with the right one")
    return Index.build(docs, index_dir, encoder=existing.encoder, on_report=_print_report)


def _print_report(report: Any) -> None:
    for skipped in report.skipped:
        print(f"skipped {skipped.path}: {skipped.reason}", file=sys.stderr, flush=True)
    print(f"index: {report.summary()} ({report.seconds:.1f} s)", flush=True)


def build_ui(service: ChatService) -> Any:
    """The Gradio Blocks app for ``service``; also defines the ``/ask`` API endpoint."""
    examples = [{"text": q} for q in example_questions(service.index.documents)]
    placeholder = (
        "**Ask a question about your documents.** The answer is a sentence quoted from them, "
        "with the passage it comes from." + ("\n\nOr start with an example:" if examples else "")
    )
    limit = f"{MAX_UPLOAD_BYTES // (1024 * 1024)} MB"
    binary_limit = f"{MAX_BINARY_UPLOAD_BYTES // (1024 * 1024)} MB"

    with gr.Blocks(title="docqa: ask your documents", analytics_enabled=False) as demo:
        gr.Markdown("## Ask your documents\nAnswers are quoted from the documents below, never made up.")
        with gr.Row(equal_height=False):
            with gr.Column(scale=3):
                chatbot = gr.Chatbot(
                    label="Chat", elem_id="chat", height=600, placeholder=placeholder, examples=examples or None,
                    latex_delimiters=[], feedback_options=None, buttons=["copy"], group_consecutive_messages=False,
                )
                with gr.Row():
                    question = gr.Textbox(
                        show_label=False, placeholder="Ask a question about your documents…", elem_id="question",
                        scale=5, lines=1, max_lines=4, autofocus=True,
                    )
                    ask = gr.Button("Ask", variant="primary", scale=1, min_width=80, elem_id="ask")
                gr.Markdown(FOLLOW_UP_NOTE + f" Questions are limited to {MAX_QUESTION_CHARS:,} characters.",
                            elem_classes="qa-hint")
                clear = gr.Button("Clear chat", size="sm", variant="secondary")
            with gr.Column(scale=2):
                with gr.Accordion("Index status", open=True):
                    status = gr.Markdown(status_markdown(service.stats()), elem_id="status")
                with gr.Accordion("Advanced", open=False, elem_id="advanced"):
                    k = gr.Slider(1, 10, value=5, step=1, label="Passages to retrieve", elem_id="k",
                                  info="How many passages to look at and show")
                    mode = gr.Radio(list(MODES), value="hybrid", label="Retrieval mode", elem_id="mode",
                                    info="hybrid: meaning + keywords; dense: meaning only; keyword: BM25 only")
                with gr.Accordion("Add documents", open=True):
                    gr.Markdown(f"Upload text (`.txt`, `.md`, UTF-8) or web pages (`.html`) up to {limit} each, "
                                f"PDF or Word (`.pdf`, `.docx`) up to {binary_limit} each, or paste text with a title. "
                                "The index updates in the background; you can keep asking meanwhile.",
                                elem_classes="qa-hint")
                    files = gr.File(label="Files", file_count="multiple", file_types=sorted(SUPPORTED_SUFFIXES), elem_id="upload")
                    add_files = gr.Button("Add files to the index", elem_id="add-files")
                    update_msg = gr.Markdown(elem_id="update-status")
                    title = gr.Textbox(label="Title of pasted text", placeholder="e.g. Meeting notes 12 June", elem_id="paste-title")
                    text = gr.Textbox(label="Pasted text", lines=4, max_lines=12, elem_id="paste-text")
                    add_text = gr.Button("Add pasted text to the index", elem_id="add-text")
                    paste_msg = gr.Markdown(elem_id="paste-status")
        # True only in sessions the page itself opened (its load event): the upload and paste
        # events refuse a client that calls them without the page.
        from_page = gr.State(False)

        conversation = gr.State(None)  # this chat's Conversation: follow-ups lean on its last turn

        def respond(message: str, history: list[dict[str, Any]] | None, k_value: float, mode_label: str,
                    chat: Conversation | None) -> Iterator[tuple[Any, Any, Any]]:
            history = list(history or [])
            chat = chat or service.conversation()
            try:
                q = check_question(message)
            except QAError as exc:
                gr.Warning(str(exc))
                yield gr.skip(), gr.skip(), chat
                return
            history.append({"role": "user", "content": escape(q)})
            yield "", history, chat
            updating = service.updating
            try:
                answer = service.ask(q, k=int(k_value), mode=mode_label, conversation=chat)
                reply = reply_html(answer, note=UPDATE_NOTE if updating else None)
            except (QAError, ValueError) as exc:
                reply = f'<div class="qa-reply"><p>⚠️ {escape(str(exc))}</p></div>'
            except Exception:  # noqa: BLE001 - a bug must not take the page down
                log.exception("answering %r failed", q)
                reply = '<div class="qa-reply"><p>⚠️ Something went wrong while answering; the details are in the server log.</p></div>'
            history.append({"role": "assistant", "content": reply})
            yield "", history, chat

        chat_args = dict(fn=respond, inputs=[question, chatbot, k, mode, conversation], outputs=[question, chatbot, conversation],
                         concurrency_limit=ANSWER_CONCURRENCY, concurrency_id="answer", api_visibility="private")
        ask.click(**chat_args)
        question.submit(**chat_args)
        def pick_example(evt: gr.SelectData) -> str:
            return evt.value["text"]

        chatbot.example_select(pick_example, None, question, api_visibility="private", queue=False).then(**chat_args)
        clear.click(lambda: ([], "", None), None, [chatbot, question, conversation], api_visibility="private", queue=False)

        def follow(job_docs: list[Any], problems: list[str], clear_on_success: Sequence[Any]) -> Iterator[tuple[Any, ...]]:
            """Submit an update and stream its progress into the page."""
            rejected = "".join(f"\n- ⚠️ {escape(p)}" for p in problems)
            if not job_docs:
                yield ("**Nothing was added.**" + (rejected or " Choose files or paste text first."), gr.skip(), *[gr.skip()] * len(clear_on_success))
                return
            try:
                job = service.submit(job_docs)
            except QAError as exc:
                yield (f"**Nothing was added:** {escape(str(exc))}" + rejected, gr.skip(), *[gr.skip()] * len(clear_on_success))
                return
            while not job.finished:
                yield (f"⏳ {escape(job.message)}" + rejected, status_markdown(service.stats(), updating=True), *[gr.skip()] * len(clear_on_success))
                time.sleep(0.3)
            icon = "✅" if job.state == "done" else "⚠️"
            cleared = clear_on_success if job.state == "done" else [gr.skip()] * len(clear_on_success)
            yield (f"{icon} {escape(job.message)}" + rejected, status_markdown(service.stats(), updating=service.updating), *cleared)

        def on_files(paths: list[str] | None, opened_by_page: bool) -> Iterator[tuple[Any, ...]]:
            if not opened_by_page:
                raise gr.Error(PAGE_ONLY)
            docs, problems = [], []
            for path in paths or []:
                name = Path(path).name
                try:
                    size = os.path.getsize(path)
                    if size > upload_limit(name):  # checked before reading it into memory
                        raise UploadError(f"{name}: {size / (1024 * 1024):.1f} MB is over the "
                                          f"{upload_limit(name) // (1024 * 1024)} MB limit for this type")
                    docs.append(prepare_upload(name, Path(path).read_bytes()))
                except UploadError as exc:
                    problems.append(str(exc))
                except OSError as exc:
                    problems.append(f"{name}: cannot be read ({exc.strerror or exc})")
            # Every chosen file is read (or refused) now: empty the box at once, so refused files do not
            # linger and files chosen while this update runs are not dropped when it ends.
            yield "⏳ Reading the files…", gr.skip(), None
            yield from follow(docs, problems, [gr.skip()])

        def on_paste(title_value: str, text_value: str, opened_by_page: bool) -> Iterator[tuple[Any, ...]]:
            if not opened_by_page:
                raise gr.Error(PAGE_ONLY)
            try:
                docs, problems = [prepare_paste(title_value, text_value)], []
            except UploadError as exc:
                docs, problems = [], [str(exc)]
            yield from follow(docs, problems, ["", ""])

        update_args = dict(concurrency_limit=8, concurrency_id="update", api_visibility="private", show_progress="minimal")
        add_files.click(on_files, [files, from_page], [update_msg, status, files], **update_args)
        add_text.click(on_paste, [title, text, from_page], [paste_msg, status, title, text], **update_args)

        def refresh_status() -> str:
            return status_markdown(service.stats(), updating=service.updating)

        demo.load(refresh_status, None, status, api_visibility="private", queue=False)
        demo.load(lambda: True, None, from_page, api_visibility="private", queue=False)
        gr.Timer(10).tick(refresh_status, None, status, api_visibility="private", queue=False, show_progress="hidden")

        # /ask: each API client session is one conversation (a new gradio_client Client starts a new one).
        api_question, api_reply, api_chat = gr.Textbox(visible=False), gr.Textbox(visible=False), gr.State(None)

        def ask_api(question: str, chat: Conversation | None) -> tuple[str, Conversation]:
            chat = chat or service.conversation()
            try:
                return reply_text(service.ask(question, conversation=chat)), chat
            except (QAError, ValueError) as exc:
                raise gr.Error(str(exc)) from None

        api_question.submit(ask_api, [api_question, api_chat], [api_reply, api_chat], api_name="ask",
                            api_description="Answer a question about the documents (follow-ups may lean on the last "
                                            "answer of this session): the quoted answer, then its numbered sources.",
                            concurrency_limit=ANSWER_CONCURRENCY, concurrency_id="answer", show_progress="hidden")
    return demo


def port_problem(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be listened on, or None if it can."""
    import socket

    if not 0 < port < 65536:
        return "ports run from 1 to 65535"
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
            sock.bind((host, port))
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Start the chat server; returns the exit status (2 for a problem the user can fix)."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    problem = port_problem(args.host, args.port)
    if problem:  # say so now, not after loading the model
        print(f"error: cannot listen on {args.host}:{args.port} ({problem}); pick another --port", file=sys.stderr)
        return 2
    try:
        users = load_users(args.auth)
    except QAError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    if users is None and (args.share or args.host not in ("127.0.0.1", "localhost", "::1")):
        print(f"warning: no login (--auth FILE or ${AUTH_ENV}): anyone who reaches {args.host}:{args.port}"
              + (" or the public link" if args.share else "") + " can ask questions and add documents", file=sys.stderr)
    try:
        index = load_index(args.docs, args.index)
        service = ChatService(index, args.docs)
        started = time.perf_counter()
        service.ask("Who is this about?")  # load the model now, so the first real question is fast
        print(f"model {index.stats()['model']} ready ({time.perf_counter() - started:.1f} s); "
              f"{index.stats()['documents']} documents, {index.stats()['passages']} passages", flush=True)
    except QAError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    demo = build_ui(service)
    demo.queue(default_concurrency_limit=1, max_size=256)
    try:
        # Gradio refuses files over the limit in the browser, before they are uploaded.
        demo.launch(server_name=args.host, server_port=args.port, share=args.share, max_file_size=MAX_BINARY_UPLOAD_BYTES,
                    show_error=True, css=CSS, footer_links=["api"], auth=checker(users) if users else None,
                    auth_message="Log in to ask questions about these documents." if users else None)
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port} ({exc}); pick another --port", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    finally:
        service.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
