"""Time to update a ~10k-passage index after one document changes (model already loaded).

    .venv/bin/python bench/incremental.py [--copies 9]

The squad_dev articles are copied --copies times (each copy a distinct
document) to reach about 10k passages and indexed once (slow: every passage
is embedded). Then `Index.update` is timed, in the same process (so process
start-up and model loading are excluded), after: one article edited, one
article added, that article removed again, nothing changed; --repeats times
each, medians. Writes bench/results/incremental.json and incremental.png.
"""

from __future__ import annotations

import argparse
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
    parser.add_argument("--copies", type=int, default=9)
    parser.add_argument("--work", default=None, help="reuse this folder (the first build is slow)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    from qa.retrieval.encoder import SentenceTransformerEncoder
    from qa.index import Index

    work = Path(args.work or tempfile.mkdtemp(prefix="qa-incremental-"))
    docs = work / "docs"
    for copy in range(args.copies):
        folder = docs / f"copy{copy}"
        folder.mkdir(parents=True, exist_ok=True)
        for path in sorted(SQUAD.glob("*.txt")):
            target = folder / path.name
            if not target.exists():
                target.write_text(path.read_text(encoding="utf-8") + f"\n\n(Copy {copy}.)\n", encoding="utf-8")
    encoder = SentenceTransformerEncoder()
    started = time.perf_counter()
    index = Index.build(docs, work / "index", encoder=encoder)
    first = time.perf_counter() - started
    encoder.encode(["load the model before timing"])
    load = machine_load()
    extra = docs / "extra" / "Kenya (another copy).txt"
    extra.unlink(missing_ok=True)
    index.update(docs)
    changed = docs / "copy0" / "Kenya.txt"
    original = (SQUAD / "Kenya.txt").read_text(encoding="utf-8") + "\n\n(Copy 0.)\n"
    scenarios: dict[str, list[float]] = {"1 document changed": [], "1 document added": [], "1 document removed": [], "nothing changed": []}
    embedded: dict[str, int] = {}

    def timed(name: str) -> None:
        started = time.perf_counter()
        report = index.update(docs)
        scenarios[name].append(time.perf_counter() - started)
        embedded[name] = report.passages_embedded

    for _ in range(args.repeats):
        changed.write_text(original + f"\n\nEdited at {time.time()}.\n", encoding="utf-8")  # same size every time
        timed("1 document changed")
        extra.parent.mkdir(exist_ok=True)
        extra.write_text((SQUAD / "Kenya.txt").read_text(encoding="utf-8") + f"\n\nAdded at {time.time()}.\n", encoding="utf-8")
        timed("1 document added")
        extra.unlink()
        timed("1 document removed")
        timed("nothing changed")
    result = {"load": load, "passages": len(index.passages), "documents": len(index.documents), "first_build_s": round(first, 1),
              "vector_store": index.dense.kind, "repeats": args.repeats,
              "update_s": round(statistics.median(scenarios["1 document changed"]), 2),
              "passages_embedded": embedded["1 document changed"],
              "scenarios": {name: {"median_s": round(statistics.median(times), 2), "passages_embedded": embedded[name]}
                            for name, times in scenarios.items()}}
    save_result("incremental", result)
    save_plot("incremental", lambda figure: draw(figure, result))
    return 0


def draw(figure, result: dict) -> None:  # type: ignore[no-untyped-def]
    ax = figure.subplots()
    names = list(result["scenarios"])
    bars = ax.bar([n.replace(" ", "\n", 1) for n in names], [result["scenarios"][n]["median_s"] for n in names])
    ax.bar_label(bars, labels=[f"{result['scenarios'][n]['median_s']:.2f} s\n({result['scenarios'][n]['passages_embedded']} embedded)" for n in names])
    ax.axhline(3, color="grey", linestyle="--", linewidth=1)
    ax.set_ylabel(f"seconds, median of {result['repeats']} (dashed: 3 s)")
    ax.set_title(f"updating an index of {result['passages']:,} passages, model loaded")
    ax.margins(y=0.25)


if __name__ == "__main__":
    sys.exit(main())
