"""Query latency and memory as the index grows: 1k, 10k, 100k (and 1M) passages.

    .venv/bin/python bench/query.py                 # 1k, 10k, 100k
    .venv/bin/python bench/query.py --sizes 1000000 # one size

Passage texts are real (the squad_dev articles' passages, repeated to reach
N); their vectors and sentence vectors are random unit vectors, so embedding
time does not dominate (the answers are therefore meaningless; latency is
what is measured). Each size runs in its own process, so peak RSS is that
size's. Questions are squad_dev questions, encoded by the query encoder
(ONNX when exported, as `qa ask` does), one at a time after 20 warm-up
questions. Writes bench/results/query.json.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
SQUAD = ROOT.parent / "shared" / "eval" / "squad_dev"


def synthetic_index(n: int, work: Path):  # type: ignore[no-untyped-def]
    from qa.chunking import chunk_text
    from qa.config import Settings
    from qa.dense import FaissStore
    from qa.encoder import make_encoder
    from qa.index import Index, embedding_input
    from qa.onnx_encoder import export_onnx, load_query_encoder
    from qa.types import Passage

    onnx_dir = ROOT / "bench" / "results" / "onnx-cache"
    encoder = load_query_encoder(onnx_dir, "all-MiniLM-L6-v2")
    if encoder is None:
        export_onnx(make_encoder("all-MiniLM-L6-v2"), onnx_dir)
        encoder = load_query_encoder(onnx_dir, "all-MiniLM-L6-v2") or make_encoder("all-MiniLM-L6-v2")
    base = []
    for path in sorted((SQUAD / "docs").glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        base += [(path.name, text[s.start : s.end], s) for s in chunk_text(text)]
    index = Index._empty(work, Settings(), encoder)
    rng = np.random.default_rng(0)
    passages, texts = {}, []
    for pid in range(n):
        doc, text, span = base[pid % len(base)]
        copy = pid // len(base)
        passages[pid] = Passage(pid, f"{copy}/{doc}", pid, span.start, span.end, text, span.sentences)
        texts.append(embedding_input(passages[pid])[0])
    vectors = rng.standard_normal((n, 384), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    index.dense = FaissStore(384)
    index.dense.add(list(range(n)), vectors)
    del vectors
    index.lexical.add(list(range(n)), texts)
    index.passages = passages
    for pid, p in passages.items():
        v = rng.standard_normal((len(p.sentences), 384)).astype(np.float16)
        index.sentence_vectors[pid] = v / np.linalg.norm(v, axis=1, keepdims=True).astype(np.float16)
    return index


def measure(n: int, queries: int) -> dict:
    import tempfile

    questions = [json.loads(line)["question"] for line in (SQUAD / "qa.jsonl").open()][: queries + 20]
    started = time.perf_counter()
    index = synthetic_index(n, Path(tempfile.mkdtemp()))
    setup = time.perf_counter() - started
    for q in questions[:20]:
        index.ask(q)
    search, ask = [], []
    for q in questions[20:]:
        t = time.perf_counter()
        index.search(q, k=5)
        search.append((time.perf_counter() - t) * 1000)
        t = time.perf_counter()
        index.ask(q)
        ask.append((time.perf_counter() - t) * 1000)
    return {
        "passages": n,
        "encoder": type(index.encoder).__name__,
        "search_ms_p50": round(statistics.median(search), 2),
        "search_ms_p95": round(float(np.percentile(search, 95)), 2),
        "ask_ms_p50": round(statistics.median(ask), 2),
        "ask_ms_p95": round(float(np.percentile(ask, 95)), 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "setup_s": round(setup, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one, args.queries)))
        return 0
    results = []
    for n in args.sizes:
        out = subprocess.run([sys.executable, __file__, "--one", str(n), "--queries", str(args.queries)],
                             capture_output=True, text=True, check=True).stdout
        results.append(json.loads(out.strip().splitlines()[-1]))
        print(json.dumps(results[-1]), flush=True)
    from results_file import save_result

    save_result("query", results, echo=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
