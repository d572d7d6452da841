"""Score an index against questions with gold answers (SQuAD-style rows).

Rows: ``{"question": str, "answers": [str, ...], "doc": str}``; ``answers: []``
means the documents do not answer the question.
"""

from __future__ import annotations

import json
import re
import string
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import os

import numpy as np

from qa.errors import QAError
from qa.retrieval.fusion import DEFAULT_FUSION
from qa.index import Index


DATA_ENV = "DOCQA_DATA"  # the evaluation and training data folder (eval/, train/, corpus/), for tests, bench and training


def data_dir() -> Path:
    """Where the evaluation and training data live: ``$DOCQA_DATA``, else ``../shared`` next to this checkout."""
    return Path(os.environ.get(DATA_ENV) or Path(__file__).resolve().parents[2] / "shared")


@dataclass(frozen=True)
class EvalRow:
    question: str
    answers: tuple[str, ...]
    doc: str | None = None


def load_rows(path: str | Path) -> list[EvalRow]:
    """Read a JSONL question file, naming the line of any malformed row.

    Raises:
        QAError: missing file or malformed row.
    """
    path = Path(path)
    if not path.is_file():
        raise QAError(f"question file not found: {path}")
    rows = []
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                if not isinstance(row["answers"], list):  # a bare string would become one answer per character
                    raise TypeError(f"'answers' must be a list, got {type(row['answers']).__name__}")
                if not str(row["question"]).strip():
                    raise ValueError("the question is empty")
                rows.append(EvalRow(str(row["question"]), tuple(str(a) for a in row["answers"]), row.get("doc")))
            except (ValueError, KeyError, TypeError) as exc:  # ValueError includes json.JSONDecodeError
                raise QAError(f"{path}:{number}: not a question row ({exc}); expected {{\"question\", \"answers\"}}") from None
    if not rows:
        raise QAError(f"no questions in {path}")
    return rows


def normalize_answer(text: str) -> str:
    """SQuAD's answer normalisation: lower case, no punctuation, articles or extra spaces."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in set(string.punctuation))
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def contains_answer(text: str, answers: Iterable[str]) -> bool:
    norm = f" {normalize_answer(text)} "
    return any(f" {normalize_answer(a)} " in norm for a in answers if normalize_answer(a))


def f1_score(prediction: str, answers: Iterable[str]) -> float:
    """Best SQuAD token F1 of ``prediction`` against any gold answer."""
    pred = normalize_answer(prediction).split()
    best = 0.0
    for answer in answers:
        gold = normalize_answer(answer).split()
        common = Counter(pred) & Counter(gold)
        same = sum(common.values())
        if same:
            precision, recall = same / len(pred), same / len(gold)
            best = max(best, 2 * precision * recall / (precision + recall))
    return best


def evaluate(
    index: Index,
    rows: list[EvalRow],
    *,
    k: int = 5,
    mode: str = "hybrid",
    fusion: str = DEFAULT_FUSION,
    index_seconds: float = 0.0,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Run every question through ``search`` and ``ask`` and aggregate the metrics."""
    hit1 = hit5 = rr = 0.0
    correct = f1 = words = 0.0
    answered_unanswerable = no_answer_right = false_no_answer = 0
    latencies = []
    answerable = sum(1 for r in rows if r.answers)
    for n, row in enumerate(rows):
        t0 = time.perf_counter()
        answer = index.ask(row.question, k=k, mode=mode, fusion=fusion)
        latencies.append((time.perf_counter() - t0) * 1000)
        if row.answers:
            ranks = [i for i, h in enumerate(answer.hits[:k]) if contains_answer(h.text, row.answers)]
            if ranks:
                hit5 += 1
                hit1 += ranks[0] == 0
                rr += 1.0 / (ranks[0] + 1)
            if answer.found:
                correct += contains_answer(answer.text, row.answers)
                f1 += f1_score(answer.span or answer.text, row.answers)
                words += len(answer.text.split())
            else:
                false_no_answer += 1
        else:
            no_answer_right += not answer.found
            answered_unanswerable += answer.found
        if progress is not None:
            progress(n + 1, len(rows))
    unanswerable = len(rows) - answerable
    found = answerable - false_no_answer
    return {
        "questions": len(rows),
        "answerable": answerable,
        "unanswerable": unanswerable,
        "hit@1": _ratio(hit1, answerable),
        f"hit@{k}": _ratio(hit5, answerable),
        "mrr": _ratio(rr, answerable),
        "answer_accuracy": _ratio(correct, answerable),
        "answer_f1": _ratio(f1, answerable),
        "mean_answer_words": _ratio(words, found),
        "no_answer_accuracy": _ratio(no_answer_right, unanswerable) if unanswerable else None,
        "false_no_answer_rate": _ratio(false_no_answer, answerable),
        "index_seconds": round(index_seconds, 3),
        "query_ms_p50": round(float(np.percentile(latencies, 50)), 2),
        "query_ms_p95": round(float(np.percentile(latencies, 95)), 2),
        "k": k,
        "mode": mode,
        "fusion": fusion,
    }


def _ratio(value: float, total: int) -> float:
    return round(value / total, 4) if total else 0.0
