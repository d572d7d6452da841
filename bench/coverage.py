"""What the near-miss coverage features cost: candidate features with and without them, in one run.

    .venv/bin/python bench/coverage.py [--index DIR] [--queries 300]

On the squad_dev index (built if missing, with the bundled model), each of
the first --queries questions is searched once (15 passages, as `ask`
reads), then its candidates' features are computed alternately with and
without the coverage features (``sentence_candidates(coverage=...)``), 5
times each; the medians over questions of each one's median are reported,
with ``ask`` p50 for scale. Writes bench/results/coverage.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.evaluate import data_dir  # noqa: E402

SQUAD = data_dir() / "eval" / "squad_dev"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, default=Path(tempfile.gettempdir()) / "docqa-bench-coverage")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "coverage.json")
    args = parser.parse_args()
    from qa.answer.features import sentence_candidates
    from qa.index import Index
    from qa.query import Query
    from qa.retrieval.fusion import Mode

    index = Index.build(SQUAD / "docs", args.index)
    index = Index.open(args.index)
    finder = index.answers
    questions = [json.loads(line)["question"] for line in (SQUAD / "qa.jsonl").open()][: args.queries]
    with_coverage, without, asks = [], [], []
    for q in questions:
        query = Query.parse(q)
        vector = index.encode_query(q)
        hits = index.retriever.search(query, finder.scorer.candidate_passages, Mode.HYBRID, vector)
        timings: dict[bool, list[float]] = {True: [], False: []}
        for _ in range(5):
            for coverage in (True, False):
                t = time.perf_counter()
                sentence_candidates(query, vector[0], hits, index.data.sentence_vectors, index.data.idf,
                                    passages=finder.scorer.candidate_passages, title=index.data.title, coverage=coverage)
                timings[coverage].append((time.perf_counter() - t) * 1000)
        with_coverage.append(statistics.median(timings[True]))
        without.append(statistics.median(timings[False]))
        t = time.perf_counter()
        index.ask(q)
        asks.append((time.perf_counter() - t) * 1000)
    result = {"queries": len(questions), "features_ms_p50_with_coverage": round(statistics.median(with_coverage), 2),
              "features_ms_p50_without_coverage": round(statistics.median(without), 2),
              "ask_ms_p50": round(statistics.median(asks), 1), "scorer_reads_coverage": finder.scorer.reads_coverage}
    print(json.dumps(result))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
