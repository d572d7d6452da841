"""Search and ask latency of an index on Milvus against the same index in a folder, in one run.

    .venv/bin/python bench/milvus.py                        # 10k and 100k passages, Milvus Lite and a 2.3.5 server
    .venv/bin/python bench/milvus.py --sizes 10000 --engines lite

For each size the synthetic corpus of bench/query.py (real squad_dev passage
texts repeated to N, random unit passage and sentence vectors, the same
seed) is written three ways by the index's own commit code: an index folder
(``LocalBackend``), Milvus Lite 2.5.1 (full-text BM25 inside Milvus) and a
real ``milvus==2.3.5`` standalone server started for the run (BM25 rebuilt
in memory from the stored tokens). Each is opened with ``Index.open`` and
asked the same squad_dev questions, one at a time after warm-up questions,
with the ONNX query encoder; medians are reported, and the hits of the
engines are compared (``same_hits``: share of questions whose top-5 passage
ids equal the folder's). After the questions, one document's passages are
replaced and committed as ``Index.update`` does (random vectors, no
embedding). Writes bench/results/milvus.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(ROOT / "scripts"))

from query import DIM, SQUAD, SyntheticPassages, SyntheticSentenceVectors, base_passages, query_encoder, replace_one_document  # noqa: E402

WARM_UP = 30


def fill(data: Any, n: int) -> None:
    """Give ``data`` (an empty index of any backend) the synthetic corpus, as pending changes its commit writes."""
    from qa.ingest.titles import embedding_input
    from qa.textutil import tokenize

    base = base_passages()
    passages = SyntheticPassages(n, base)
    sentences = SyntheticSentenceVectors(passages)
    rng = np.random.default_rng(0)
    vectors = []
    for start in range(0, n, 50_000):  # bench/query.py's blocks: the same vectors
        block = rng.standard_normal((min(n, start + 50_000) - start, DIM), dtype=np.float32)
        vectors.append(block / np.linalg.norm(block, axis=1, keepdims=True))
    matrix = np.concatenate(vectors)
    texts = [embedding_input(passages[pid])[0] for pid in range(min(n, len(base)))]
    tokens = [tokenize(t) for t in texts]
    data.dense = data.backend.new_vector_store(DIM)
    data.dense.add(list(range(n)), matrix)
    if hasattr(data.lexical, "add_copies"):  # a BM25Store (folder, or a 2.3 server's in-memory one)
        data.lexical.add_tokens(list(range(len(texts))), tokens)
        if n > len(texts):
            data.lexical.add_copies(list(range(len(texts), n)), [pid % len(texts) for pid in range(len(texts), n)])
    if hasattr(data.lexical, "pending_tokens"):  # a Milvus index writes each passage's tokens
        data.lexical.pending_tokens = {pid: tokens[pid % len(tokens)] for pid in range(n)}
        if hasattr(data.lexical, "_count"):
            data.lexical._count = n
    for pid in range(n):
        data.passages[pid] = passages[pid]
        data.sentence_vectors[pid] = sentences[pid]
    documents: dict[str, dict] = {}
    for pid in range(n):
        p = passages[pid]
        documents.setdefault(p.doc, {"sha256": "synthetic", "chars": 0, "first": pid, "count": 0})["count"] += 1
    data.manifest.update(documents=documents, next_id=n)
    data.manifest["settings"]["dim"] = DIM


def build(location: str, n: int, docs: Path) -> float:
    from qa.config import Settings
    from qa.store.backend import open_backend

    started = time.perf_counter()
    backend = open_backend(location)
    data = backend.empty(Settings())
    fill(data, n)
    with backend.writer_lock():
        backend.commit(data, docs, None)
    return time.perf_counter() - started


def measure(location: str, questions: list[str], encoder: Any) -> tuple[dict, list[list[int]]]:
    from qa.index import Index

    started = time.perf_counter()
    index = Index.open(location, encoder=encoder)
    open_s = time.perf_counter() - started
    for q in questions[:WARM_UP]:
        index.ask(q)
    search, ask, hits = [], [], []
    for q in questions[WARM_UP:]:
        t = time.perf_counter()
        found = index.search(q, k=5)
        search.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        index.ask(q)
        ask.append((time.perf_counter() - t) * 1000)
        hits.append([h.passage.id for h in found])
    return {"open_s": round(open_s, 2), "search_ms_p50": round(statistics.median(search), 1),
            "ask_ms_p50": round(statistics.median(ask), 1), "vector_store": index.dense.kind}, hits


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--engines", nargs="+", default=["lite", "server"], choices=["lite", "server"])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "docqa-bench-milvus")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "milvus.json")
    args = parser.parse_args()
    import milvus_server

    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    docs = args.work / "docs"
    docs.mkdir()
    questions = [json.loads(line)["question"] for line in (SQUAD / "qa.jsonl").open()][: args.queries + WARM_UP]
    encoder = query_encoder()
    server = milvus_server.start(args.work / "server") if "server" in args.engines else None
    results = []
    try:
        for n in args.sizes:
            locations = {"folder": str(args.work / f"folder-{n}")}
            if "lite" in args.engines:
                locations["milvus-lite"] = f"milvus-lite://{args.work}/lite-{n}.db/bench"
            if server is not None:
                locations["milvus-2.3.5"] = f"{server[1]}/bench{n}"
            row: dict[str, Any] = {"passages": n}
            reference: list[list[int]] | None = None
            for engine, location in locations.items():
                built = build(location, n, docs)
                numbers, hits = measure(location, questions, encoder)
                numbers["build_s"] = round(built, 1)
                if reference is None:
                    reference = hits
                else:
                    numbers["same_hits"] = round(sum(a == b for a, b in zip(hits, reference)) / len(hits), 3)
                numbers.update(replace_one_document(location, docs))
                row[engine] = numbers
                print(json.dumps({"passages": n, "engine": engine, **numbers}), flush=True)
            results.append(row)
    finally:
        if server is not None:
            milvus_server.stop(server[0])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"queries": args.queries, "results": results}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
