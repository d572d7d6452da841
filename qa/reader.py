"""The answer reader: a cross-encoder that scores (question, sentence) pairs, run with onnxruntime.

The feature ranker in ``qa.answer`` compares a question and a sentence
through separate vectors and shared words; the reader reads them together in
one transformer pass (MiniLM fine-tuned on SQuAD train by
``scripts/train_reader.py``), so word order and roles count. It is slower
than the ranker, so it re-scores only the ranker's best few candidates.

The shipped model is ``qa/reader_model/model.onnx`` (int8 weights, ~23 MB) with
its tokenizer. ONNX files are protobuf data, not code: loading one cannot
run anything, unlike a pickle.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np

from .errors import ModelNotFoundError

READER_DIR = "reader_model"
DEFAULT_READER = Path(__file__).with_name(READER_DIR)
MAX_TOKENS = 128  # question + sentence; a longer pair is cut on its longer side


class Reader:
    """Logits of question/sentence pairs: higher means the sentence is likelier to answer."""

    def __init__(self, session, tokenizer, inputs: set[str]) -> None:  # type: ignore[no-untyped-def]
        self._session = session
        self._tokenizer = tokenizer
        self._inputs = inputs

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
        return cls(session, tokenizer, {i.name for i in session.get_inputs()})

    def score(self, question: str, sentences: Sequence[str]) -> np.ndarray:
        """One logit per sentence (float64)."""
        if not sentences:
            return np.zeros(0)
        batch = self._tokenizer.encode_batch([(question, s) for s in sentences])
        feed = {
            "input_ids": np.array([e.ids for e in batch], dtype=np.int64),
            "attention_mask": np.array([e.attention_mask for e in batch], dtype=np.int64),
            "token_type_ids": np.array([e.type_ids for e in batch], dtype=np.int64),
        }
        logits = self._session.run(None, {k: v for k, v in feed.items() if k in self._inputs})[0]
        return np.asarray(logits, dtype=np.float64).reshape(-1)


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
            "reinstall docqa, or retrain it with scripts/train_reader.py"
        ) from None
