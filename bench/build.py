"""Build cost against its floor: the model's own `encode` of the same passage texts.

    .venv/bin/python bench/build.py [--articles 13]

Indexes squad_dev articles with `Index.build` and, in the same process and
with the same loaded model, times `SentenceTransformer.encode` of exactly the
passage texts the index embedded. The difference is docqa's own cost:
reading, splitting, tokenising for BM25, pooling sentence vectors, writing
files. Writes bench/results/build.json.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from results_file import machine_load, save_plot, save_result  # noqa: E402
SQUAD = ROOT.parent / "shared" / "eval" / "squad_dev" / "docs"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--articles", type=int, default=13)
    args = parser.parse_args()
    from qa.encoder import SentenceTransformerEncoder
    from qa.index import Index, document_title, embedding_input
    from qa.ingest import read_folder

    work = Path(tempfile.mkdtemp(prefix="qa-build-"))
    docs = work / "docs"
    docs.mkdir()
    for path in sorted(SQUAD.glob("*.txt"))[: args.articles]:
        shutil.copy(path, docs / path.name)
    encoder = SentenceTransformerEncoder()
    encoder.encode(["warm up the model"])
    load = machine_load()
    started = time.perf_counter()
    index = Index.build(docs, work / "index", encoder=encoder)
    build = time.perf_counter() - started
    titles = {d.id: document_title(d) for d in read_folder(docs).documents}  # the floor encodes what the index encoded
    texts = [embedding_input(p, titles[p.doc])[0] for p in (index.passages[pid] for pid in sorted(index.passages))]
    started = time.perf_counter()
    encoder._load().encode(texts, batch_size=64)
    floor = time.perf_counter() - started
    result = {"load": load, "articles": args.articles, "passages": len(texts), "build_s": round(build, 2),
              "encode_floor_s": round(floor, 2), "overhead": round(build / floor - 1, 3)}
    save_result("build", result)
    save_plot("build", lambda figure: draw(figure, result))
    return 0


def draw(figure, result: dict) -> None:  # type: ignore[no-untyped-def]
    ax = figure.subplots()
    bars = ax.bar(["model's own encode\n(the floor)", "Index.build"], [result["encode_floor_s"], result["build_s"]], color=["grey", "tab:blue"])
    ax.bar_label(bars, fmt="%.1f s")
    ax.set_ylabel("seconds")
    ax.set_title(f"{result['passages']:,} passages ({result['articles']} squad_dev articles): {result['overhead']:.0%} overhead")


if __name__ == "__main__":
    sys.exit(main())
