"""Query latency and memory as the index grows: 1k, 10k, 100k and 1M passages.

    .venv/bin/python bench/query.py                          # all four sizes (1M: ~15 min to build once)
    .venv/bin/python bench/query.py --sizes 1000 10000       # some sizes

Each size gets a real index folder, written by the index's own code
(`qa.store.local.LocalBackend.commit`: passage file and table, memory-mapped sentence vectors,
FAISS store, BM25 matrix, manifest) and opened with `Index.open` in a fresh
process, which then answers the questions; so latency and peak RSS are a
user's (`qa ask` on that index, the chat server before any upload).

Passage texts are real (the squad_dev articles' passages, repeated to reach
N; each copy of an article is one document); passage vectors and sentence
vectors are random unit vectors, so embedding time does not dominate (the
answers are therefore meaningless: latency is what is measured; recall of
the approximate vector index is measured with real vectors by bench/ann.py).
The vector store is built the way an index grows, so above its size limit it
has switched itself to IVF. Questions are squad_dev questions encoded by the
ONNX query encoder, as `qa ask` does, one at a time after 100 warm-up
questions (other questions than the timed ones). The index files are
memory-mapped, so a question first reads the pages it needs; `first_ask_ms`
is the first question after opening (what one `qa ask` process pays, with
the files in the OS page cache), the p50/p95 are a warmed-up server's.
Each question is also searched with the older ``convex`` and ``sentence``
fusions in the same run (``search_convex_ms_p50``, ``search_sentence_ms_p50``),
and the default ``sentence-words`` fusion's own parts for the up to 2 x 50
passages both retrievers return are timed alone: their best sentence cosines
(``parts_ms_p50.best_sentence_cosines``) and the question words' share in
their best sentence, with the passages' word sets already cached (as after
the ``search`` just before: ``best_sentence_word_shares``) and with an empty
cache (``best_sentence_word_shares_uncached``: passages no question has
reached yet); the cache is then given back, so ``search`` and ``ask`` meet it
as a server would.

Built indexes are kept under --work (default: $TMPDIR/docqa-bench) and
reused. After the questions, another fresh process replaces one document's
passages as `Index.update` does (without embedding: random vectors) and
commits, to show what an update costs besides embedding at that size.
Writes bench/results/query.json and query.png.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Iterator

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from qa.evaluate import data_dir  # noqa: E402
SQUAD = data_dir() / "eval" / "squad_dev"
DIM = 384
MODEL = "all-MiniLM-L6-v2"
WARM_UP = 100  # questions asked before timing: the memory-mapped files' pages they touch are then in memory
BUILD_VERSION = 3  # bump when the synthetic index changes, so cached folders are rebuilt


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def rss_mb() -> float:
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def query_encoder():  # type: ignore[no-untyped-def]
    from qa.retrieval.encoder import make_encoder
    from qa.retrieval.onnx_encoder import export_onnx, load_query_encoder

    onnx_dir = ROOT / "bench" / "results" / "onnx-cache"
    encoder = load_query_encoder(onnx_dir, MODEL)
    if encoder is None:
        export_onnx(make_encoder(MODEL), onnx_dir)
        encoder = load_query_encoder(onnx_dir, MODEL)
    return encoder or make_encoder(MODEL)


def base_passages() -> list[tuple[str, int, Any, str]]:
    """(article file name, passage number, span, text) of every squad_dev passage."""
    from qa.ingest.chunking import chunk_text

    out = []
    for path in sorted((SQUAD / "docs").glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        out += [(path.name, number, span, text[span.start : span.end]) for number, span in enumerate(chunk_text(text))]
    return out


class SyntheticPassages(Mapping):  # type: ignore[type-arg]
    """N passages made on demand from the base passages (copy c of article a is document ``c/a``)."""

    def __init__(self, n: int, base: list) -> None:  # type: ignore[type-arg]
        self.n, self.base = n, base

    def __len__(self) -> int:
        return self.n

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.n))

    def __getitem__(self, pid: int):  # type: ignore[no-untyped-def]
        from qa.types import Passage

        if not 0 <= pid < self.n:
            raise KeyError(pid)
        name, number, span, text = self.base[pid % len(self.base)]
        return Passage(pid, f"copy{pid // len(self.base)}/{name}", number, span.start, span.end, text, span.sentences)


class SyntheticSentenceVectors(Mapping):  # type: ignore[type-arg]
    """Random unit float16 rows for each passage's sentences, cut from a fixed pool (no RAM per passage)."""

    def __init__(self, passages: SyntheticPassages, seed: int = 0) -> None:
        self.passages = passages
        pool = np.random.default_rng(seed).standard_normal((4096, DIM)).astype(np.float32)
        self.pool = (pool / np.linalg.norm(pool, axis=1, keepdims=True)).astype(np.float16)

    def __len__(self) -> int:
        return len(self.passages)

    def __iter__(self) -> Iterator[int]:
        return iter(self.passages)

    def __getitem__(self, pid: int) -> np.ndarray:
        count = len(self.passages.base[pid % len(self.passages.base)][2].sentences)
        start = (pid * 7919) % (len(self.pool) - 64)
        return self.pool[start : start + count]


def build(n: int, folder: Path) -> dict:
    """Write an index of ``n`` synthetic passages to ``folder`` with the index's own writers."""
    from results_file import machine_load

    from qa.config import Settings
    from qa.ingest.titles import embedding_input
    from qa.retrieval.dense import FaissStore
    from qa.store.data import IndexData

    started = time.perf_counter()
    base = base_passages()
    passages = SyntheticPassages(n, base)
    if folder.exists():
        shutil.rmtree(folder)
    data = IndexData.empty(folder, Settings())
    data.passages = passages  # type: ignore[assignment]
    data.sentence_vectors = SyntheticSentenceVectors(passages)  # type: ignore[assignment]
    # BM25: tokenise each distinct text once, then every copy shares its token array (the same
    # ids tokenising it again would give). Its matrix is built before the vectors fill memory.
    first = min(n, len(base))
    data.lexical.add(list(range(first)), [embedding_input(passages[pid])[0] for pid in range(first)])
    data.lexical.add_copies(list(range(first, n)), [pid % len(base) for pid in range(first, n)])
    data.lexical.refresh()
    rng = np.random.default_rng(0)
    data.dense = FaissStore(DIM)
    for start in range(0, n, 50_000):  # grows as an index does: switches to IVF past its limit
        block = rng.standard_normal((min(n, start + 50_000) - start, DIM), dtype=np.float32)
        data.dense.add(np.arange(start, start + len(block)), block / np.linalg.norm(block, axis=1, keepdims=True))
    vectors_s = time.perf_counter() - started
    documents: dict[str, dict] = {}
    for pid in range(n):  # each document's passages are consecutive ids
        doc = f"copy{pid // len(base)}/{base[pid % len(base)][0]}"
        documents.setdefault(doc, {"sha256": "synthetic", "chars": 0, "first": pid, "count": 0})["count"] += 1
    data.manifest.update(documents=documents, next_id=n)
    data.manifest["settings"]["dim"] = DIM
    data.backend.commit(data, folder / "docs", None)
    stats = {"build_s": round(time.perf_counter() - started, 1), "build_stores_s": round(vectors_s, 1),
             "build_peak_rss_mb": peak_rss_mb(), "index_mb": round(sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 2**20, 1),
             "build_load": machine_load()}
    (folder / "bench.json").write_text(json.dumps({"passages": n, "version": BUILD_VERSION, "build": stats}))
    return stats


def measure(n: int, folder: Path, queries: int) -> dict:
    from qa.index import Index
    from qa.query import Query
    from qa.retrieval.hybrid import HybridRetriever

    questions = [json.loads(line)["question"] for line in (SQUAD / "qa.jsonl").open()][: queries + WARM_UP]
    encoder = query_encoder()
    encoder.encode(["warm up the encoder"])
    started = time.perf_counter()
    index = Index.open(folder, encoder=encoder)
    open_s = time.perf_counter() - started
    after_open = rss_mb()
    started = time.perf_counter()
    index.ask(questions[0])
    first_ask_ms = (time.perf_counter() - started) * 1000
    for q in questions[1:WARM_UP]:
        index.ask(q)
    search, convex, sentence, ask, encode, dense, lexical, sentences, words, words_cold = ([] for _ in range(10))
    for q in questions[WARM_UP:]:
        t = time.perf_counter()
        index.search(q, k=5)
        search.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        index.search(q, k=5, fusion="convex")  # the fusion before sentence fusion, same run for the ratio
        convex.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        index.search(q, k=5, fusion="sentence")  # without the word shares
        sentence.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        index.ask(q)
        ask.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        vector = index.encode_query(q)
        encode.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        found = index.dense.search(vector, 50)[0]
        dense.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        query = Query.parse(q)
        found += index.lexical.search(list(query.tokens), 50)
        lexical.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        index.retriever.best_sentence_cosines({pid for pid, _ in found}, vector)
        sentences.append((time.perf_counter() - t) * 1000)
        ids = {pid for pid, _ in found}
        t = time.perf_counter()
        index.retriever.best_sentence_word_shares(ids, query)
        words.append((time.perf_counter() - t) * 1000)
        uncached = HybridRetriever(index.data)  # nothing kept yet; the index's own retriever keeps its words
        t = time.perf_counter()
        uncached.best_sentence_word_shares(ids, query)
        words_cold.append((time.perf_counter() - t) * 1000)
    return {
        "passages": n,
        "vector_store": index.dense.kind,
        "encoder": type(index.encoder).__name__,
        "search_ms_p50": round(statistics.median(search), 2),
        "search_ms_p95": round(float(np.percentile(search, 95)), 2),
        "search_convex_ms_p50": round(statistics.median(convex), 2),
        "search_sentence_ms_p50": round(statistics.median(sentence), 2),
        "ask_ms_p50": round(statistics.median(ask), 2),
        "ask_ms_p95": round(float(np.percentile(ask, 95)), 2),
        "parts_ms_p50": {"encode_question": round(statistics.median(encode), 2), "vector_search": round(statistics.median(dense), 2),
                         "bm25_search": round(statistics.median(lexical), 2),
                         "best_sentence_cosines": round(statistics.median(sentences), 2),
                         "best_sentence_word_shares": round(statistics.median(words), 2),
                         "best_sentence_word_shares_uncached": round(statistics.median(words_cold), 2)},
        "open_s": round(open_s, 2),
        "first_ask_ms": round(first_ask_ms, 1),
        "rss_after_open_mb": after_open,
        "peak_rss_mb": peak_rss_mb(),
    }


def update(n: int, folder: Path) -> dict:
    """Replace one document's passages of the index folder (see ``replace_one_document``)."""
    return replace_one_document(folder, folder / "docs")


def replace_one_document(location: str | Path, docs: Path) -> dict:
    """Replace one document's passages the way ``Index.update`` does (minus embedding: random vectors), and commit."""
    from qa.store.data import IndexData
    from qa.ingest.titles import embedding_input
    from qa.store.manifest import passage_ids, passage_run
    from qa.types import Passage

    started = time.perf_counter()
    data = IndexData.load(location)
    doc = next(iter(data.manifest["documents"]))
    stale = list(passage_ids(data.manifest["documents"][doc]))
    first = int(data.manifest["next_id"])
    read_many = getattr(data.passages, "get_many", None)  # one round trip on Milvus
    found = read_many(stale) if read_many else {pid: data.passages[pid] for pid in stale}
    old = [found[pid] for pid in stale]
    new = [Passage(first + i, p.doc, p.number, p.start, p.end, p.text, p.sentences) for i, p in enumerate(old)]
    rng = np.random.default_rng(first)
    vectors = rng.standard_normal((len(new), DIM), dtype=np.float32)
    opened = time.perf_counter()
    data.dense.remove(stale)
    data.lexical.remove(stale)
    for pid in stale:
        del data.passages[pid]
        if pid in data.sentence_vectors:
            del data.sentence_vectors[pid]
    data.dense.add([p.id for p in new], vectors / np.linalg.norm(vectors, axis=1, keepdims=True))
    data.lexical.add([p.id for p in new], [embedding_input(p)[0] for p in new])
    data.passages.update({p.id: p for p in new})
    data.sentence_vectors.update({p.id: np.ones((len(p.sentences), DIM), np.float16) / np.sqrt(DIM) for p in new})
    previous = json.loads(json.dumps(data.manifest))
    data.manifest["documents"][doc].update(passage_run(first, len(new)))
    data.manifest["next_id"] = first + len(new)
    changed = time.perf_counter()
    with data.backend.writer_lock():
        data.backend.commit(data, docs, previous)
    done = time.perf_counter()
    return {"update_passages_replaced": len(new), "update_s": round(done - started, 2), "update_open_s": round(opened - started, 2),
            "update_stores_s": round(changed - opened, 2), "update_commit_s": round(done - changed, 2),
            "update_peak_rss_mb": peak_rss_mb()}


def plot(results: list[dict]) -> None:
    from results_file import save_plot

    sizes = [r["passages"] for r in results]

    def draw(figure) -> None:  # type: ignore[no-untyped-def]
        left, right = figure.subplots(1, 2)
        for key, label in (("search_ms_p50", "search p50"), ("search_ms_p95", "search p95"), ("ask_ms_p50", "ask p50"), ("ask_ms_p95", "ask p95")):
            left.plot(sizes, [r[key] for r in results], marker="o", label=label)
        for part in ("encode_question", "vector_search", "bm25_search"):
            left.plot(sizes, [r["parts_ms_p50"][part] for r in results], linestyle=":", marker=".", label=f"{part.replace('_', ' ')} p50")
        left.axhline(50, color="grey", linestyle="--", linewidth=1)
        left.set_xscale("log")
        left.set_xlabel("passages")
        left.set_ylabel("ms")
        left.set_title("one question at a time (dashed: 50 ms)")
        left.legend(fontsize=7)
        right.plot(sizes, [r["peak_rss_mb"] / 1024 for r in results], marker="o", label="query process (open + questions)")
        built = [r for r in results if "build_peak_rss_mb" in r]
        right.plot([r["passages"] for r in built], [r["build_peak_rss_mb"] / 1024 for r in built], marker="o", label="the bench building it")
        updated = [r for r in results if "update_peak_rss_mb" in r]
        right.plot([r["passages"] for r in updated], [r["update_peak_rss_mb"] / 1024 for r in updated], marker="o",
                   label="updating it (1 document replaced)")
        right.axhline(3, color="grey", linestyle="--", linewidth=1)
        right.set_xscale("log")
        right.set_xlabel("passages")
        right.set_ylabel("GiB")
        right.set_title("peak RSS (dashed: 3 GiB)")
        right.legend(fontsize=7)

    save_plot("query", draw, size=(11, 4.2))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000, 1000000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "docqa-bench")
    parser.add_argument("--rebuild", action="store_true", help="rebuild cached index folders")
    parser.add_argument("--build", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--update", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.build:
        print(json.dumps(build(args.build, args.work / f"query-{args.build}")))
        return 0
    if args.one:
        print(json.dumps(measure(args.one, args.work / f"query-{args.one}", args.queries)))
        return 0
    if args.update:
        print(json.dumps(update(args.update, args.work / f"query-{args.update}")))
        return 0
    from qa.store.manifest import FORMAT_VERSION, MANIFEST
    from results_file import machine_load, save_result

    load = machine_load()
    results = []
    for n in args.sizes:
        folder = args.work / f"query-{n}"
        row: dict = {}
        try:
            cached = json.loads((folder / "bench.json").read_text())["version"] == BUILD_VERSION
            cached = cached and json.loads((folder / MANIFEST).read_text())["format"] == FORMAT_VERSION
        except (OSError, ValueError, KeyError):
            cached = False
        if args.rebuild or not cached:
            subprocess.run([sys.executable, __file__, "--build", str(n), "--work", str(args.work)], capture_output=True, check=True)
        row.update(json.loads((folder / "bench.json").read_text()).get("build", {}))  # measured when it was built
        out = subprocess.run([sys.executable, __file__, "--one", str(n), "--queries", str(args.queries), "--work", str(args.work)],
                             capture_output=True, text=True, check=True).stdout
        row = {**json.loads(out.strip().splitlines()[-1]), **row}
        out = subprocess.run([sys.executable, __file__, "--update", str(n), "--work", str(args.work)],
                             capture_output=True, text=True, check=True).stdout
        row.update(json.loads(out.strip().splitlines()[-1]))
        results.append(row)
        print(json.dumps(row), flush=True)
    for row in results:
        row["load"] = load
    try:  # sizes not run this time keep their earlier rows, marked as such
        earlier = json.loads((ROOT / "bench" / "results" / "query.json").read_text())
        kept = [{"load": earlier.get("load"), **r, "earlier_run": True} for r in earlier.get("rows", [])
                if r["passages"] not in args.sizes]
    except (OSError, ValueError, KeyError):
        kept = []
    results = sorted(results + kept, key=lambda r: r["passages"])
    save_result("query", {"load": load, "load_after": machine_load(), "queries": args.queries, "rows": results}, echo=False)
    plot(results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
