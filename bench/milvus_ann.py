"""Recall@10 and latency of the Milvus vector index options (``?index=HNSW``, ``?index=IVF_FLAT``) on real vectors.

    .venv/bin/python bench/milvus_ann.py                  # a milvus==2.3.5 server started for the run
    .venv/bin/python bench/milvus_ann.py --engines server lite

The vectors are bench/ann.py's: the SQuAD *train* paragraphs and their
sentences embedded with all-MiniLM-L6-v2 (about 110k, cached by bench/ann.py
under --cache; the first run embeds them, about 20 minutes), and 1,000 SQuAD
train questions encoded with the ONNX query encoder. The truth is the exact
top 10 by inner product (numpy). For each index kind, a passages collection
is made by ``MilvusBackend`` itself (its schema and index parameters,
``qa.store.milvus.VECTOR_INDEXES``), filled, flushed, and searched one
question at a time through ``MilvusVectors.search``, as ``Index.ask`` does;
then again with the search parameter swept (HNSW ``ef``, IVF ``nprobe``) to
show what each costs. Milvus Lite builds only FLAT and IVF_FLAT (it serves
HNSW as FLAT). Writes bench/results/milvus_ann.json.
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

from ann import real_vectors, recall  # noqa: E402

from results_file import machine_load, save_result  # noqa: E402

SWEEPS = {"HNSW": ("ef", [16, 32, 64, 128, 256]), "IVF_FLAT": ("nprobe", [8, 16, 32, 64, 128]), "FLAT": (None, [None])}
INSERT_BATCH = 2_000


def fill(location: str, database: np.ndarray) -> tuple[Any, dict[str, str], float]:
    """A passages collection of ``database``'s rows (ids 0..n-1), made and indexed as a commit makes it
    (with the other collections of a generation, left empty)."""
    from qa.store.milvus import MilvusBackend

    started = time.perf_counter()
    backend = MilvusBackend(location)
    files = backend._create_collections(database.shape[1])
    collection = files["passages"]
    for start in range(0, len(database), INSERT_BATCH):
        rows = [{"id": i, "doc": "d", "row": "{}", "tokens": "t", "vector": database[i]}
                for i in range(start, min(len(database), start + INSERT_BATCH))]
        backend.call("insert", "insert", collection, rows)
    backend.call("flush", "flush", collection)
    wait_for_index(backend, collection, len(database))
    return backend, files, time.perf_counter() - started


def wait_for_index(backend: Any, collection: str, rows: int, timeout: float = 3600) -> None:
    """Until the vector index covers every row (a search of unindexed rows is exact: it would flatter recall)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            info = backend.client.describe_index(collection, "vector")
        except Exception:  # noqa: BLE001 - Milvus Lite names its index differently; nothing to wait for there
            return
        total = int(info.get("total_rows", rows))  # Milvus Lite: 0 (its FLAT/IVF index has no build to wait for)
        if int(info.get("indexed_rows", 0)) >= total and int(info.get("pending_index_rows", 0)) == 0:
            return
        time.sleep(2)
    raise TimeoutError(f"{collection}: index not built after {timeout} s")


def sweep(backend: Any, collection: str, kind: str, queries: np.ndarray, truth: list[list[int]], n: int) -> list[dict]:
    import qa.store.milvus as milvus

    store = milvus.MilvusVectors(backend, collection, queries.shape[1], n, n, lambda pid: True)
    build_params, shipped = milvus.VECTOR_INDEXES[kind]
    name, values = SWEEPS[kind]
    out = []
    try:
        for value in values:
            if name is not None:
                milvus.VECTOR_INDEXES[kind] = (build_params, {**shipped, name: value})
            for q in queries[:20]:  # warm up: load segments, caches
                store.search(q[None, :], 10)
            found, times = [], []
            for q in queries:
                started = time.perf_counter()
                hits = store.search(q[None, :], 10)[0]
                times.append((time.perf_counter() - started) * 1000)
                found.append([pid for pid, _ in hits])
            row = {"recall_at_10": round(recall(found, truth), 4), "ms_p50": round(statistics.median(times), 2),
                   "shipped": name is None or value == shipped.get(name)}
            if name is not None:
                row[name] = value
            out.append(row)
            print(json.dumps({"kind": kind, **row}), flush=True)
    finally:
        milvus.VECTOR_INDEXES[kind] = (build_params, shipped)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engines", nargs="+", default=["server"], choices=["server", "lite"])
    parser.add_argument("--kinds", nargs="+", default=["FLAT", "HNSW", "IVF_FLAT"], choices=list(SWEEPS))
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "docqa-bench")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "docqa-bench-milvus-ann")
    args = parser.parse_args()
    import milvus_server

    load = machine_load()
    database, queries = real_vectors(args.cache, args.queries)
    database = database / np.linalg.norm(database, axis=1, keepdims=True)
    scores = queries @ database.T
    truth = [list(np.argsort(-row, kind="stable")[:10]) for row in scores]
    del scores
    shutil.rmtree(args.work, ignore_errors=True)
    args.work.mkdir(parents=True)
    server = milvus_server.start(args.work / "server") if "server" in args.engines else None
    results: dict[str, Any] = {"vectors": len(database), "queries": len(queries), "load_before": load, "engines": {}}
    try:
        for engine in args.engines:
            rows = {}
            for kind in args.kinds:
                if engine == "lite" and kind == "HNSW":
                    continue  # Milvus Lite builds FLAT or IVF_FLAT only
                base = f"{server[1]}/ann_{kind.lower()}" if engine == "server" else f"milvus-lite://{args.work}/{kind.lower()}.db/ann"
                backend, files, seconds = fill(f"{base}?index={kind}", database)
                rows[kind] = {"build_s": round(seconds, 1), "params": backend_params(kind),
                              "search": sweep(backend, files["passages"], kind, queries, truth, len(database))}
                for collection in files.values():
                    backend.call("drop", "drop_collection", collection)
            results["engines"]["milvus-2.3.5" if engine == "server" else "milvus-lite-2.5.1"] = rows
    finally:
        if server is not None:
            milvus_server.stop(server[0])
    results["load_after"] = machine_load()
    save_result("milvus_ann", results)
    return 0


def backend_params(kind: str) -> dict:
    from qa.store.milvus import VECTOR_INDEXES

    build, search = VECTOR_INDEXES[kind]
    return {"build": build, "search": search}


if __name__ == "__main__":
    raise SystemExit(main())
