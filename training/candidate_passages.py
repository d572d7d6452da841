"""How many top passages' sentences should compete for the answer? Measured on SQuAD *train*.

    .venv/bin/python training/candidate_passages.py [--index DIR] [--pools 5 10 15 20]

Asks 1,500 questions of the 50 training articles that training/train_answer_scorer.py
indexes as its half A (same shuffle, seed 13) with the shipped scorer, letting
the sentences of the top N passages compete, for each N. squad_dev is not
used, so the choice is not fit to it. Writes training/results/candidate_passages.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import gzip
import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from qa.evaluate import data_dir  # noqa: E402

from results_file import machine_load, save_result  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", default=str(data_dir() / "train/squad_v1.1_train.json.gz"))
    parser.add_argument("--work", default="/tmp/qa-train", help="the training script's --work (its A articles are indexed here)")
    parser.add_argument("--pools", type=int, nargs="*", default=[5, 10, 15, 20])
    parser.add_argument("--questions", type=int, default=1500)
    args = parser.parse_args()
    from qa.answer.finder import AnswerFinder
    from qa.answer.scorer import Scorer
    from qa.retrieval.encoder import SentenceTransformerEncoder
    from qa.evaluate import EvalRow, evaluate
    from qa.index import Index
    from qa.retrieval.onnx_encoder import export_onnx

    data = json.load(gzip.open(args.train))["data"]
    random.Random(13).shuffle(data)  # as training/train_answer_scorer.py does
    rows = [EvalRow(qa["question"], tuple(a["text"] for a in qa["answers"]), f"{art['title']}.txt")
            for art in data[:50] for para in art["paragraphs"] for qa in para["qas"]]
    rows = random.Random(0).sample(rows, min(args.questions, len(rows)))
    encoder = SentenceTransformerEncoder()
    index_dir = Path(args.work) / "index-A"
    index = Index.build(Path(args.work) / "A", index_dir, encoder=encoder)
    export_onnx(encoder, index_dir)
    index = Index.open(index_dir)
    shipped = Scorer.load()
    load = machine_load()
    results = {}
    for pool in args.pools:
        index.answers = AnswerFinder(index.data, dataclasses.replace(shipped, candidate_passages=pool))
        m = evaluate(index, rows)
        results[pool] = {k: m[k] for k in ("hit@1", "hit@5", "mrr", "answer_accuracy", "answer_f1", "false_no_answer_rate", "query_ms_p50")}
        print(pool, json.dumps(results[pool]), flush=True)
    save_result("candidate_passages", {"load": load, "questions": len(rows), "by_passages": results},
                folder=ROOT / "training" / "results")
    return 0


if __name__ == "__main__":
    sys.exit(main())
