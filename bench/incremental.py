"""Time to update a ~10k-passage index after one document changes (model already loaded).

    .venv/bin/python bench/incremental.py [--copies 9]

The squad_dev articles are copied --copies times (each copy a distinct
document) to reach about 10k passages and indexed once (slow: every passage
is embedded). Then one article is edited and `Index.update` is timed, in the
same process, so process start-up and model loading are excluded. Writes
bench/results/incremental.json.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from results_file import save_result  # noqa: E402
SQUAD = ROOT.parent / "shared" / "eval" / "squad_dev" / "docs"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--copies", type=int, default=9)
    parser.add_argument("--work", default=None, help="reuse this folder (the first build is slow)")
    args = parser.parse_args()
    from qa.encoder import SentenceTransformerEncoder
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
    changed = docs / "copy0" / "Kenya.txt"
    changed.write_text(changed.read_text(encoding="utf-8") + f"\n\nEdited at {time.time()}.\n", encoding="utf-8")
    started = time.perf_counter()
    report = index.update(docs)
    update = time.perf_counter() - started
    result = {"passages": len(index.passages), "documents": len(index.documents), "first_build_s": round(first, 1),
              "changed": report.changed, "passages_embedded": report.passages_embedded, "update_s": round(update, 2)}
    save_result("incremental", result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
