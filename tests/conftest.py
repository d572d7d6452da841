"""Shared fixtures: a tiny documents folder, the hash encoder, a built index.

Everything except ``real_encoder`` is model-free and cheap, and each test
gets its own copy under ``tmp_path``. The test files sit in sub-folders that
mirror the package (``tests/ingest/`` for ``qa/ingest/``, ...); this folder is
on ``sys.path`` (``pythonpath`` in pyproject.toml), so they import helpers
from ``conftest`` and ``doc_fixtures``.

The default suite reads only what ships in ``tests/data/`` (see its README).
Tests that need the full evaluation data (marked ``slow``) read it through
:func:`shared_data` and carry :func:`needs_shared_data`, which skips them when
``qa.evaluate.data_dir()`` (set by ``$DOCQA_DATA``) does not hold it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

import numpy as np
import pytest

from qa.evaluate import DATA_ENV, data_dir
from qa.retrieval.encoder import HashEncoder, SentenceTransformerEncoder
from qa.index import Index

REPO = Path(__file__).resolve().parent.parent
TEST_DATA = Path(__file__).resolve().parent / "data"
CORPUS = TEST_DATA / "corpus"  # a copy of the sample document docs_src/ ships with; tests never read docs_src/
SEED_DEV = TEST_DATA / "seed_dev.jsonl"  # 12 questions about it (2 unanswerable)
SQUAD_SAMPLE = TEST_DATA / "squad_dev"  # 2 SQuAD v1.1 dev articles (docs/) and 20 of their questions (qa.jsonl)


def shared_data(*parts: str) -> Path:
    """A path inside the shared evaluation data (``qa.evaluate.data_dir()``: ``$DOCQA_DATA``, else ``../shared``)."""
    return data_dir().joinpath(*parts)


def needs_shared_data(*parts: str) -> pytest.MarkDecorator:
    """Skip a test, before any fixture loads, when ``shared_data(*parts)`` is not there."""
    path = shared_data(*parts)
    return pytest.mark.skipif(not path.exists(), reason=f"needs the shared evaluation data: {path} not found "
                              f"(set {DATA_ENV} to the folder holding eval/ and train/)")


@pytest.fixture(scope="session", autouse=True)
def _outside_the_repository(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Run every test from an empty temporary folder, so a default like ``docs_src`` or
    ``index`` (relative to the working directory) can never touch the repository's."""
    before = Path.cwd()
    os.chdir(tmp_path_factory.mktemp("cwd"))
    yield
    os.chdir(before)


# Offsets are checked against the files as the index reads them: UTF-8, a
# leading BOM dropped, newlines untouched (CRLF stays CRLF).
DOCS = {
    "planets.txt": (
        "The Solar System\n\n"
        "Jupiter is the largest planet in the Solar System. Its mass is about 318 times that of Earth.\n"
        "Saturn is famous for its bright rings of ice. Dr. Cassini studied them in 1675.\n\n"
        "Mars is called the Red Planet. Its day lasts 24.6 hours, a little longer than ours.\n"
    ),
    "guide/setup.md": (
        "# Setting up\n\n"
        "Install the package with pip. Then build the index once.\n\n"
        "## Steps\n\n"
        "- Create a virtual environment first.\n"
        "- Run the index command on your documents folder.\n"
        "- Ask a question in quotes.\n"
    ),
    "guide/windows.txt": (
        "Windows notes\r\n\r\n"
        "On Windows the files often end lines with CRLF.\r\n"
        "The indexer keeps those bytes, so offsets still match the original file.\r\n"
    ),
    "history.txt": (
        "\ufeffThe bakery opened in 1921 on Mill Street. Mrs. Alma Reyes baked rye bread every morning.\n\n"
        "In 1950 the bakery moved to a larger building near the river. It sold 1.5 tons of flour a week.\n"
    ),
}


def write_docs(folder: Path, docs: dict[str, str]) -> Path:
    """Write ``docs`` (id -> text) under ``folder``, creating sub-folders."""
    for doc_id, text in docs.items():
        path = folder / doc_id
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))
    return folder


def read_original(folder: Path, doc_id: str) -> str:
    """A document's text exactly as offsets refer to it: the file itself for
    .txt, the extracted text (what `qa extract` prints) for other formats."""
    if not doc_id.lower().endswith(".txt"):
        from qa.ingest.formats import extract

        return extract(folder / doc_id).text
    with open(folder / doc_id, encoding="utf-8-sig", newline="") as fh:
        return fh.read()


class CountingEncoder(HashEncoder):
    """A hash encoder that counts how many texts it was asked to embed."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0
        self.texts = 0
        self.seen: list[str] = []

    def encode(self, texts, *, batch_size: int = 64, progress: bool = False) -> np.ndarray:  # type: ignore[no-untyped-def]
        self.calls += 1
        self.texts += len(texts)
        self.seen.extend(texts)
        return super().encode(texts, batch_size=batch_size, progress=progress)


@pytest.fixture
def docs_dir(tmp_path: Path) -> Path:
    """A fresh copy of the four tiny documents."""
    return write_docs(tmp_path / "docs", DOCS)


@pytest.fixture
def hash_encoder() -> HashEncoder:
    return HashEncoder()


@pytest.fixture
def counting_encoder() -> CountingEncoder:
    return CountingEncoder()


@pytest.fixture
def index_dir(tmp_path: Path) -> Path:
    return tmp_path / "index"


@pytest.fixture
def built_index(docs_dir: Path, index_dir: Path, hash_encoder: HashEncoder) -> Index:
    """The tiny documents indexed with the hash encoder."""
    return Index.build(docs_dir, index_dir, encoder=hash_encoder)


@pytest.fixture(scope="session")
def real_encoder() -> SentenceTransformerEncoder:
    """The bundled all-MiniLM-L6-v2, loaded once per session (tests marked ``model`` only)."""
    encoder = SentenceTransformerEncoder()
    encoder.encode(["warm up"])  # load now, so the first test does not pay for it alone
    return encoder
