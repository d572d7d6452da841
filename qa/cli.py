"""The ``qa`` command: index, ask, search, eval, status, extract, serve.

Every error a user can cause ends in one ``error: ...`` line on stderr and
exit status 2 (130 when interrupted); never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Sequence

DEFAULT_DOCS = "docs_src"
DEFAULT_INDEX = "index"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qa", description="Ask questions about your own documents; answers are quoted from them, with citations.")
    from qa import __version__

    parser.add_argument("--version", action="version", version=f"docqa {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("index", help="build or update the index (only new or changed documents are embedded)")
    p.add_argument("docs", nargs="?", default=None, help=f"documents folder (default: the one indexed last, else {DEFAULT_DOCS})")
    _index_options(p)
    p.add_argument("--passage-chars", type=_positive_int, default=None, help="longest passage in characters (default 800)")
    p.add_argument("--overlap-chars", type=_non_negative_int, default=None, help="overlap between windows of a long paragraph (default 200)")
    p.add_argument("--rebuild", action="store_true", help="re-embed everything")
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    p.add_argument("--no-onnx", action="store_true", help="do not export the torch-free query encoder (index/onnx/)")
    p.add_argument("--workers", metavar="ADDRESS", default=None,
                   help="embed on a Dask distributed cluster (tcp://SCHEDULER:8786) instead of this machine")

    for name, help_text in (("ask", "answer a question with a quoted sentence and its citation"), ("search", "list the passages that best match a question")):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("question", help="the question, in quotes")
        _index_options(p)
        p.add_argument("-k", type=_positive_int, default=5, help="passages to retrieve / show (default 5)")
        p.add_argument("--mode", choices=["hybrid", "dense", "bm25"], default="hybrid", help="retrieval mode (default hybrid)")
        p.add_argument("--json", action="store_true", help="print one JSON object")

    p = sub.add_parser("eval", help="measure retrieval and answers against questions with gold answers")
    p.add_argument("--docs", required=True, help="documents folder")
    p.add_argument("--qa", required=True, help='JSONL rows {"question", "answers": [...]}; answers [] = unanswerable')
    p.add_argument("--index", default=None, help="index folder (default: a cache folder per documents folder, never ./index)")
    p.add_argument("--model", default=None, help="embedding model name or folder")
    p.add_argument("-k", type=_positive_int, default=5, help="passages per question (default 5)")
    p.add_argument("--mode", choices=["hybrid", "dense", "bm25"], default="hybrid")
    p.add_argument("--limit", type=_positive_int, default=None, help="only the first N questions")
    p.add_argument("--json", action="store_true", help="print the metrics as one JSON object on the last line")

    p = sub.add_parser("status", help="show what the index holds")
    p.add_argument("--index", default=DEFAULT_INDEX, help=INDEX_HELP)

    p = sub.add_parser("extract", help="print the text indexed from a file (what citation offsets of PDF, HTML, Markdown and Word files point into)")
    p.add_argument("file", help="a .txt, .md, .html, .pdf or .docx file")
    p.add_argument("--regions", action="store_true", help="list the pages / sections with their character ranges instead")

    p = sub.add_parser("serve", help="start the chat page (same as python app.py)")
    p.add_argument("--docs", default=DEFAULT_DOCS)
    p.add_argument("--index", default=DEFAULT_INDEX, help=INDEX_HELP)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=_positive_int, default=7860)
    p.add_argument("--share", action="store_true", help="also open a public gradio.live link")
    p.add_argument("--auth", metavar="FILE", help="require a login: FILE holds user:password lines (default: $DOCQA_AUTH)")
    return parser


INDEX_HELP = f"index folder (default {DEFAULT_INDEX}), or milvus://HOST:PORT/NAME, milvus-lite:///FILE.db/NAME"


def _index_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--index", default=DEFAULT_INDEX, help=INDEX_HELP)
    p.add_argument("--model", default=None, help="sentence-transformers model name or folder (default all-MiniLM-L6-v2, bundled)")


def _positive_int(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {value!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {number}")
    return number


def _non_negative_int(value: str) -> int:
    number = _positive_int(value) if value != "0" else 0
    return number


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status instead of raising."""
    from qa.errors import QAError

    args = build_parser().parse_args(argv)
    try:
        handler = {"index": cmd_index, "ask": cmd_ask, "search": cmd_search, "eval": cmd_eval,
                   "status": cmd_status, "extract": cmd_extract, "serve": cmd_serve}[args.command]
        return handler(args)
    except QAError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except ValueError as exc:  # bad settings values (e.g. overlap >= passage size)
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; the index on disk is as it was at its last commit (a large build commits in "
              "batches: run `qa index` again to carry on)", file=sys.stderr)
        return 130


def cmd_index(args: argparse.Namespace) -> int:
    from qa.config import Settings
    from qa.index import Index
    from qa.errors import QAError
    from qa.store.backend import open_backend
    from qa.store.manifest import other_docs_dir

    try:
        manifest: dict[str, Any] | None = open_backend(args.index).read_manifest()
    except QAError:  # no usable index: a new one is built (or the broken one rebuilt)
        manifest = None
    docs = args.docs
    if docs is None:
        docs = (manifest or {}).get("docs_dir") or DEFAULT_DOCS
    elif manifest is not None and not args.rebuild and (built_from := other_docs_dir(manifest, docs)):
        raise QAError(
            f"the index in {args.index} was built from {built_from}, not {docs}: updating it from {docs} would drop "
            f"its documents. Run `qa index {built_from} --index {args.index}`, pick another --index for {docs}, "
            "or pass --rebuild to replace the index with this folder's documents"
        )
    settings = None
    if args.model or args.passage_chars or args.overlap_chars is not None:
        base = Settings.from_dict(manifest["settings"]) if manifest is not None else Settings()
        settings = base.with_overrides(model=args.model, passage_chars=args.passage_chars, overlap_chars=args.overlap_chars)
    index = Index.build(docs, args.index, settings, rebuild=args.rebuild, progress=not args.quiet, on_report=_print_report,
                        workers=args.workers)
    if not args.no_onnx:
        from qa.retrieval.encoder import SentenceTransformerEncoder
        from qa.retrieval.onnx_encoder import cache_folder, export_onnx

        encoder = index.encoder
        if getattr(encoder, "address", None):  # embedded on a Dask cluster: export from a local copy of the model
            from qa.retrieval.encoder import make_encoder

            encoder = make_encoder(encoder.name)
        if isinstance(encoder, SentenceTransformerEncoder):
            folder = index.data.backend.folder or cache_folder(encoder.name)  # a Milvus index: this machine's cache
            print(export_onnx(encoder, folder))
    return 0


def _print_report(report: Any) -> None:
    for skipped in report.skipped:
        print(f"skipped {skipped.path}: {skipped.reason}", file=sys.stderr)
    for warning in report.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    if report.rebuilt_because:
        print(f"rebuilding the whole index: {report.rebuilt_because}")
    print(report.summary() + f" ({report.seconds:.1f} s)")
    if not report.changed_anything and not report.rebuilt_because:
        print("index is up to date")


def _open(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from qa.retrieval.encoder import make_encoder
    from qa.index import Index

    return Index.open(args.index, encoder=make_encoder(args.model) if args.model else None)


def cmd_ask(args: argparse.Namespace) -> int:
    from qa.query import clean_question

    clean_question(args.question)  # reject an empty question before loading anything
    answer = _open(args).ask(args.question, k=args.k, mode=args.mode)
    if args.json:
        print(json.dumps(answer.to_dict(), ensure_ascii=False))
        return 0
    if not answer.found:
        print("No answer: the documents do not seem to cover this question.")
        if answer.hits:
            print("\nClosest passages:")
            for hit in answer.hits[:3]:
                print(f"  [{hit.passage.location} #{hit.passage.number}, chars {hit.start}-{hit.end}] {_shorten(hit.text)}")
        return 0
    print(answer.text)
    if answer.span and answer.span != answer.text:
        print(f"(answer: {answer.span})")
    print("\nSources:")
    for n, c in enumerate(answer.citations, 1):
        print(f"  [{n}] {c.location}, passage {c.passage}, chars {c.start}-{c.end} (score {c.score:.2f})")
        print(f"      {_shorten(c.passage_text, 300)}")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from qa.query import clean_question

    clean_question(args.question)
    hits = _open(args).search(args.question, k=args.k, mode=args.mode)
    if args.json:
        print(json.dumps([h.to_dict() for h in hits], ensure_ascii=False))
        return 0
    for n, hit in enumerate(hits, 1):
        print(f"{n}. {hit.passage.location}, passage {hit.passage.number}, chars {hit.start}-{hit.end} (score {hit.score:.4f})")
        print(f"   {_shorten(hit.text, 300)}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from qa.config import Settings
    from qa.evaluate import evaluate, load_rows
    from qa.index import Index

    rows = load_rows(args.qa)[: args.limit]
    index_dir = args.index or _eval_index_dir(args.docs)
    started = time.perf_counter()
    index = Index.build(args.docs, index_dir, Settings(model=args.model) if args.model else None,
                        progress=not args.json, on_report=None if args.json else _print_report)
    index_seconds = time.perf_counter() - started
    metrics = evaluate(index, rows, k=args.k, mode=args.mode, index_seconds=index_seconds)
    metrics["index"] = str(index_dir)
    if args.json:
        print(json.dumps(metrics))
    else:
        for key, value in metrics.items():
            print(f"{key:>22}: {value}")
    return 0


def _eval_index_dir(docs: str) -> Path:
    """A per-folder cache under the temp dir, so eval never overwrites ./index."""
    import hashlib
    import tempfile

    key = hashlib.sha1(str(Path(docs).resolve()).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / "qa-eval" / key


def cmd_status(args: argparse.Namespace) -> int:
    from qa.store.backend import open_backend

    manifest = open_backend(args.index).read_manifest()
    s = manifest["settings"]
    print(f"index:     {args.index}")
    print(f"model:     {s['model']} (dim {s['dim']})")
    print(f"passages:  {manifest['counts']['passages']} from {manifest['counts']['documents']} documents")
    print(f"chunking:  {s['passage_chars']} chars, overlap {s['overlap_chars']}")
    print(f"updated:   {manifest['updated']}  (documents: {manifest.get('docs_dir')})")
    return 0


def cmd_extract(args: argparse.Namespace) -> int:
    from qa.errors import DocumentsError
    from qa.ingest.formats import ExtractError, extract, kind_of
    from qa.types import format_location

    path = Path(args.file)
    if not path.is_file():
        raise DocumentsError(f"file not found: {path}")
    if kind_of(path) is None:
        raise DocumentsError(f"{path.name}: unsupported file type; docqa reads .txt, .md, .markdown, .html, .htm, .pdf and .docx")
    try:
        result = extract(path)
    except ExtractError as exc:
        raise DocumentsError(f"{path.name}: {exc}") from None
    for warning in result.warnings:
        print(f"warning: {path.name}: {warning}", file=sys.stderr)
    if args.regions:
        for region in result.regions or []:
            print(f"{region.start}-{region.end}\t{format_location(path.name, region.page, region.section)}")
        if not result.regions:
            print(f"0-{len(result.text)}\t{path.name}")
        return 0
    sys.stdout.write(result.text)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from qa.app.web import main as serve

    argv = ["--docs", args.docs, "--index", args.index, "--host", args.host, "--port", str(args.port)]
    argv += ["--share"] * args.share + (["--auth", args.auth] if args.auth else [])
    return int(serve(argv) or 0)


def _shorten(text: str, width: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def main_entry() -> None:
    """Console-script entry point."""
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:  # `qa ask ... | head`: the reader left; that is not an error
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 0
    sys.exit(code)
