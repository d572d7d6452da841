"""Train the answer models (qa/answer/models/answer_scorer.json) on SQuAD v1.1 train.

  1. sentence ranker: which candidate sentence holds the gold answer? Every
     sentence of the top passages of a question is a candidate. --ranker
     mlp (the default, shipped as qa/answer/models/answer_scorer.json): a one-hidden-layer
     MLP over 40 features trained with a listwise loss (softmax over each
     question's candidates); --ranker logistic: logistic regression over the
     24 ``SENTENCE_FEATURES`` (training/scorers/logistic_scorer.json, for comparison).
     The candidates are those of as many top passages as run time reads
     (--candidate-passages: 15 for the MLP, 5 for logistic).
  2. span scorer: which phrase of the gold sentence is the answer? A linear
     model over ``qa.answer.span.SPAN_FEATURES``, listwise again, the target being the
     phrase(s) with the best token F1 against the gold answer.
  3. reader: the cross-encoder of training/train_reader.py re-scores the
     ranker's best few candidates (ranker logit + weight x reader logit),
     each read as run time reads it (with its title and previous sentence
     for a context reader); how many (--reader-tops) and the weight are chosen
     on these train questions. A reader with a span head also marks the answer
     phrase (shown instead of the span scorer's) and its span score becomes
     an answerability input.
  4. answerable: is the best-ranked candidate right at all? Logistic regression;
     unanswerable rows come from asking questions of articles of half A against
     an index of the disjoint half B, so the documents cannot answer them, and
     (harder) from asking the questions of A's odd paragraphs against an index
     of A's even paragraphs, when those hold none of the gold answers. The
     no-answer threshold is set so that --false-no-answer of the answerable
     training questions get a no-answer. With --near-miss, questions of A
     changed by ``training/near_miss.py``'s rules (a name or number their
     article never mentions, an opposite, a negation) are asked of A too: they
     look answerable from their own paragraph, and the model reads the
     ``NEAR_MISS_FEATURES`` (what of the question the answer's passage lacks).
  5. answer length: sentences over --max-words words are cut to the clauses
     around the span (``qa.answer.trim_sentence``); the report gives the
     training accuracy and length with and without the cut.

Steps 3 and 4 are fit on top of the ranker, so they must see the ranker as run
time does, on questions it was not fit on: the articles are split into
--folds folds, and each question is ranked by a ranker fit on the other folds'
articles (cross-fitting). The shipped ranker is then fit on all of them.

Only SQuAD *train* articles are used (disjoint from the dev articles that
``qa eval`` is measured on). Usage (indexes are cached in --work, so a rerun
only retrains):
    .venv/bin/python training/train_answer_scorer.py                       # -> qa/answer/models/answer_scorer.json
    .venv/bin/python training/train_answer_scorer.py --ranker logistic --reader none --out training/scorers/logistic_scorer.json
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.evaluate import data_dir  # noqa: E402

from qa.answer.scorer import (
    ALL_FEATURES,
    ANSWER_FEATURES,
    NEAR_MISS_FEATURES,
    READER_ANSWER_FEATURES,
    SENTENCE_FEATURES,
    Scorer,
    READER_SPAN_FEATURES,
)
from qa.answer.finder import (
    AnswerFinder,
    mark_reader_spans,
    reader_choice,
    reader_input,
    rescore_with_reader,
    trim_sentence,
)
from qa.answer.features import question_type
from qa.retrieval.encoder import SentenceTransformerEncoder  # noqa: E402
from qa.evaluate import f1_score, normalize_answer  # noqa: E402
from qa.retrieval.fusion import DEFAULT_FUSION, Mode  # noqa: E402
from qa.index import Index  # noqa: E402
from qa.query import Query  # noqa: E402
from qa.answer.reader import DEFAULT_READER, load_reader  # noqa: E402
from qa.answer.span import SPAN_FEATURES, SpanModel, find_span, span_candidates  # noqa: E402
from qa.files import write_json_atomic  # noqa: E402
from near_miss import names_in, near_misses  # noqa: E402  (training/ is on sys.path: this script's folder)

# The ranker's inputs: every candidate feature except the (unused) bilinear projection.
RANKER_FEATURES = tuple(f for f in ALL_FEATURES if not f.startswith("bilinear"))
HIDDEN = 32
KINDS = ("other_articles", "same_article", "near_miss")  # the unanswerable questions, by how they were made


def write_articles(articles: list[dict], folder: Path, heuristic: dict[str, int], parity: int | None = None) -> list[dict]:
    """Write each article like the squad_dev docs; return questions with gold offsets.

    ``parity`` 0 or 1 writes only the even or odd paragraphs (for the
    same-article unanswerable questions). Files of other runs are removed
    first: a stale article in the distractor half would make its
    "unanswerable" questions answerable.
    """
    folder.mkdir(parents=True, exist_ok=True)
    wanted = {f"{a['title']}.txt" for a in articles}
    for stale in folder.glob("*.txt"):
        if stale.name not in wanted:
            stale.unlink()
    questions = []
    for article in articles:
        name = f"{article['title']}.txt"
        parts = [article["title"].replace("_", " ")]
        pos = len(parts[0]) + 2
        text_parts = [parts[0]]
        for number, para in enumerate(article["paragraphs"]):
            if parity is not None and number % 2 != parity:
                continue
            context = para["context"]
            for qa in para["qas"]:
                ans = qa["answers"][0]
                start = heuristic.get(qa["id"], ans["answer_start"])
                questions.append({"question": qa["question"], "doc": name, "gold": pos + start, "paragraph": number,
                                  "gold_end": pos + start + len(ans["text"]), "answer": ans["text"],
                                  "answers": [a["text"] for a in qa["answers"]]})
            text_parts.append(context)
            pos += len(context) + 2
        (folder / name).write_text("\n\n".join(text_parts), encoding="utf-8")
    return questions


def same_article_unanswerable(articles: list[dict], folder: Path, heuristic: dict[str, int]) -> list[dict]:
    """Questions of the odd paragraphs whose answer is in none of the even ones (asked of the even ones)."""
    write_articles(articles, folder, heuristic, parity=0)
    even_text = {path.name: normalize_answer(path.read_text(encoding="utf-8")) for path in folder.glob("*.txt")}
    odd = [q for q in write_articles(articles, folder.with_name(folder.name + "-odd"), heuristic, parity=1)]
    return [q for q in odd if not any(f" {normalize_answer(a)} " in f" {even_text[q['doc']]} " for a in q["answers"])]


def near_miss_questions(questions: list[dict], folder: Path, names_from: list[dict], count: int, seed: int) -> list[dict]:
    """Up to ``count`` questions of ``questions`` changed by one near-miss rule each (their article in ``folder``
    no longer answers them); the swapped-in names come from the questions of ``names_from``."""
    rng = random.Random(seed)
    names = names_in(q["question"] for q in names_from)
    texts = {path.name: path.read_text(encoding="utf-8") for path in folder.glob("*.txt")}
    out = []
    for q in rng.sample(questions, len(questions)):
        changed = near_misses(q["question"], texts[q["doc"]], names, rng)
        if changed:
            rule, question = rng.choice(changed)
            out.append({**q, "question": question, "original": q["question"], "rule": rule, "near_miss": True})
        if len(out) >= count:
            break
    return out


def collect(index: Index, questions: list[dict], answerable: bool, passages: int, fusion: str = DEFAULT_FUSION) -> list[dict]:
    """Each question's candidates (unscored features) from its top ``passages`` (retrieved with ``fusion``, as run
    time does) and which of them hold the gold answer."""
    finder = AnswerFinder(index.data, _plain_scorer())
    vectors = index.encoder.encode([q["question"] for q in questions], batch_size=128)
    out = []
    for q, qv in zip(questions, vectors):
        qv = np.asarray(qv, dtype=np.float32)
        query = Query.parse(q["question"])
        hits = index.retriever.search(query, passages, Mode.HYBRID, qv[None, :], fusion)
        cands = finder.features(query, qv, hits)
        labels = np.array([answerable and c.doc == q["doc"] and c.start <= q["gold"] < c.end for c in cands], dtype=bool)
        x = np.array([[c.features[f] for f in RANKER_FEATURES] for c in cands], dtype=np.float64).reshape(len(cands), -1)
        out.append({**q, "cands": cands, "x": x, "y": labels, "index": index})
    return out


def _plain_scorer() -> Scorer:
    n = len(RANKER_FEATURES)
    answer = ANSWER_FEATURES + NEAR_MISS_FEATURES  # so that the candidates carry the coverage features too
    return Scorer(RANKER_FEATURES, np.zeros(n), 0.0, answer, np.zeros(len(answer)), 0.0, 0.0)


def fit_listwise(groups: list[tuple[np.ndarray, np.ndarray]], hidden: int, epochs: int, seed: int,
                 lr: float = 1e-2, weight_decay: float = 1e-4) -> dict:
    """Softmax-over-candidates training of a linear model or a one-hidden-layer MLP (torch, CPU)."""
    import torch

    torch.manual_seed(seed)
    groups = [(x, t) for x, t in groups if len(t) and t.sum() > 0]
    allx = np.concatenate([x for x, _ in groups])
    mean, std = allx.mean(0), allx.std(0)
    # A feature that never varies in training (e.g. ``heading``: headings are dropped while sentences
    # exist) teaches nothing; dividing by its zero spread would blow up any other value at run time.
    constant = std < 1e-6
    scale = np.where(constant, 1.0, std + 1e-6)
    width = max(len(t) for _, t in groups)
    x_pad = torch.zeros(len(groups), width, allx.shape[1])
    t_pad = torch.zeros(len(groups), width)
    mask = torch.zeros(len(groups), width, dtype=torch.bool)
    for i, (x, t) in enumerate(groups):
        x_pad[i, : len(t)] = torch.tensor((x - mean) / scale, dtype=torch.float32)
        t_pad[i, : len(t)] = torch.tensor(t / t.sum(), dtype=torch.float32)
        mask[i, : len(t)] = True
    if hidden:
        model = torch.nn.Sequential(torch.nn.Linear(allx.shape[1], hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 1))
    else:
        model = torch.nn.Sequential(torch.nn.Linear(allx.shape[1], 1))
    optimiser = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)
    for _ in range(epochs):
        for batch in torch.randperm(len(groups)).split(256):
            logits = model(x_pad[batch]).squeeze(-1).masked_fill(~mask[batch], -1e9)
            loss = -(t_pad[batch] * torch.log_softmax(logits, -1)).sum(-1).mean()
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
    layers = [m for m in model if isinstance(m, torch.nn.Linear)]
    out = {"mean": mean, "scale": scale}
    first = layers[0].weight.detach().numpy().T.astype(np.float64)
    first[constant] = 0.0  # never trained (its input was always 0): it must not act on unseen values
    if hidden:
        out["hidden"] = {"weights": first, "bias": layers[0].bias.detach().numpy().astype(np.float64)}
        out["weights"] = layers[-1].weight.detach().numpy()[0].astype(np.float64)
    else:
        out["weights"] = first[:, 0]
    out["bias"] = float(layers[-1].bias.detach().numpy()[0])
    return out


def ranker_scorer(params: dict) -> Scorer:
    hidden = params.get("hidden")
    return Scorer(RANKER_FEATURES, params["weights"], params["bias"], ANSWER_FEATURES, np.zeros(len(ANSWER_FEATURES)), 0.0, 0.0,
                  mean=params["mean"], scale=params["scale"],
                  hidden_weights=hidden["weights"] if hidden else None, hidden_bias=hidden["bias"] if hidden else None)


def span_groups(rows: list[dict], model: SpanModel | None = None) -> tuple[list, list[float], list[float]]:
    """Span candidates of each question's gold sentence, their F1 targets, and the rule/model F1."""
    groups, rule_f1, model_f1 = [], [], []
    for r in rows:
        gold = [c for c, y in zip(r["cands"], r["y"]) if y]
        if not gold:
            continue
        text, qtype = gold[0].text, question_type(r["question"])
        cands = span_candidates(r["question"], text, qtype)
        if not cands:
            continue
        f1 = np.array([f1_score(text[c.start : c.end], [r["answer"]]) for c in cands])
        x = np.array([[c.features[f] for f in SPAN_FEATURES] for c in cands])
        groups.append((x, (f1 == f1.max()).astype(np.float64) if f1.max() > 0 else np.zeros(len(f1))))
        a, b = find_span(r["question"], text, qtype)
        rule_f1.append(f1_score(text[a:b], [r["answer"]]))
        if model is not None:
            a, b = find_span(r["question"], text, qtype, model)
            model_f1.append(f1_score(text[a:b], [r["answer"]]))
    return groups, rule_f1, model_f1


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float = 1e-3) -> tuple[np.ndarray, float]:
    from sklearn.linear_model import LogisticRegression

    model = LogisticRegression(C=1.0 / (l2 * len(y)), max_iter=2000)
    model.fit(x, y)
    return model.coef_[0], float(model.intercept_[0])


def rank(row: dict, reader_top: int = 0, reader_weight: float = 0.0, scorer: Scorer | None = None,
         reader_passages: int = 0) -> tuple[list, list[bool]]:
    """The row's candidates best first by its out-of-fold ranker (or ``scorer``), with labels.

    With ``reader_top``, the reader re-scores what run time would have it read (``qa.answer.reader_choice``).
    """
    if not row["cands"]:
        return [], []
    logits = (scorer or row["ranker"]).sentence_logits(row["x"])
    order = np.argsort(-logits, kind="stable")
    ranked, label = [], {}
    for i in order:
        c = row["cands"][i]
        c.score = float(logits[i])
        c.features.pop("reader", None)
        label[id(c)] = bool(row["y"][i])
        ranked.append(c)
    if reader_top and "reader" in row:  # the reader's logits, read once (by id: the candidates persist in the row)
        read = reader_choice(ranked, reader_top, reader_passages)
        ranked = rescore_with_reader(ranked, np.array([row["reader"][id(ranked[i])] for i in read]), reader_weight, read)
    return ranked, [label[id(c)] for c in ranked]


def read_candidates(reader, rows: list[dict], most: int, reader_passages: int = 0) -> None:  # type: ignore[no-untyped-def]
    """Store the reader's logits of what each row's ranker would have it read with ``most`` sentences (a superset of fewer)."""
    t0 = time.time()
    for r in rows:
        if r["cands"]:
            ranked, _ = rank(r)
            index = r["index"]
            passages = index.passages if reader.context else None
            head = [ranked[i] for i in reader_choice(ranked, most, reader_passages)]
            reading = reader.read(r["question"], [reader_input(c, passages, index.title(c.doc)) for c in head],
                                  [len(c.text) for c in head])
            r["reader"] = {id(c): float(z) for c, z in zip(head, reading.logits)}
            mark_reader_spans(head, reading)
            r["spans"] = reading.span_scores.any()
    print(f"reader read {len(rows)} questions' candidates in {time.time() - t0:.0f} s", file=sys.stderr)


def top_accuracy(rows: list[dict], reader_top: int = 0, reader_weight: float = 0.0, scorer: Scorer | None = None,
                 reader_passages: int = 0) -> float:
    return float(np.mean([rank(r, reader_top, reader_weight, scorer, reader_passages)[1][0] for r in rows if r["cands"]]))


def fit_ranker(rows: list[dict], kind: str, epochs: int, seed: int) -> tuple[Scorer, dict]:
    """The sentence ranker fit on ``rows``, and its JSON form."""
    if kind == "mlp":
        params = fit_listwise([(r["x"], r["y"].astype(np.float64)) for r in rows], HIDDEN, epochs, seed)
        return ranker_scorer(params), {
            "features": list(RANKER_FEATURES), "mean": _round(params["mean"]), "scale": _round(params["scale"]),
            "hidden": {"weights": _round(params["hidden"]["weights"]), "bias": _round(params["hidden"]["bias"])},
            "weights": _round(params["weights"]), "bias": round(params["bias"], 6)}
    # pointwise logistic regression over the 24 basic features (the rows' x already holds only those)
    w, b = fit_logistic(np.concatenate([r["x"] for r in rows if r["cands"]]), np.concatenate([r["y"] for r in rows if r["cands"]]).astype(int))
    return (Scorer(SENTENCE_FEATURES, w, b, ANSWER_FEATURES, np.zeros(len(ANSWER_FEATURES)), 0.0, 0.0),
            {"features": list(SENTENCE_FEATURES), "weights": _round(w), "bias": round(b, 6)})


def article_folds(rows: list[dict], folds: int) -> dict[str, int]:
    """Each article's fold (its position among the sorted article names, modulo ``folds``)."""
    return {doc: i % folds for i, doc in enumerate(sorted({r["doc"] for r in rows}))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", default=str(data_dir() / "train/squad_v1.1_train.json.gz"))
    parser.add_argument("--articles", type=int, default=100, help="articles used (half answerable, half as distractors)")
    parser.add_argument("--unanswerable", type=int, default=4000, help="questions of half A asked of half B")
    parser.add_argument("--same-article-unanswerable", type=int, default=4000,
                        help="questions of A's odd paragraphs asked of A's even paragraphs, when those lack the answer (0: none)")
    parser.add_argument("--near-miss", type=int, default=0,
                        help="near-miss questions of A (training/near_miss.py's rules) asked of A, as unanswerable (0: none)")
    parser.add_argument("--false-no-answer", type=float, default=0.07, help="target false no-answer rate on train")
    parser.add_argument("--max-words", type=int, default=50, help="cut longer answer sentences at clause breaks (0: never)")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--ranker", choices=("logistic", "mlp"), default="mlp",
                        help="sentence ranker: the listwise MLP (shipped) or logistic regression (training/scorers/logistic_scorer.json)")
    parser.add_argument("--candidate-passages", type=int, default=None,
                        help="passages whose sentences compete at run time (default: 15 for the MLP, 5 for logistic; "
                             "training/candidate_passages.py measures the choice)")
    parser.add_argument("--reader", default=str(DEFAULT_READER),
                        help="the cross-encoder folder (training/train_reader.py), or 'none' for the ranker alone")
    parser.add_argument("--reader-tops", default="3,5,8", help="how many of the ranker's best the reader may re-score (chosen on train)")
    parser.add_argument("--reader-passages", type=int, default=0,
                        help="the reader also reads the best sentence of each of the first N passages (qa.answer.reader_choice; "
                             "0: off, shipped; 8: training/scorers/passage_reads_scorer.json, twice the reading for +0.1 hit@5 on squad_dev)")
    parser.add_argument("--sentence-ordered-passages", type=int, default=4,
                        help="returned passages that lead by their best sentence; the rest keep retrieval order (0: all). "
                             "4 was chosen on 2,000 train questions (hit@5 0.9505 vs 0.9445 for all 5)")
    parser.add_argument("--folds", type=int, default=4,
                        help="rankers fit on the other folds' articles rank each row that the reader weight and the "
                             "answerability model are chosen on (1: the shipped ranker, in-sample)")
    parser.add_argument("--fusion", choices=("sentence-words", "sentence", "convex"), default=DEFAULT_FUSION,
                        help=f"retrieval fusion the candidates come from (run time's default: {DEFAULT_FUSION})")
    parser.add_argument("--work", default="/tmp/qa-train")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--out", default=str(ROOT / "qa/answer/models/answer_scorer.json"))
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
    qa_b = write_articles(data[half : 2 * half], work / "B", heuristic)
    encoder = SentenceTransformerEncoder()
    t0 = time.time()
    index_a = Index.build(work / "A", work / "index-A", encoder=encoder)
    index_b = Index.build(work / "B", work / "index-B", encoder=encoder)
    print(f"indexed {2 * half} articles in {time.time() - t0:.0f} s", file=sys.stderr)
    negatives_q = random.Random(args.seed + 1).sample(qa_a, min(args.unanswerable, len(qa_a)))
    t0 = time.time()
    # Trained on the candidates it will meet: those of as many passages as run time reads.
    passages = args.candidate_passages or (15 if args.ranker == "mlp" else 5)
    positives = collect(index_a, qa_a, True, passages, args.fusion)
    negatives = collect(index_b, negatives_q, False, passages, args.fusion)
    if args.same_article_unanswerable:
        # The realistic hard case: the question's own article is indexed, but not the part that answers it.
        hard_q = same_article_unanswerable(data[:half], work / "A-even", heuristic)
        hard_q = random.Random(args.seed + 2).sample(hard_q, min(args.same_article_unanswerable, len(hard_q)))
        index_even = Index.build(work / "A-even", work / "index-A-even", encoder=encoder)
        negatives += [{**r, "same_article": True} for r in collect(index_even, hard_q, False, passages, args.fusion)]
    if args.near_miss:
        near_q = near_miss_questions(qa_a, work / "A", qa_b, args.near_miss, args.seed + 3)
        negatives += collect(index_a, near_q, False, passages, args.fusion)
    print(f"collected {len(positives)} + {len(negatives)} questions in {time.time() - t0:.0f} s", file=sys.stderr)

    # 1. sentence ranker
    if args.ranker == "logistic":
        cols = [RANKER_FEATURES.index(f) for f in SENTENCE_FEATURES]
        for r in positives + negatives:
            r["x"] = r["x"][:, cols] if len(r["x"]) else np.zeros((0, len(cols)))
    scorer, sentence = fit_ranker(positives, args.ranker, args.epochs, args.seed)
    # Everything fit on top of the ranker (the reader's weight, the answerability model and its threshold) sees
    # ranker scores of questions the ranker was not fit on, as at run time: each row is ranked by a ranker fit on
    # the other folds' articles. In-sample, the ranker looks surer than it is, so the reader counted too little.
    fold = article_folds(positives, args.folds)
    fold_scorers = ([fit_ranker([r for r in positives if fold[r["doc"]] != k], args.ranker, args.epochs, args.seed)[0]
                     for k in range(args.folds)] if args.folds > 1 else [scorer])
    for r in positives + negatives:  # with one fold, every article is in fold 0 and that ranker is the shipped one
        r["ranker"] = fold_scorers[fold.get(r["doc"], 0)]
    in_sample_top = top_accuracy(positives, scorer=scorer)

    # 2. span scorer, on the gold sentences
    groups, rule_f1, _ = span_groups(positives)
    span_params = fit_listwise(groups, 0, args.epochs, args.seed)
    # fold the standardisation into the linear weights: score = x @ w + b
    span_w = span_params["weights"] / span_params["scale"]
    span_b = span_params["bias"] - float(np.dot(span_params["mean"], span_w))
    span_model = SpanModel(SPAN_FEATURES, span_w, span_b)
    _, _, model_f1 = span_groups(positives, span_model)

    # 3. the reader re-scores the ranker's best few: how many and how much it counts are chosen on train
    reader_top, reader_weight, reader_report = 0, 0.0, {}
    answer_features = ANSWER_FEATURES
    if args.reader != "none":
        tops = sorted(int(t) for t in args.reader_tops.split(","))
        read_candidates(load_reader(args.reader), positives + negatives, tops[-1], args.reader_passages)
        grid = {(top, w): top_accuracy(positives, top, w, reader_passages=args.reader_passages) for top in tops for w in (0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0)}
        best = max(grid.values())
        # the fewest candidates (the reader is the slow part) within 0.2 points of the best
        reader_top, reader_weight = min((k for k, v in grid.items() if v >= best - 0.002), key=lambda k: (k[0], -grid[k]))
        reader_report = {"ranker_only_top_sentence_accuracy": round(top_accuracy(positives), 4),
                         "reader_grid": {f"{t}x{w}": round(v, 4) for (t, w), v in grid.items()}}
        answer_features = ANSWER_FEATURES + READER_ANSWER_FEATURES
        if any(r.get("spans") for r in positives):  # a reader with a span head
            answer_features += READER_SPAN_FEATURES
    if args.near_miss:
        answer_features += NEAR_MISS_FEATURES

    # 4. answerable model over the ranked candidates
    finder = AnswerFinder(index_a.data, scorer)
    ax, ay, words, trimmed_words, trimmed_right, kinds, answer_f1 = [], [], [], [], [], [], []
    for rows in (positives, negatives):
        for r in rows:
            if not r["cands"]:
                continue
            kinds.append("near_miss" if r.get("near_miss") else "same_article" if r.get("same_article") else "other_articles")
            ranked, labels = rank(r, reader_top, reader_weight, reader_passages=args.reader_passages)
            feats = finder.answerability(ranked)
            ax.append([feats[f] for f in answer_features])
            ay.append(int(labels[0]))
            if rows is positives:
                best = ranked[0]
                in_head = best.reader_span if reader_top and best.features.get("reader") is not None else None
                span = in_head or find_span(r["question"], best.text, question_type(r["question"]), span_model)
                answer_f1.append(f1_score(best.text[span[0] : span[1]], r["answers"]))
                a, b = trim_sentence(best.text, span, args.max_words) if args.max_words else (0, len(best.text))
                words.append(len(best.text.split()))
                trimmed_words.append(len(best.text[a:b].split()))
                trimmed_right.append(labels[0] and best.start + a <= r["gold"] < best.start + b)
    ax_arr, ay_arr = np.array(ax), np.array(ay)
    aw, ab = fit_logistic(ax_arr, ay_arr)
    probs = 1 / (1 + np.exp(-(ax_arr @ aw + ab)))
    n_pos = sum(1 for r in positives if r["cands"])
    threshold = float(np.quantile(probs[:n_pos], args.false_no_answer))
    negative_probs = probs[n_pos:]
    negative_kinds = np.array(kinds[n_pos:])
    report = {
        "train_articles": 2 * half, "answerable_questions": len(positives), "unanswerable_questions": len(negatives),
        "candidate_passages": passages, "fusion": args.fusion, "folds": args.folds,
        "ranker_only_top_sentence_accuracy_in_sample": round(in_sample_top, 4), **reader_report,
        "candidate_oracle": round(float(np.mean([r["y"].any() for r in positives])), 4),
        "top_sentence_accuracy": round(float(np.mean(ay_arr[:n_pos])), 4),
        "top_sentence_accuracy_after_cut": round(float(np.mean(trimmed_right)), 4),
        "mean_words": round(float(np.mean(words)), 2), "mean_words_after_cut": round(float(np.mean(trimmed_words)), 2),
        "span_f1_on_gold_sentence_rule": round(float(np.mean(rule_f1)), 4),
        "span_f1_on_gold_sentence_learned": round(float(np.mean(model_f1)), 4),
        # F1 of the span shown (the reader's where it read the answer sentence, else the span scorer's), no-answers aside
        "answer_f1": round(float(np.mean(answer_f1)), 4),
        "threshold": round(threshold, 4),
        "no_answer_accuracy": round(float(np.mean(negative_probs < threshold)), 4),
        **{f"no_answer_accuracy_{kind}": round(float(np.mean(negative_probs[negative_kinds == kind] < threshold)), 4)
           for kind in KINDS if (negative_kinds == kind).any()},
        "false_no_answer_rate": round(float(np.mean(probs[:n_pos] < threshold)), 4),
        # the trade-off behind --false-no-answer: no-answer accuracy of each kind of unanswerable question at other rates
        "no_answer_curve": {str(rate): {kind: round(float(np.mean(negative_probs[negative_kinds == kind] < np.quantile(probs[:n_pos], rate))), 4)
                                        for kind in KINDS if (negative_kinds == kind).any()}
                            for rate in (0.02, 0.03, 0.05, 0.07, 0.10)},
    }
    write_json_atomic(args.out, {
        "trained_by": "training/train_answer_scorer.py", "data": "SQuAD v1.1 train (CC BY-SA 4.0)", "seed": args.seed,
        "train_report": report,
        "max_words": args.max_words,
        "candidate_passages": passages,
        "sentence_ordered_passages": args.sentence_ordered_passages,
        "sentence": sentence,
        "span": {"features": list(SPAN_FEATURES), "weights": _round(span_w), "bias": round(span_b, 6)},
        "answerable": {"features": list(answer_features), "weights": _round(aw), "bias": round(ab, 6),
                       "threshold": round(threshold, 6)},
        **({"reader": {"folder": os.path.relpath(args.reader, Path(args.out).resolve().parent), "top": reader_top,
                       "weight": reader_weight, "passages": args.reader_passages}} if reader_top else {}),
    })
    print(json.dumps(report))
    return 0


def _round(values: np.ndarray) -> list:
    return np.round(np.asarray(values, dtype=np.float64), 6).tolist()


if __name__ == "__main__":
    sys.exit(main())
