"""Build cost against its floor: the model's own `encode` of the same passage texts.

    .venv/bin/python bench/build.py [--articles 13]

Indexes squad_dev articles with `Index.build` and, in the same process and
with the same loaded model, times `SentenceTransformer.encode` of exactly the
passage texts the index embedded, in batches of the same size. The
difference is docqa's own cost: reading, splitting, tokenising for BM25,
pooling sentence vectors, writing files. It also times that encode at other
batch sizes (--batch-sizes), which is how the document batch size was
chosen. Writes bench/results/build.json and build.png.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from qa.evaluate import data_dir  # noqa: E402

from results_file import machine_load, save_plot, save_result  # noqa: E402
SQUAD = data_dir() / "eval" / "squad_dev" / "docs"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=13)
    parser.add_argument("--batch-sizes", default="8,32,64", help="also time the floor at these batch sizes ('' for none)")
    args = parser.parse_args()
    from qa.retrieval.encoder import DOCUMENT_BATCH_SIZE, SentenceTransformerEncoder
    from qa.index import Index
    from qa.ingest.titles import document_title, embedding_input
    from qa.ingest.chunking import chunk_document
    from qa.ingest.folder import read_folder
    from qa.types import Passage

    def _passages(doc):  # type: ignore[no-untyped-def]  # the passages the index will make, in its order
        return [Passage(0, doc.id, n, s.start, s.end, doc.text[s.start : s.end], s.sentences, r.page, r.section)
                for n, (s, r) in enumerate(chunk_document(doc))]

    work = Path(tempfile.mkdtemp(prefix="qa-build-"))
    docs = work / "docs"
    docs.mkdir()
    for path in sorted(SQUAD.glob("*.txt"))[: args.articles]:
        shutil.copy(path, docs / path.name)
    encoder = SentenceTransformerEncoder()
    encoder.encode(["warm up the model"])
    load = machine_load()
    texts = [embedding_input(p, document_title(d))[0] for d in read_folder(docs).documents for p in _passages(d)]

    def floor() -> float:
        started = time.perf_counter()
        encoder.model().encode(texts, batch_size=DOCUMENT_BATCH_SIZE)
        return time.perf_counter() - started

    # The model's speed drifts on this shared machine: time the floor before and after the build.
    floors = [floor()]
    started = time.perf_counter()
    index = Index.build(docs, work / "index", encoder=encoder)
    build = time.perf_counter() - started
    floors.append(floor())
    assert len(texts) == len(index.passages)
    floor_s = statistics.mean(floors)
    by_batch_size = {}
    for size in [int(s) for s in args.batch_sizes.split(",") if s.strip()]:
        started = time.perf_counter()
        encoder.model().encode(texts, batch_size=size)
        by_batch_size[size] = round(len(texts) / (time.perf_counter() - started), 1)
    result = {"load": load, "articles": args.articles, "passages": len(texts), "build_s": round(build, 2),
              "batch_size": DOCUMENT_BATCH_SIZE, "encode_floor_s": round(floor_s, 2),
              "encode_floor_before_after_s": [round(f, 2) for f in floors], "overhead": round(build / floor_s - 1, 3),
              "floor_passages_per_s_by_batch_size": by_batch_size, "load_after": machine_load()}
    save_result("build", result)
    save_plot("build", lambda figure: draw(figure, result))
    return 0


def draw(figure, result: dict) -> None:  # type: ignore[no-untyped-def]
    rates = result.get("floor_passages_per_s_by_batch_size", {})
    ax, side = figure.subplots(1, 2, width_ratios=[1, 1.2]) if rates else (figure.subplots(), None)
    bars = ax.bar(["model's own encode\n(the floor)", "Index.build"], [result["encode_floor_s"], result["build_s"]], color=["grey", "tab:blue"])
    ax.bar_label(bars, fmt="%.1f s")
    ax.set_ylabel("seconds")
    ax.set_title(f"{result['passages']:,} passages: {result['overhead']:.0%} overhead", fontsize=10)
    if side is not None:
        bars = side.bar([str(size) for size in rates], list(rates.values()), color="grey")
        side.bar_label(bars, fmt="%.0f")
        side.set_xlabel("batch size")
        side.set_ylabel("passages / s (model's own encode)")
        side.set_title(f"docqa embeds in batches of {result['batch_size']}", fontsize=10)


if __name__ == "__main__":
    sys.exit(main())
