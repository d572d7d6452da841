"""Does numpy's BLAS thread pool slow the query path? `ask` with it at 1 thread vs. its default.

    .venv/bin/python bench/query_threads.py [--index DIR] [--questions 300]

OpenBLAS threads left spinning after a matrix product can fight the query
encoder for the two cores. This asks squad_dev questions one at a time
against an index of the squad_dev articles (built with `qa index`, so the
ONNX query encoder is used, as on the command line), alternating blocks of
questions between numpy's default BLAS threads and one BLAS thread
(threadpoolctl), and reports the p50 / p95 of each. Writes
bench/results/query_threads.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from qa.evaluate import data_dir  # noqa: E402

from results_file import machine_load, save_result  # noqa: E402
SQUAD = data_dir() / "eval" / "squad_dev"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", default=None, help="an index of the squad_dev articles (built when missing)")
    parser.add_argument("--questions", type=int, default=300)
    parser.add_argument("--block", type=int, default=25)
    args = parser.parse_args()
    index_dir = Path(args.index or Path(tempfile.gettempdir()) / "qa-bench-threads")
    if not (index_dir / "manifest.json").exists():
        subprocess.run([sys.executable, "-m", "qa", "index", str(SQUAD / "docs"), "--index", str(index_dir), "-q"], check=True, cwd=ROOT)
    from threadpoolctl import threadpool_info, threadpool_limits

    from qa import Index

    index = Index.open(index_dir)
    rows = [json.loads(line) for line in (SQUAD / "qa.jsonl").read_text(encoding="utf-8").splitlines()]
    questions = [row["question"] for row in rows[:: max(1, len(rows) // args.questions)]][: args.questions]
    for question in questions[:30]:
        index.ask(question)  # warm up
    load = machine_load()
    times: dict[str, list[float]] = {"default": [], "one BLAS thread": []}
    for block in range(0, len(questions), args.block):
        for setting in (("default", "one BLAS thread") if block // args.block % 2 == 0 else ("one BLAS thread", "default")):
            limit = threadpool_limits(limits=1, user_api="blas") if setting != "default" else None
            try:
                for question in questions[block : block + args.block]:
                    started = time.perf_counter()
                    index.ask(question)
                    times[setting].append(time.perf_counter() - started)
            finally:
                if limit is not None:
                    limit.restore_original_limits()
    blas = [p for p in threadpool_info() if p.get("user_api") == "blas"]
    result = {
        "load": load, "load_after": machine_load(), "passages": len(index.passages),
        "query_encoder": type(index.encoder).__name__, "questions": len(questions),
        "blas": [{k: p.get(k) for k in ("internal_api", "num_threads", "filepath")} for p in blas],
        "ask_ms": {name: {"p50": round(1000 * statistics.median(t), 2), "p95": round(1000 * sorted(t)[int(0.95 * len(t))], 2)}
                   for name, t in times.items()},
    }
    save_result("query_threads", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
