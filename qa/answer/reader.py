"""The answer reader: a cross-encoder that scores (question, sentence) pairs, run with onnxruntime.

The feature ranker in ``qa.answer.features`` and ``qa.answer.scorer`` compares a question and a sentence
through separate vectors and shared words; the reader reads them together in
one transformer pass (MiniLM fine-tuned on SQuAD train by
``training/train_reader.py``), so word order and roles count. It is slower
than the ranker, so it re-scores only the ranker's best few candidates.

The shipped model is ``qa/answer/models/reader_model/model.onnx`` (int8 weights, ~23 MB) with
its tokenizer. ONNX files are protobuf data, not code: loading one cannot
run anything, unlike a pickle.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from qa.errors import ModelNotFoundError

READER_DIR = "reader_model"
DEFAULT_READER = Path(__file__).parent / "models" / READER_DIR
MAX_TOKENS = 128  # question + sentence (+ context); a longer pair is cut on its longer side, from the end
CONTEXT_WORDS = 24  # of the previous sentence: its subject is what "It", "He" or "the city" usually refers to


def with_context(sentence: str, title: str = "", previous: str = "") -> str:
    """What a context reader reads for one sentence: the sentence first, then its document's title and the sentence before it.

    The sentence comes first so that a pair over the token limit loses context, not the
    sentence. Training (``training/train_reader.py``) and run time build this text the same way.
    """
    context = " ".join(previous.split()[:CONTEXT_WORDS])
    if not title and not context:
        return sentence
    return f"{sentence} [SEP] {title} | {context}".rstrip(" |")


@dataclass
class Reading:
    """What the reader makes of a batch of texts: one logit each, and the answer span it marks in each.

    ``spans[i]`` is character offsets into text i (None: no span head, or no room for one) and
    ``span_scores[i]`` its start + end logit (0 without a span head).
    """

    logits: np.ndarray
    spans: list[tuple[int, int] | None]
    span_scores: np.ndarray


class Reader:
    """Logits of question/sentence pairs: higher means the sentence is likelier to answer."""

    def __init__(self, session, tokenizer, inputs: set[str], context: bool = False) -> None:  # type: ignore[no-untyped-def]
        self._session = session
        self._tokenizer = tokenizer
        self._inputs = inputs
        # Trained on ``with_context`` texts (title and previous sentence after the sentence) rather than bare sentences.
        self.context = context

    @classmethod
    def load(cls, folder: str | Path = DEFAULT_READER, threads: int = 2) -> Reader:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        folder = Path(folder)
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        # onnxruntime's threads spin after a run by default; on two cores they then fight the query
        # encoder and numpy for the CPU (measured: ask p50 39 ms with spinning, 23 ms without).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        session = ort.InferenceSession(str(folder / "model.onnx"), options, providers=["CPUExecutionProvider"])
        tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        # The longer side is cut first: the sentence for ordinary questions (as in training), but a question
        # longer than the limit (a pasted paragraph via the CLI or the API) is cut too instead of failing.
        tokenizer.enable_truncation(int(config.get("max_tokens", MAX_TOKENS)), strategy="longest_first")
        tokenizer.enable_padding()
        return cls(session, tokenizer, {i.name for i in session.get_inputs()}, context=config.get("context") == "title+previous")

    def score(self, question: str, sentences: Sequence[str]) -> np.ndarray:
        """One logit per sentence (float64)."""
        return self.read(question, sentences).logits

    def read(self, question: str, texts: Sequence[str], sentence_chars: Sequence[int] | None = None) -> Reading:
        """One logit per text, and the answer span the reader marks in each.

        A span lies inside the first ``sentence_chars[i]`` characters of text i (the sentence,
        not the context after it). A reader without a span head (an older model) marks none.
        """
        if not texts:
            return Reading(np.zeros(0), [], np.zeros(0))
        batch = self._tokenizer.encode_batch([(question, t) for t in texts])
        feed = {
            "input_ids": np.array([e.ids for e in batch], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in batch], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in batch], dtype=np.int64),
        }
        outputs = self._session.run(None, {k: v for k, v in feed.items() if k in self._inputs})
        logits = np.asarray(outputs[0], dtype=np.float64).reshape(-1)
        scores = np.zeros(len(texts))
        if len(outputs) < 3:
            return Reading(logits, [None] * len(texts), scores)
        spans: list[tuple[int, int] | None] = []
        for i, e in enumerate(batch):
            limit = len(texts[i]) if sentence_chars is None else sentence_chars[i]
            allowed = [seq == 1 and a < b <= limit for seq, (a, b) in zip(e.sequence_ids, e.offsets)]
            best = best_span(outputs[1][i], outputs[2][i], allowed)
            spans.append(None if best is None else (e.offsets[best[0]][0], e.offsets[best[1]][1]))
            if best is not None:
                scores[i] = float(outputs[1][i][best[0]]) + float(outputs[2][i][best[1]])
        return Reading(logits, spans, scores)


MAX_SPAN_TOKENS = 30


def best_span(start_logits: np.ndarray, end_logits: np.ndarray, allowed: Sequence[bool],
              max_tokens: int = MAX_SPAN_TOKENS) -> tuple[int, int] | None:
    """The allowed token pair (first, last), first <= last < first + max_tokens, with the highest start + end logit."""
    ok = np.flatnonzero(np.asarray(allowed, dtype=bool))
    if not len(ok):
        return None
    s = np.asarray(start_logits, dtype=np.float64)[ok]
    e = np.asarray(end_logits, dtype=np.float64)[ok]
    total = s[:, None] + e[None, :]
    gap = ok[None, :] - ok[:, None]
    total[(gap < 0) | (gap >= max_tokens)] = -np.inf
    i, j = np.unravel_index(int(np.argmax(total)), total.shape)
    return int(ok[i]), int(ok[j])


def load_reader(folder: str | Path = DEFAULT_READER) -> Reader:
    """The reader in ``folder``.

    Raises:
        ModelNotFoundError: the folder is missing, incomplete, or not a model onnxruntime can run.
    """
    folder = Path(folder)
    try:
        return Reader.load(folder)
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own types; the user needs one message
        raise ModelNotFoundError(
            f"the answer reader in {folder} could not be loaded ({type(exc).__name__}: {str(exc)[:200]}); "
            "reinstall docqa, or retrain it with training/train_reader.py"
        ) from None
