"""Exact vs. approximate (IVF) vector search: latency and recall@10 as the store grows.

    .venv/bin/python bench/ann.py                          # 20k, 50k, 100k, 1M vectors
    .venv/bin/python bench/ann.py --sizes 100000 --probes 16 32

Vectors are real where they can be: the 18,896 SQuAD *train* paragraphs and
their ~90k sentences, embedded with all-MiniLM-L6-v2 (sentence-transformers,
as `qa index` embeds passages), about 110k vectors. Queries are 1,000 SQuAD
train questions encoded with the ONNX query encoder (as `qa ask` does). The
vectors are cached (--cache) because embedding them takes about 20 minutes.

Beyond 110k the store is filled with "real-ish" vectors: a real vector plus
Gaussian noise, renormalised, so that its cosine to the real vector is 0.8
(see `realish`). To check that this neither flatters nor handicaps IVF, the
run also measures recall at the real size with four fifths of the real
vectors replaced by real-ish ones made from the other fifth (the `check`
row). Calibration run at 110k, recall@10 at nprobe 8/16/32/64: real 0.833 /
0.890 / 0.936 / 0.965; check with cosine 0.6: 0.800 / 0.869 / 0.916 / 0.953;
0.7: 0.816 / 0.877 / 0.928 / 0.959; 0.8: 0.833 / 0.894 / 0.936 / 0.965;
0.9: 0.849 / 0.898 / 0.939 / 0.967. So 0.8.

For each size: exact search (FaissStore as it is below its limit) gives the
true top 10 and its latency. Above the limit, a FaissStore grows to the size
10k vectors at a time, switching itself to IVF on the way (the time of that
update is `switch_s`); at or below the limit it would stay exact, so IVF is
forced, trained on all the vectors. Each gives recall@10 and latency per
nprobe. Searches are one question at a time, on
one thread, like `Index.ask`. Writes bench/results/ann.json and ann.png.
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from qa.evaluate import data_dir  # noqa: E402

from results_file import save_result  # noqa: E402

TRAIN = data_dir() / "train" / "squad_v1.1_train.json.gz"
NOISE_COSINE = 0.8  # cosine between a real-ish vector and the real vector it was made from (calibrated, see above)


def real_vectors(cache: Path, queries: int) -> tuple[np.ndarray, np.ndarray]:
    """(database, queries): real MiniLM vectors of SQuAD train paragraphs and sentences, and questions."""
    path = cache / f"squad-train-minilm-q{queries}.npz"
    if path.exists():
        data = np.load(path, allow_pickle=False)
        return data["database"], data["queries"]
    from qa.retrieval.encoder import SentenceTransformerEncoder
    from qa.retrieval.onnx_encoder import export_onnx, load_query_encoder
    from qa.ingest.sentences import split_sentences

    squad = json.load(gzip.open(TRAIN))
    paragraphs = [p["context"] for article in squad["data"] for p in article["paragraphs"]]
    questions = [q["question"] for article in squad["data"] for p in article["paragraphs"] for q in p["qas"]]
    sentences = [text[a:b] for text in paragraphs for a, b in split_sentences(text)]
    encoder = SentenceTransformerEncoder()
    started = time.perf_counter()
    database = np.concatenate([encoder.encode(paragraphs, progress=True), encoder.encode(sentences, progress=True)])
    print(f"embedded {len(paragraphs)} paragraphs and {len(sentences)} sentences in {time.perf_counter() - started:.0f} s", flush=True)
    onnx_dir = ROOT / "bench" / "results" / "onnx-cache"
    query_encoder = load_query_encoder(onnx_dir, encoder.name)
    if query_encoder is None:
        export_onnx(encoder, onnx_dir)
        query_encoder = load_query_encoder(onnx_dir, encoder.name)
    picked = np.random.default_rng(0).choice(len(questions), queries, replace=False)
    query_vectors = (query_encoder or encoder).encode([questions[i] for i in picked])
    cache.mkdir(parents=True, exist_ok=True)
    np.savez(path, database=database.astype(np.float32), queries=query_vectors.astype(np.float32))
    return database.astype(np.float32), query_vectors.astype(np.float32)


def realish(base: np.ndarray, n: int, seed: int) -> np.ndarray:
    """``n`` vectors, each a random row of ``base`` plus isotropic noise, renormalised.

    The noise is scaled so that the expected cosine to the source row is
    NOISE_COSINE: x + s * g with g ~ N(0, I/d) has cosine 1 / sqrt(1 + s^2).
    """
    rng = np.random.default_rng(seed)
    scale = np.sqrt(1 / NOISE_COSINE**2 - 1)
    out = np.empty((n, base.shape[1]), dtype=np.float32)
    for start in range(0, n, 100_000):
        m = min(n, start + 100_000) - start
        block = base[rng.integers(0, len(base), m)] + rng.standard_normal((m, base.shape[1]), dtype=np.float32) * (scale / np.sqrt(base.shape[1]))
        out[start : start + m] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def timed_search(store, queries: np.ndarray, k: int = 10) -> tuple[list[list[int]], float]:  # type: ignore[no-untyped-def]
    """Top-k ids per query, searched one at a time; median milliseconds."""
    results, times = [], []
    for q in queries:
        t = time.perf_counter()
        hits = store.search(q[None, :], k)[0]
        times.append((time.perf_counter() - t) * 1000)
        results.append([i for i, _ in hits])
    return results, statistics.median(times)


def recall(approx: list[list[int]], exact: list[list[int]]) -> float:
    return float(np.mean([len(set(a) & set(e)) / len(e) for a, e in zip(approx, exact) if e]))


def measure(database: np.ndarray, queries: np.ndarray, probes: list[int], label: str) -> dict:
    from qa.retrieval.dense import EXACT_LIMIT, FaissStore

    ids = np.arange(len(database), dtype=np.int64)
    exact = FaissStore(database.shape[1], exact_limit=len(database) + 1)
    for start in range(0, len(database), 100_000):
        exact.add(ids[start : start + 100_000], database[start : start + 100_000])
    truth, exact_ms = timed_search(exact, queries)
    del exact
    row: dict = {"vectors": len(database), "data": label, "exact_ms_p50": round(exact_ms, 2)}
    # Above the limit the store grows as an index does, 10k vectors per update, and switches
    # itself to IVF when it passes the limit (training on what it holds then). Below the limit
    # it would stay exact: IVF is forced (trained on all N) to show what it would give.
    limit = EXACT_LIMIT if len(database) > EXACT_LIMIT else 0
    ivf = FaissStore(database.shape[1], exact_limit=limit)
    row["grown"] = bool(limit)
    step = 10_000 if limit else len(database)
    for start in range(0, len(database), step):
        approximate = ivf.is_approximate
        started = time.perf_counter()
        ivf.add(ids[start : start + step], database[start : start + step])
        if ivf.is_approximate and not approximate:
            row["switch_s"] = round(time.perf_counter() - started, 1)
            row["switched_at"] = len(ivf)
    row["kind"] = ivf.kind
    row["ivf"] = []
    for nprobe in probes:
        ivf.set_nprobe(nprobe)
        found, ms = timed_search(ivf, queries)
        row["ivf"].append({"nprobe": nprobe, "recall_at_10": round(recall(found, truth), 4), "ms_p50": round(ms, 2)})
    print(json.dumps(row), flush=True)
    return row


def plot(rows: list[dict]) -> None:
    from results_file import save_plot

    def draw(figure) -> None:  # type: ignore[no-untyped-def]
        left, right = figure.subplots(1, 2)
        for row in rows:
            label = f"{row['vectors']:,} ({row['data']})"
            line, = left.plot([r["nprobe"] for r in row["ivf"]], [r["recall_at_10"] for r in row["ivf"]], marker="o", label=label)
            right.plot([r["ms_p50"] for r in row["ivf"]], [r["recall_at_10"] for r in row["ivf"]], marker="o", color=line.get_color(), label=label)
            right.axvline(row["exact_ms_p50"], linestyle=":", color=line.get_color(), linewidth=1)
        for ax in (left, right):
            ax.axhline(0.95, color="grey", linestyle="--", linewidth=1)
            ax.set_ylabel("recall@10 vs. exact search")
            ax.legend(fontsize=7)
        left.set_xscale("log", base=2)
        left.set_xlabel("nprobe (IVF cells searched)")
        left.set_title("IVF recall (dashed: 0.95)")
        right.set_xscale("log")
        right.set_xlabel("ms per search, p50, 1 thread (dotted: exact search)")
        right.set_title("IVF latency vs. recall")

    save_plot("ann", draw, size=(11, 4.2))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 50_000, 100_000, 1_000_000])
    parser.add_argument("--probes", type=int, nargs="+", default=[8, 16, 32, 64, 96, 128])
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "docqa-bench")
    parser.add_argument("--no-check", action="store_true", help="skip the real-ish-vs-real check")
    args = parser.parse_args()
    import faiss

    from results_file import machine_load

    load = machine_load()
    faiss.omp_set_num_threads(2)  # training and adding; searches switch to one thread themselves
    real, queries = real_vectors(args.cache, args.queries)
    order = np.random.default_rng(1).permutation(len(real))
    real = real[order]
    rows = []
    for n in args.sizes:
        if n <= len(real):
            rows.append(measure(real[:n], queries, args.probes, "real"))
        else:
            database = np.concatenate([real, realish(real, n - len(real), seed=n)])
            rows.append(measure(database, queries, args.probes, "real + real-ish"))
            del database
    if not args.no_check:
        fifth = real[: len(real) // 5]
        rows.append(measure(np.concatenate([fifth, realish(fifth, len(real) - len(fifth), seed=7)]), queries, args.probes,
                            "check: 1/5 real + real-ish"))
        rows.append(measure(real, queries, args.probes, "real"))
    from qa.retrieval.dense import EXACT_LIMIT, NPROBE

    result = {"load": load, "load_after": machine_load(), "exact_limit": EXACT_LIMIT, "nprobe": NPROBE, "queries": len(queries), "noise_cosine": NOISE_COSINE, "rows": rows}
    save_result("ann", result, echo=False)
    plot(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
