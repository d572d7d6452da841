"""A torch-free query encoder: the index's model exported to ONNX at build time.

``import sentence_transformers`` takes 8-10 s here and ``import torch`` 2-4 s;
onnxruntime and tokenizers load in about 0.3 s. ``qa index`` exports the
model (mean pooling + normalisation, checked against sentence-transformers on
probe texts: cosine >= 0.9999) to ``<index>/onnx/`` (for a Milvus index: to
``cache_folder(model)/onnx/`` on the machine that indexed), and ``Index.open`` uses
it for questions when it is there and matches the index's model; otherwise
it falls back to sentence-transformers. Documents are always embedded with
sentence-transformers (sentence vectors need its token embeddings).
"""

from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np

from qa.files import atomic_path, sha256_file, write_json_atomic

log = logging.getLogger(__name__)

ONNX_DIR = "onnx"
CACHE_ENV = "DOCQA_CACHE"  # where the query encoder of an index with no folder (Milvus) is kept


def cache_folder(model: str) -> Path:
    """For an index with no folder of its own (Milvus): a per-model folder under ``$DOCQA_CACHE``
    (default ``~/.cache/docqa``) that holds its ``onnx/`` export."""
    import hashlib
    import os

    base = os.environ.get(CACHE_ENV) or os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "docqa")
    return Path(base) / "query-encoders" / hashlib.sha256(model.encode("utf-8")).hexdigest()[:16]
PROBES = (
    "Who invited Putin to North Korea?",
    "The visit took place at the invitation of North Korean leader Kim Jong Un.",
    "Chloroplasts are organelles that conduct photosynthesis.",
    "a",
)
MIN_COSINE = 0.9999


class OnnxQueryEncoder:
    """Mean-pooled, normalised embeddings from an exported transformer (questions only)."""

    query_only = True

    def __init__(self, folder: Path, config: dict) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.name = config["model"]
        self._dim = int(config["dim"])
        options = ort.SessionOptions()
        options.intra_op_num_threads = 2
        options.inter_op_num_threads = 1
        # Idle threads must not spin after a question: the answer reader runs next on the same two cores.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self._session = ort.InferenceSession(str(folder / "model.onnx"), options, providers=["CPUExecutionProvider"])
        self._tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tokenizer.enable_truncation(int(config["max_seq_length"]))
        self._tokenizer.enable_padding()
        self._inputs = {i.name for i in self._session.get_inputs()}

    @property
    def dim(self) -> int:
        return self._dim

    def encode(self, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            batch = self._tokenizer.encode_batch(list(texts[start : start + batch_size]))
            feed = {
                "input_ids": np.array([e.ids for e in batch], dtype=np.int64),
                "attention_mask": np.array([e.attention_mask for e in batch], dtype=np.int64),
                "token_type_ids": np.array([e.type_ids for e in batch], dtype=np.int64),
            }
            hidden = self._session.run(None, {k: v for k, v in feed.items() if k in self._inputs})[0]
            mask = feed["attention_mask"][..., None].astype(np.float32)
            pooled = (hidden * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), 1e-9)
            out[start : start + len(batch)] = pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)
        return out


def load_query_encoder(index_dir: str | Path, model: str) -> OnnxQueryEncoder | None:
    """The exported encoder for ``model``, or None when absent, stale, altered or unusable.

    The model and tokenizer files must match the sha256 recorded when they were
    exported (about 0.1 s for MiniLM); an export without hashes is not used.
    """
    folder = Path(index_dir) / ONNX_DIR
    try:
        config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        if config.get("model") != model or (folder / "model.onnx").stat().st_size != config.get("bytes"):
            return None
        for name, key in (("model.onnx", "sha256"), ("tokenizer.json", "tokenizer_sha256")):
            if sha256_file(folder / name) != config.get(key):
                log.warning("%s does not match the checksum of its export: asking with sentence-transformers "
                            "(run `qa index` to export it again)", folder / name)
                return None
        return OnnxQueryEncoder(folder, config)
    except Exception:  # noqa: BLE001 - any problem means: use sentence-transformers instead
        return None


def export_onnx(encoder, index_dir: str | Path) -> str:  # type: ignore[no-untyped-def]
    """Export ``encoder`` (a SentenceTransformerEncoder) next to the index; returns a status line.

    Only plain mean-pooling models are exported, and only if the export
    reproduces sentence-transformers' embeddings on the probe texts.
    """
    folder = Path(index_dir) / ONNX_DIR
    try:
        existing = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        if (existing.get("model") == encoder.name and (folder / "model.onnx").stat().st_size == existing.get("bytes")
                and sha256_file(folder / "model.onnx") == existing.get("sha256")
                and sha256_file(folder / "tokenizer.json") == existing.get("tokenizer_sha256")):
            return "ONNX query encoder is up to date"
    except (OSError, ValueError):
        pass
    try:
        import onnx  # noqa: F401 - torch's exporter needs it
        import torch
    except ImportError as exc:
        return f"ONNX export skipped ({exc.name} is not installed); questions will use sentence-transformers"
    model = encoder.model()
    modules = list(model)
    pooling = getattr(modules[1], "get_config_dict", lambda: {})() if len(modules) > 1 else {}
    mean_only = pooling.get("pooling_mode") == "mean" or (  # sentence-transformers >= 6, then older configs
        pooling.get("pooling_mode_mean_tokens")
        and not any(pooling.get(k) for k in ("pooling_mode_cls_token", "pooling_mode_max_tokens", "pooling_mode_lasttoken"))
    )
    if not mean_only or type(modules[0]).__name__ != "Transformer":
        return "ONNX export skipped (the model does not use mean pooling); questions will use sentence-transformers"
    transformer = modules[0].auto_model.eval()

    class _Wrapper(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):  # type: ignore[no-untyped-def]
            return self.inner(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state

    folder.mkdir(parents=True, exist_ok=True)
    sample = model.tokenizer(list(PROBES[:2]), return_tensors="pt", padding=True)
    dynamic = {0: "batch", 1: "tokens"}
    with atomic_path(folder / "model.onnx") as tmp, torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer notes about constants; the probe check below is what counts
        torch.onnx.export(
            _Wrapper(transformer), (sample["input_ids"], sample["attention_mask"], sample["token_type_ids"]), str(tmp),
            input_names=["input_ids", "attention_mask", "token_type_ids"], output_names=["last_hidden_state"],
            dynamic_axes={"input_ids": dynamic, "attention_mask": dynamic, "token_type_ids": dynamic, "last_hidden_state": dynamic},
            opset_version=17, dynamo=False,
        )
    tokenizer_file = Path(model.tokenizer.name_or_path) / "tokenizer.json"
    if tokenizer_file.is_file():
        with atomic_path(folder / "tokenizer.json") as tmp:
            tmp.write_bytes(tokenizer_file.read_bytes())
    else:
        with atomic_path(folder / "tokenizer.json") as tmp:
            model.tokenizer.backend_tokenizer.save(str(tmp))
    config = {"model": encoder.name, "dim": encoder.dim, "max_seq_length": int(model.max_seq_length),
              "pooling": "mean", "normalize": True, "bytes": (folder / "model.onnx").stat().st_size,
              "sha256": sha256_file(folder / "model.onnx"), "tokenizer_sha256": sha256_file(folder / "tokenizer.json")}
    onnx_encoder = OnnxQueryEncoder(folder, config)
    cosines = (onnx_encoder.encode(PROBES) * encoder.encode(PROBES)).sum(axis=1)
    if cosines.min() < MIN_COSINE:
        (folder / "model.onnx").unlink(missing_ok=True)
        return f"ONNX export discarded (cosine {cosines.min():.5f} < {MIN_COSINE}); questions will use sentence-transformers"
    config["min_probe_cosine"] = float(cosines.min())
    write_json_atomic(folder / "config.json", config)  # written last: no config, no export
    return f"ONNX query encoder exported (probe cosine >= {cosines.min():.6f})"
