"""Train the answer scorer (qa/answer_scorer.json) on SQuAD v1.1 train.

Two logistic regressions over the features in ``qa.answer``:
  1. sentence: does this candidate sentence contain the gold answer?
     (every sentence of the top-5 passages of each question is a row)
  2. answerable: is the best-scored candidate right at all? Unanswerable
     rows come from asking questions of articles of half A against an index of
     the disjoint half B, so the documents cannot answer them.
The no-answer threshold is set so that at most --false-no-answer of the
answerable training questions get a no-answer.

Only SQuAD *train* articles are used (disjoint from the dev articles that
``qa eval`` is measured on). Usage:
    .venv/bin/python scripts/train_answer_scorer.py
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.answer import ANSWER_FEATURES, SENTENCE_FEATURES, Scorer  # noqa: E402
from qa.encoder import SentenceTransformerEncoder  # noqa: E402
from qa.fusion import Mode  # noqa: E402
from qa.index import Index  # noqa: E402
from qa.storage import write_json_atomic  # noqa: E402

def write_articles(articles: list[dict], folder: Path, heuristic: dict[str, int]) -> list[dict]:
    """Write each article like the squad_dev docs; return questions with gold offsets.

    Files of other runs are removed first: a stale article in the distractor
    half would make its "unanswerable" questions answerable.
    """
    folder.mkdir(parents=True, exist_ok=True)
    wanted = {f"{a['title']}.txt" for a in articles}
    for stale in folder.glob("*.txt"):
        if stale.name not in wanted:
            stale.unlink()
    questions = []
    for article in articles:
        name = f"{article['title']}.txt"
        parts, pos = [article["title"].replace("_", " ")], None
        pos = len(parts[0]) + 2
        text_parts = [parts[0]]
        for para in article["paragraphs"]:
            context = para["context"]
            for qa in para["qas"]:
                ans = qa["answers"][0]
                start = heuristic.get(qa["id"], ans["answer_start"])
                questions.append({"question": qa["question"], "doc": name, "gold": pos + start,
                                  "gold_end": pos + start + len(ans["text"]), "answer": ans["text"]})
            text_parts.append(context)
            pos += len(context) + 2
        (folder / name).write_text("\n\n".join(text_parts), encoding="utf-8")
    return questions


def rows_for(index: Index, questions: list[dict], answerable: bool) -> list[tuple[list, dict]]:
    out = []
    for q in questions:
        qv = index.encode_query(q["question"])
        hits = index._search(q["question"], 5, Mode.HYBRID, qv[0:1])
        cands = index._answers.candidates(q["question"], qv[0], hits)
        labels = [answerable and c.doc == q["doc"] and c.start <= q["gold"] < c.end for c in cands]
        out.append((cands, {"labels": labels, "answerable": answerable}))
    return out


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-3, weight: np.ndarray | None = None) -> tuple[np.ndarray, float]:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=1.0 / (l2 * len(y)), max_iter=2000)
    model.fit(x, y, sample_weight=weight)
    return model.coef_[0], float(model.intercept_[0])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", default=str(ROOT.parent / "shared/train/squad_v1.1_train.json.gz"))
    parser.add_argument("--articles", type=int, default=100, help="articles used (half answerable, half as distractors)")
    parser.add_argument("--questions", type=int, default=5000, help="answerable training questions")
    parser.add_argument("--unanswerable", type=int, default=2500)
    parser.add_argument("--false-no-answer", type=float, default=0.07, help="target false no-answer rate on train")
    parser.add_argument("--work", default="/tmp/qa-train")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--out", default=str(ROOT / "qa/answer_scorer.json"))
    args = parser.parse_args()

    rng = random.Random(args.seed)
    data = json.load(gzip.open(args.train))["data"]
    heuristic = {}
    amb = Path(args.train).with_name("squad_v1.1_train.ambiguous_starts.jsonl.gz")
    if amb.exists():
        for line in gzip.open(amb, "rt"):
            row = json.loads(line)
            heuristic[row["id"]] = row["heuristic_start"]
    rng.shuffle(data)
    half = args.articles // 2
    work = Path(args.work)
    qa_a = write_articles(data[:half], work / "A", heuristic)
    write_articles(data[half : 2 * half], work / "B", heuristic)
    encoder = SentenceTransformerEncoder()
    t0 = time.time()
    index_a = Index.build(work / "A", work / "index-A", encoder=encoder)
    index_b = Index.build(work / "B", work / "index-B", encoder=encoder)
    print(f"indexed {2 * half} articles in {time.time() - t0:.0f} s", file=sys.stderr)
    rng.shuffle(qa_a)
    positives = rows_for(index_a, qa_a[: args.questions], True)
    negatives = rows_for(index_b, qa_a[args.questions : args.questions + args.unanswerable], False)

    # 1. sentence scorer
    x = np.array([[c.features[f] for f in SENTENCE_FEATURES] for cands, _ in positives for c in cands])
    y = np.array([label for _, meta in positives for label in meta["labels"]], dtype=int)
    w, b = fit_logistic(x, y)
    scorer = Scorer(SENTENCE_FEATURES, w, b, ANSWER_FEATURES, np.zeros(len(ANSWER_FEATURES)), 0.0, 0.0)

    # 2. answerable model over the re-scored candidates
    ax, ay, correct_top = [], [], 0
    for rows in (positives, negatives):
        for cands, meta in rows:
            if not cands:
                continue
            scored = sorted(((scorer.sentence_logit(c.features), i) for i, c in enumerate(cands)), reverse=True)
            ranked = [cands[i] for _, i in scored]
            for c, (s, _) in zip(ranked, scored):
                c.score = s
            best_right = meta["labels"][scored[0][1]]
            correct_top += best_right
            feats = index_a._answers.answerability(ranked)
            ax.append([feats[f] for f in ANSWER_FEATURES])
            ay.append(int(best_right))
    ax_arr, ay_arr = np.array(ax), np.array(ay)
    aw, ab = fit_logistic(ax_arr, ay_arr)
    probs = 1 / (1 + np.exp(-(ax_arr @ aw + ab)))
    n_pos = len(positives)
    answerable_probs = probs[:n_pos]
    threshold = float(np.quantile(answerable_probs, args.false_no_answer))
    no_answer_acc = float(np.mean(probs[n_pos:] < threshold))
    top_acc = float(np.mean(ay_arr[:n_pos]))
    report = {
        "train_articles": 2 * half, "answerable_questions": n_pos, "unanswerable_questions": len(negatives),
        "top_sentence_accuracy": round(top_acc, 4), "threshold": round(threshold, 4),
        "no_answer_accuracy": round(no_answer_acc, 4), "false_no_answer_rate": round(float(np.mean(answerable_probs < threshold)), 4),
    }
    write_json_atomic(args.out, {
        "trained_by": "scripts/train_answer_scorer.py", "data": "SQuAD v1.1 train (CC BY-SA 4.0)", "seed": args.seed,
        "train_report": report,
        "sentence": {"features": list(SENTENCE_FEATURES), "weights": [round(float(v), 6) for v in w], "bias": round(b, 6)},
        "answerable": {"features": list(ANSWER_FEATURES), "weights": [round(float(v), 6) for v in aw], "bias": round(ab, 6),
                       "threshold": round(threshold, 6)},
    })
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
