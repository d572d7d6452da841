"""The torch-free query encoder gives the same embeddings as sentence-transformers."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import CORPUS, SEED_DEV, SQUAD_SAMPLE
from qa.index import Index
from qa.retrieval.onnx_encoder import MIN_COSINE, OnnxQueryEncoder, export_onnx, load_query_encoder

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory, real_encoder) -> tuple[Path, Path]:  # type: ignore[no-untyped-def]
    pytest.importorskip("onnx", reason="onnx is a declared dependency; install the package to export")
    docs = tmp_path_factory.mktemp("docs")
    shutil.copytree(CORPUS, docs, dirs_exist_ok=True)
    index_dir = tmp_path_factory.mktemp("index")
    Index.build(docs, index_dir, encoder=real_encoder)
    status = export_onnx(real_encoder, index_dir)
    assert status.startswith("ONNX query encoder exported"), status
    return docs, index_dir


def _test_texts() -> list[str]:
    """Questions (the seed set, 20 SQuAD ones), long passages (longer than the model reads), odd strings."""
    texts = [json.loads(line)["question"] for line in SEED_DEV.open(encoding="utf-8")]
    texts += [json.loads(line)["question"] for line in (SQUAD_SAMPLE / "qa.jsonl").open(encoding="utf-8")]
    texts += [(CORPUS / "putin_north_korea_visit.txt").read_text(encoding="utf-8")[:900], "", "Ünïcödé ✓ 東京 2024"]
    for article in sorted((SQUAD_SAMPLE / "docs").glob("*.txt")):
        texts += article.read_text(encoding="utf-8").split("\n\n")[1:3]  # the first two paragraphs after the title
    return texts


def test_onnx_embeddings_match_sentence_transformers(exported, real_encoder) -> None:  # type: ignore[no-untyped-def]
    _, index_dir = exported
    onnx_encoder = load_query_encoder(index_dir, real_encoder.name)
    assert isinstance(onnx_encoder, OnnxQueryEncoder)
    texts = _test_texts()
    cosines = (onnx_encoder.encode(texts, batch_size=8) * real_encoder.encode(texts)).sum(axis=1)
    assert len(texts) == 12 + 20 + 3 + 4
    assert cosines.min() >= MIN_COSINE, f"worst text: {texts[int(np.argmin(cosines))]!r}"


def test_open_uses_the_export_and_still_updates_with_the_real_model(exported, real_encoder) -> None:  # type: ignore[no-untyped-def]
    docs, index_dir = exported
    index = Index.open(index_dir)
    assert isinstance(index.encoder, OnnxQueryEncoder)
    answer = index.ask("Who invited Putin to North Korea?")
    assert "Kim Jong Un" in answer.text
    (docs / "extra.txt").write_text("The lighthouse keeper of Varna was named Petar Ivanov.\n", encoding="utf-8")
    report = index.update(docs)
    assert report.added == ["extra.txt"] and report.passages_embedded == 1
    assert "Petar Ivanov" in Index.open(index_dir).ask("Who was the lighthouse keeper of Varna?").text


def test_a_stale_or_damaged_export_is_ignored(exported, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, index_dir = exported
    assert load_query_encoder(index_dir, "some-other-model") is None
    copy = tmp_path / "ix"
    shutil.copytree(index_dir, copy)
    with open(copy / "onnx" / "model.onnx", "r+b") as fh:
        fh.truncate(1000)
    assert load_query_encoder(copy, json.loads((copy / "onnx/config.json").read_text())["model"]) is None


def test_an_export_altered_in_place_is_not_used(exported, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Same size, other bytes: only the sha256 recorded at export tells; the index then asks with sentence-transformers."""
    _, index_dir = exported
    model = json.loads((index_dir / "onnx/config.json").read_text())["model"]
    assert load_query_encoder(index_dir, model) is not None
    for name in ("model.onnx", "tokenizer.json"):
        copy = tmp_path / name / "ix"
        shutil.copytree(index_dir, copy)
        with open(copy / "onnx" / name, "r+b") as fh:
            fh.seek(-2, 2)
            last = fh.read(2)
            fh.seek(-2, 2)
            fh.write(bytes(b ^ 0x20 for b in last))
        assert load_query_encoder(copy, model) is None, name


def test_an_index_in_milvus_asks_with_the_export_kept_in_the_cache(  # type: ignore[no-untyped-def]
    exported, real_encoder, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from qa.retrieval.onnx_encoder import CACHE_ENV, ONNX_DIR, cache_folder

    docs, index_dir = exported
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    where = f"milvus-lite://{tmp_path}/m.db/docs"
    Index.build(docs, where, encoder=real_encoder)
    assert not isinstance(Index.open(where).encoder, OnnxQueryEncoder), "nothing exported for this model yet"
    shutil.copytree(index_dir / ONNX_DIR, cache_folder(real_encoder.name) / ONNX_DIR)  # what `qa index` exports there
    index = Index.open(where)
    assert isinstance(index.encoder, OnnxQueryEncoder)
    assert "Kim Jong Un" in index.ask("Who invited Putin to North Korea?").text
