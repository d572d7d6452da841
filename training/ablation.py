"""Reproduce the README's quality table on ../shared/eval/squad_dev in one command.

    .venv/bin/python training/ablation.py            # all steps, ~70 min on 2 cores (each reader step ~3 min)
    .venv/bin/python training/ablation.py --limit 500

Steps (each adds one idea to the one before):
  1. baseline   RRF fusion, best-cosine sentence, no no-answer decision
  2. +convex    cosine + normalised BM25 fusion (weight chosen on SQuAD train)
  3. +logistic  logistic sentence scorer over 24 features + answerability model (training/scorers/logistic_scorer.json)
  4. +reorder   the passages are returned in the order of their best sentence
  5. +span      learned span scorer instead of the hand-set rule
  6. +cut       answers over 50 words cut to the clauses around the span (= training/scorers/logistic_scorer.json)
  7. the listwise MLP ranker over 40 features with its own answerability model, with 4-6
  8. +top 15    the sentences of the top 15 passages compete, not 5 (= training/scorers/mlp_scorer.json)
  9. +retrain   the MLP retrained on 15-passage candidates (= training/scorers/mlp15_scorer.json)
 10. +reader    the first cross-encoder reader (bare sentences) re-scores its best 5 sentences, and only
                the first 4 passages are ordered by their best sentence (the scorer and reader of
                commit FIRST_READER, taken from git history)
 11. +context   the context reader (first training, commit CONTEXT_READER from git history), which
                reads each sentence with its document title and the sentence before it, with the
                ranker and answerability model retrained on it; the span scorer marks the answer phrase
 12. +reader span  the phrase the reader marks instead (commit CONTEXT_READER as it was shipped)
 13. +more training  the same reader trained on 10,000 more questions with harder groups, the
                answer scorer retrained on it (commit SECOND_STAGE from git history)
 14. +third stage  6,000 more questions at a lower rate, scorer retrained (commit THIRD_STAGE from git history)
 15. +cross-fit  the same reader, its answer scorer retrained with cross-fitting: the reader weight and
                the answerability model are fit on out-of-fold ranker scores (training/scorers/crossfit_stage3_scorer.json)
 16. +fourth stage  10,000 more questions, scorer cross-fitted on it (commit FOURTH_STAGE from git history)
 17. +sentence fusion  each passage's retrieval score also counts the cosine of its sentence closest to
                the question (``qa.retrieval.fusion.sentence_convex``), same scorer
 18. +retrained  the answer scorer retrained on sentence-fused candidates, the reader reading the
                ranker's best 5 (training/scorers/sentence_top5_scorer.json)
 19. +8 reads  the same retraining allowed 8 reads (--reader-tops 3,5,8), which train chose
                (commit EIGHT_READS from git history)
 20. passage reads  measured, not shipped: the reader also reads the best sentence of each of the
                first 8 passages, scorer trained so on convex fusion (training/scorers/passage_reads_scorer.json)
 21. +sentence words  sentence fusion plus the share of the question's words (IDF-weighted) in each
                passage's best sentence for them (``qa.retrieval.fusion.sentence_words``), step 19's scorer
 22. +retrained  the answer scorer retrained on those candidates, with 4,000 near-miss questions
                (--near-miss 4000; commit NEAR_MISS_SCORER from git history)
 23. 5 reads  measured, not shipped: the same retraining limited to 5 reads (--reader-tops 3,5), for the
                `ask` budget (training/scorers/sentence_words_top5_scorer.json)
 24. +fifth stage  the reader trained on 5,000 more questions, each with a near-miss of it scored low, and the
                answer scorer retrained on it (= qa/answer/models/answer_scorer.json, shipped)
Then two no-answer sets, for the shipped scorer, the MLP without reader and the logistic scorer:
  other articles: the 13 articles are split in two halves (alternating by file
    name); each half is indexed alone and asked its own questions (answerable)
    plus the other half's questions (unanswerable: their article is not indexed).
  same article: every article is split into its even and odd paragraphs; each
    half is asked the questions whose answer it holds (answerable) and those
    whose answer is in none of its paragraphs (unanswerable), see
    ``no_answer_same_article``. Harder: the question's topic is indexed.
The learned parts were trained on SQuAD *train* articles only, so every
squad_dev number here is a validation number. Writes training/results/quality.json.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.evaluate import data_dir  # noqa: E402

from qa.retrieval.encoder import SentenceTransformerEncoder  # noqa: E402
from qa.evaluate import EvalRow, evaluate, load_rows, normalize_answer  # noqa: E402
from qa.index import Index  # noqa: E402

SQUAD = data_dir() / "eval" / "squad_dev"
NAIVE = ROOT / "training" / "scorers" / "naive_scorer.json"
LOGISTIC = ROOT / "training" / "scorers" / "logistic_scorer.json"
MLP = ROOT / "training" / "scorers" / "mlp_scorer.json"
MLP15 = ROOT / "training" / "scorers" / "mlp15_scorer.json"
LEARNED = ROOT / "qa" / "answer" / "models" / "answer_scorer.json"
FIRST_READER = "c73aa2c"  # the last commit that shipped the bare-sentence reader
CONTEXT_READER = "91e05cb"  # the last commit that shipped the context reader of one training stage
SECOND_STAGE = "10268fe"  # ... of two training stages
THIRD_STAGE = "87637e7"  # ... of three
CROSS_FIT_THIRD = ROOT / "training" / "scorers" / "crossfit_stage3_scorer.json"  # the third-stage reader's scorer, cross-fitted
PASSAGE_READS = ROOT / "training" / "scorers" / "passage_reads_scorer.json"  # the fourth-stage reader's, also reading 8 passages' best
SENTENCE_TOP5 = ROOT / "training" / "scorers" / "sentence_top5_scorer.json"  # retrained on sentence fusion, the reader reading 5
SENTENCE_WORDS_TOP5 = ROOT / "training" / "scorers" / "sentence_words_top5_scorer.json"  # retrained on sentence-words fusion, reading 5
FOURTH_STAGE = "277315b"  # the last commit that shipped the fourth-stage scorer fit on convex fusion
EIGHT_READS = "6048b5e"  # the last commit that shipped the scorer fit on sentence fusion, reading 8
NEAR_MISS_SCORER = "bc0265b"  # the last commit that shipped the fourth-stage reader (its scorer trained with near misses);
# the scorers in training/scorers/ fit on that reader read with it, taken from this commit (not the shipped fifth stage)
KEYS = ("hit@1", "hit@5", "mrr", "answer_accuracy", "answer_f1", "mean_answer_words", "false_no_answer_rate", "query_ms_p50")


def scorer_from_git(commit: str, folder: Path, spans: bool = True, scorer_file: Path | None = None) -> Path | None:
    """The scorer and reader shipped at ``commit``, written from git history into ``folder`` (None without git).

    ``spans=False`` turns the reader's answer phrase off (the span scorer marks it instead);
    ``scorer_file`` replaces the commit's scorer (it then reads with that commit's reader).
    """
    names = ("model.onnx", "tokenizer.json", "config.json")
    # the paths since and before the package was split into qa/ingest, qa/store, qa/retrieval, qa/answer, qa/app
    for base in ("qa/answer/models/", "qa/"):
        files = [f"{base}answer_scorer.json", *(f"{base}reader_model/{name}" for name in names)]
        try:
            blobs = [subprocess.run(["git", "-C", str(ROOT), "show", f"{commit}:{f}"], capture_output=True, check=True).stdout
                     for f in files]
            break
        except (OSError, subprocess.CalledProcessError):
            continue
    else:
        print(f"a step skipped: commit {commit} is not in this clone's history", file=sys.stderr)
        return None
    (folder / "reader_model").mkdir(parents=True, exist_ok=True)
    for name, blob in zip(files, blobs):
        (folder / name.removeprefix(base)).write_bytes(blob)
    scorer = json.loads(scorer_file.read_text(encoding="utf-8") if scorer_file else blobs[0])
    scorer["reader"]["folder"] = "reader_model"
    if not spans:
        scorer["reader"]["spans"] = False
    (folder / "answer_scorer.json").write_text(json.dumps(scorer), encoding="utf-8")
    return folder / "answer_scorer.json"


def from_git(spec: tuple, work: Path) -> Path | None:
    """``scorer_from_git`` of a step's ``(commit, spans[, scorer_file])``, in a folder of its own under ``work``."""
    commit, spans, *scorer_file = spec
    name = f"{commit}-spans-{spans}" + "".join(f"-{f.stem}" for f in scorer_file)
    return scorer_from_git(commit, work / name, spans, *scorer_file)


def linked_docs(names: list[str], folder: Path) -> Path:
    """A documents folder holding copies of ``names`` (not links: links out of a documents folder are not indexed)."""
    import shutil

    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        if (folder / name).is_symlink():
            (folder / name).unlink()
        if not (folder / name).exists():
            shutil.copyfile(SQUAD / "docs" / name, folder / name)
    return folder


def open_with_onnx(index: Index, encoder: SentenceTransformerEncoder) -> Index:
    """Reopen a built index with the ONNX query encoder, as `qa ask` and the app use it."""
    from qa.retrieval.onnx_encoder import export_onnx

    if not (index.index_dir / "onnx").exists():
        export_onnx(encoder, index.index_dir)
    return Index.open(index.index_dir)


def _pooled(parts: list[dict]) -> dict:
    unanswerable = sum(m["unanswerable"] for m in parts)
    answerable = sum(m["answerable"] for m in parts)
    return {
        "questions": unanswerable + answerable, "unanswerable": unanswerable,
        "no_answer_accuracy": round(sum((m["no_answer_accuracy"] or 0.0) * m["unanswerable"] for m in parts) / unanswerable, 4),
        "false_no_answer_rate": round(sum(m["false_no_answer_rate"] * m["answerable"] for m in parts) / answerable, 4),
        "answer_accuracy": round(sum(m["answer_accuracy"] * m["answerable"] for m in parts) / answerable, 4),
    }


def no_answer_other_articles(names: list[str], rows: list[EvalRow], work: Path, encoder: SentenceTransformerEncoder,
                             scorer: Path, fusion: str = "sentence") -> dict:
    """Each half of the articles indexed alone, asked its own questions and the other half's (unanswerable)."""
    halves = [names[0::2], names[1::2]]
    parts = []
    for i, half in enumerate(halves):
        other = set(halves[1 - i])
        index = open_with_onnx(Index.build(linked_docs(half, work / f"half{i}"), work / f"index-half{i}", encoder=encoder), encoder)
        index.use_scorer(scorer)
        parts.append(evaluate(index, [r for r in rows if r.doc in half] + [EvalRow(r.question, (), r.doc) for r in rows if r.doc in other],
                              fusion=fusion))
    return _pooled(parts)


def no_answer_same_article(names: list[str], rows: list[EvalRow], work: Path, encoder: SentenceTransformerEncoder,
                           scorer: Path, fusion: str = "sentence") -> dict:
    """The harder, realistic case: the question's own article is indexed, but not the part that answers it.

    Every article is split into its even and its odd paragraphs (the title
    stays with both). Each half is indexed and asked every question: those
    whose gold answers appear in the article's half and not in its other
    half are answerable; those whose answers appear in neither paragraph
    of the half are unanswerable; the rest are ambiguous and left out.
    """
    texts = {name: (SQUAD / "docs" / name).read_text(encoding="utf-8").split("\n\n") for name in names}
    halves = []
    for parity in (0, 1):
        folder = work / f"paragraphs{parity}"
        folder.mkdir(parents=True, exist_ok=True)
        for name, paragraphs in texts.items():
            kept = [paragraphs[0]] + [p for n, p in enumerate(paragraphs[1:]) if n % 2 == parity]
            (folder / name).write_text("\n\n".join(kept), encoding="utf-8")
        halves.append(folder)
    norm = {(name, parity): f" {normalize_answer(' '.join((halves[parity] / name).read_text(encoding='utf-8').split(chr(10) * 2)[1:]))} "
            for name in names for parity in (0, 1)}
    parts = []
    for parity, folder in enumerate(halves):
        index = open_with_onnx(Index.build(folder, work / f"index-paragraphs{parity}", encoder=encoder), encoder)
        index.use_scorer(scorer)
        mixed = []
        for r in rows:
            here = any(f" {normalize_answer(a)} " in norm[(r.doc, parity)] for a in r.answers if normalize_answer(a))
            there = any(f" {normalize_answer(a)} " in norm[(r.doc, 1 - parity)] for a in r.answers if normalize_answer(a))
            if here and not there:
                mixed.append(r)
            elif not here:
                mixed.append(EvalRow(r.question, (), r.doc))
        parts.append(evaluate(index, mixed, fusion=fusion))
    return _pooled(parts)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=None, help="questions per run (default: all)")
    parser.add_argument("--work", default=None, help="folder for the indexes (default: a temp folder)")
    parser.add_argument("--steps", type=int, nargs="*", help="run only these steps (1-24; none: only the no-answer sets)")
    parser.add_argument("--no-answer-set", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--no-answer-scorers", nargs="*",
                        choices=("shipped", "mlp", "logistic", "crossfit-stage3", "fourth-stage", "sentence-top5", "eight-reads"),
                        default=["shipped", "mlp", "logistic"], help="scorers asked the no-answer sets")
    parser.add_argument("--out", default=str(ROOT / "training" / "results" / "quality.json"))
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
    index = open_with_onnx(index, encoder)

    results: dict[str, dict] = {}
    logistic = json.loads(LOGISTIC.read_text(encoding="utf-8"))
    variants = {
        "logistic": {**logistic, "span": None, "max_words": 0, "rerank_passages": False},
        "reorder": {**logistic, "span": None, "max_words": 0},
        "span": {**logistic, "max_words": 0},
        "mlp-top5": {**json.loads(MLP.read_text(encoding="utf-8")), "candidate_passages": 5},
    }
    for name, data in variants.items():
        (work / f"scorer-{name}.json").write_text(json.dumps(data), encoding="utf-8")
    steps = [("baseline", "rrf", NAIVE), ("+convex fusion", "convex", NAIVE), ("+logistic scorer", "convex", work / "scorer-logistic.json"),
             ("+passage reorder", "convex", work / "scorer-reorder.json"), ("+learned span", "convex", work / "scorer-span.json"),
             ("+answer cut", "convex", LOGISTIC), ("MLP ranker instead of the logistic scorer", "convex", work / "scorer-mlp-top5.json"),
             ("+sentences of the top 15 passages", "convex", MLP),
             ("+MLP retrained on the candidates of 15 passages", "convex", MLP15),
             ("+cross-encoder reader on the best sentences", "convex", (FIRST_READER, True)),
             ("+the reader reads title and previous sentence", "convex", (CONTEXT_READER, False)),
             ("+the reader's answer span", "convex", (CONTEXT_READER, True)),
             ("+the reader trained on 10,000 more questions", "convex", (SECOND_STAGE, True)),
             ("+a third stage on 6,000 more", "convex", (THIRD_STAGE, True)),
             ("+the scorer cross-fitted (same reader)", "convex", (THIRD_STAGE, True, CROSS_FIT_THIRD)),
             ("+a fourth stage on 10,000 more, scorer cross-fitted", "convex", (FOURTH_STAGE, True)),
             ("+sentence fusion: the best sentence's cosine joins the passage's (same scorer)", "sentence", (FOURTH_STAGE, True)),
             ("+the scorer retrained on sentence fusion", "sentence", (NEAR_MISS_SCORER, True, SENTENCE_TOP5)),
             ("+the reader re-scores the ranker's best 8, not 5", "sentence", (EIGHT_READS, True)),
             ("the reader also reads the best sentence of each of the first 8 passages (not shipped; convex fusion)", "convex",
              (NEAR_MISS_SCORER, True, PASSAGE_READS)),
             ("+sentence-words fusion: the share of the question's words in the best sentence for them (same scorer)",
              "sentence-words", (EIGHT_READS, True)),
             ("+the scorer retrained on sentence-words fusion, with near misses", "sentence-words", (NEAR_MISS_SCORER, True)),
             ("the same retraining with the reader reading 5 (--reader-tops 3,5)", "sentence-words", (NEAR_MISS_SCORER, True, SENTENCE_WORDS_TOP5)),
             ("+a fifth reader stage trained on near misses, scorer retrained on it (shipped)", "sentence-words", LEARNED)]
    if args.steps is not None:  # `--steps` alone: none, only the no-answer sets
        steps = [steps[i - 1] for i in args.steps]
    steps = [(name, fusion, from_git(scorer, work) if isinstance(scorer, tuple) else scorer) for name, fusion, scorer in steps]
    steps = [step for step in steps if step[2] is not None]
    for name, fusion, scorer in steps:
        index.use_scorer(scorer)
        metrics = evaluate(index, rows, fusion=fusion, index_seconds=index_seconds)
        results[name] = {k: metrics[k] for k in KEYS}
        print(name, json.dumps(results[name]), flush=True)

    # the scorers fit before sentence fusion are asked with the convex fusion they were fit on
    scorers = {"shipped": ("shipped, with reader", LEARNED, "sentence-words"), "mlp": ("MLP without reader", MLP, "convex"),
               "logistic": ("logistic", LOGISTIC, "convex"),
               "crossfit-stage3": (f"third-stage reader, scorer cross-fitted, commit {THIRD_STAGE}", (THIRD_STAGE, True, CROSS_FIT_THIRD),
                                   "convex"),
               "fourth-stage": (f"fourth-stage reader, convex fusion, commit {FOURTH_STAGE}", (FOURTH_STAGE, True), "convex"),
               "sentence-top5": ("sentence fusion, the reader reading 5", (NEAR_MISS_SCORER, True, SENTENCE_TOP5), "sentence"),
               "eight-reads": (f"sentence fusion, the reader reading 8, commit {EIGHT_READS}", (EIGHT_READS, True), "sentence")}
    for label, scorer, fusion in (scorers[name] for name in args.no_answer_scorers if args.no_answer_set):
        scorer = from_git(scorer, work) if isinstance(scorer, tuple) else scorer
        if scorer is None:
            continue
        cross = no_answer_other_articles(names, rows, work, encoder, scorer, fusion)
        results[f"no-answer set, other articles ({label})"] = cross
        print(f"no-answer set, other articles ({label})", json.dumps(cross), flush=True)
        same = no_answer_same_article(names, rows, work, encoder, scorer, fusion)
        results[f"no-answer set, same article ({label})"] = same
        print(f"no-answer set, same article ({label})", json.dumps(same), flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = args.steps is not None or not args.no_answer_set or set(scorers) - set(args.no_answer_scorers)
    if partial and out.exists() and not args.limit:
        # a partial run updates its own rows of the full table and keeps the others
        earlier = json.loads(out.read_text(encoding="utf-8"))
        results = {**earlier.get("results", {}), **results}
        note = earlier.get("note", "")
    else:
        note = ""
    out.write_text(json.dumps({"questions": len(rows), "index_seconds": round(index_seconds, 1), "results": results,
                               **({"note": note} if note else {})}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
