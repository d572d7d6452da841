"""Embedding on a Dask cluster (a local one here): the same vectors, the same index, one model load per worker."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

from conftest import DOCS, write_docs
from qa import Index
from qa.cli import main
from qa.errors import ClusterError
from qa.retrieval import distributed
from qa.retrieval.distributed import DaskEncoder
from qa.retrieval.encoder import HashEncoder, encode_with_sentences


@pytest.fixture(scope="module")
def scheduler() -> Iterator[str]:
    """Two single-threaded workers in this process, reached over TCP like a real cluster."""
    from distributed import LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, protocol="tcp", dashboard_address=None) as cluster:
        yield cluster.scheduler_address


def test_vectors_come_back_in_order_and_equal_to_the_local_encoder(scheduler: str) -> None:
    texts = [f"passage number {i} about planets and moons {i % 7}" for i in range(150)]
    spans = [[(0, 7), (8, len(t))] for t in texts]
    encoder = DaskEncoder("hash-256", scheduler, chunk=16)
    try:
        assert encoder.dim == 256
        local = HashEncoder()
        assert np.allclose(encoder.encode(texts), local.encode(texts))
        vectors, sentences = encoder.encode_with_sentences(texts, spans)
        expected_vectors, expected_sentences = encode_with_sentences(local, texts, spans)
        assert np.allclose(vectors, expected_vectors)
        assert len(sentences) == len(texts) and all(np.allclose(a, b) for a, b in zip(sentences, expected_sentences))
        loaded = encoder.client.run(lambda dask_worker: sorted(getattr(dask_worker, "docqa_encoders", {})))
        assert len(loaded) == 2 and all(names == ["hash-256"] for names in loaded.values()), "each worker loaded the model once"
    finally:
        encoder.close()


def test_an_index_built_on_the_cluster_equals_one_built_here(scheduler: str, tmp_path: Path) -> None:
    docs = write_docs(tmp_path / "docs", DOCS)
    here = Index.build(docs, tmp_path / "here", encoder=HashEncoder())
    there = Index.build(docs, tmp_path / "there", encoder=HashEncoder(), workers=scheduler)
    there.encoder.close()  # type: ignore[attr-defined]
    reopened = Index.open(tmp_path / "there")
    for question in ["Which planet is largest?", "When did the war end?"]:
        assert [(h.doc, h.start, round(h.score, 5)) for h in reopened.search(question)] == \
            [(h.doc, h.start, round(h.score, 5)) for h in here.search(question)]
    assert main(["index", str(docs), "--index", str(tmp_path / "cli"), "--model", "hash-256", "--quiet",
                 "--workers", scheduler]) == 0
    assert Index.open(tmp_path / "cli").stats()["passages"] == len(here.passages)


def test_an_unreachable_scheduler_is_one_message_and_a_non_zero_exit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(distributed, "CONNECT_TIMEOUT", 1)
    docs = write_docs(tmp_path / "docs", DOCS)
    assert main(["index", str(docs), "--index", str(tmp_path / "i"), "--model", "hash-256", "--quiet",
                 "--workers", "tcp://127.0.0.1:9"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot reach the Dask scheduler at tcp://127.0.0.1:9") and "Traceback" not in err
    assert not (tmp_path / "i" / "manifest.json").exists()


def test_a_failing_worker_task_is_one_clear_error(scheduler: str) -> None:
    encoder = DaskEncoder("no/such/model-folder", scheduler)
    try:
        with pytest.raises(ClusterError, match="embedding on the Dask cluster"):
            encoder.encode(["a text"])
    finally:
        encoder.close()
