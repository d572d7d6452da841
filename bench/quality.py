"""Reproduce the README's quality table on ../shared/eval/squad_dev in one command.

    .venv/bin/python bench/quality.py            # all steps, ~10 min on 2 cores
    .venv/bin/python bench/quality.py --limit 500

Steps (each adds one idea to the one before):
  1. baseline   RRF fusion, best-cosine sentence, no no-answer decision
  2. +convex    cosine + normalised BM25 fusion (weight chosen on SQuAD train)
  3. +scorer    learned sentence scorer and answerability model (qa/answer_scorer.json)
Then the no-answer set: the 13 articles are split in two halves (alternating by
file name); each half is indexed alone and asked its own questions (answerable)
plus the other half's questions (unanswerable: their article is not indexed).
The learned parts were trained on SQuAD *train* articles only, so every
squad_dev number here is a validation number. Writes bench/results/quality.json.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.encoder import SentenceTransformerEncoder  # noqa: E402
from qa.evaluate import EvalRow, evaluate, load_rows  # noqa: E402
from qa.index import Index  # noqa: E402

SQUAD = ROOT.parent / "shared" / "eval" / "squad_dev"
NAIVE = ROOT / "bench" / "naive_scorer.json"
LEARNED = ROOT / "qa" / "answer_scorer.json"
KEYS = ("hit@1", "hit@5", "mrr", "answer_accuracy", "answer_f1", "mean_answer_words", "false_no_answer_rate", "query_ms_p50")


def linked_docs(names: list[str], folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).symlink_to(SQUAD / "docs" / name)
    return folder


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=None, help="questions per run (default: all)")
    parser.add_argument("--work", default=None, help="folder for the indexes (default: a temp folder)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "quality.json"))
    args = parser.parse_args()

    rows = load_rows(SQUAD / "qa.jsonl")
    if args.limit:
        rows = random.Random(0).sample(rows, min(args.limit, len(rows)))
    work = Path(args.work or tempfile.mkdtemp(prefix="qa-quality-"))
    encoder = SentenceTransformerEncoder()
    names = sorted(p.name for p in (SQUAD / "docs").glob("*.txt"))
    started = time.perf_counter()
    index = Index.build(linked_docs(names, work / "all"), work / "index-all", encoder=encoder)
    index_seconds = time.perf_counter() - started

    results: dict[str, dict] = {}
    steps = [("baseline", "rrf", NAIVE), ("+convex fusion", "convex", NAIVE), ("+learned scorer", "convex", LEARNED)]
    for name, fusion, scorer in steps:
        index.use_scorer(scorer)
        metrics = evaluate(index, rows, fusion=fusion, index_seconds=index_seconds)
        results[name] = {k: metrics[k] for k in KEYS}
        print(name, json.dumps(results[name]), flush=True)

    halves = [names[0::2], names[1::2]]
    totals = {"unanswerable": 0, "no_answer_right": 0.0, "answerable": 0, "false_no_answer": 0.0}
    for i, half in enumerate(halves):
        other = set(halves[1 - i])
        half_index = Index.build(linked_docs(half, work / f"half{i}"), work / f"index-half{i}", encoder=encoder)
        mixed = [r for r in rows if r.doc in half] + [EvalRow(r.question, (), r.doc) for r in rows if r.doc in other]
        m = evaluate(half_index, mixed)
        totals["unanswerable"] += m["unanswerable"]
        totals["no_answer_right"] += (m["no_answer_accuracy"] or 0.0) * m["unanswerable"]
        totals["answerable"] += m["answerable"]
        totals["false_no_answer"] += m["false_no_answer_rate"] * m["answerable"]
    results["no-answer set"] = {
        "questions": totals["unanswerable"] + totals["answerable"],
        "unanswerable": totals["unanswerable"],
        "no_answer_accuracy": round(totals["no_answer_right"] / totals["unanswerable"], 4),
        "false_no_answer_rate": round(totals["false_no_answer"] / totals["answerable"], 4),
    }
    print("no-answer set", json.dumps(results["no-answer set"]), flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"questions": len(rows), "index_seconds": round(index_seconds, 1), "results": results}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
