"""Peak memory of a first build through `Index.build`: commits in batches vs. one commit at the end.

    .venv/bin/python bench/build_memory.py [--passages 200000]

Real `Index.build` on real texts (the squad_dev articles, copied until the
corpus holds about --passages passages; each copy is one document), with a
random-vector encoder so that the model's time (about 42 passages/s here)
does not make the run take hours: everything else is the product's own work
(reading, splitting, BM25, writing, checksums). Each variant runs in its own
process: the default (a commit every ~16M characters, batches growing with
the index) and one commit at the end (`COMMIT_CHARS` and `MAX_COMMIT_CHARS` set
past the corpus size), which is how builds worked before. Writes bench/results/build_memory.json.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from qa.evaluate import data_dir  # noqa: E402

from results_file import machine_load, save_result  # noqa: E402
SQUAD = data_dir() / "eval" / "squad_dev" / "docs"
PASSAGES_PER_COPY = 1191  # the 13 articles' passages at the default settings


class RandomEncoder:
    """Unit vectors from a seeded generator: costs nothing, shapes like the real model's."""

    name = "all-MiniLM-L6-v2"
    dim = 384

    def __init__(self) -> None:
        import numpy as np

        self._rng = np.random.default_rng(0)

    def encode(self, texts, *, batch_size: int = 8, progress: bool = False):  # type: ignore[no-untyped-def]
        import numpy as np

        v = self._rng.standard_normal((len(texts), self.dim), dtype=np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)

    def encode_with_sentences(self, texts, sentence_spans, *, batch_size: int = 8, progress: bool = False):  # type: ignore[no-untyped-def]
        return self.encode(texts), [self.encode(spans) if len(spans) else self.encode([])[:0] for spans in sentence_spans]


def child(docs: str, index: str, commit_chars: int | None) -> None:
    import qa.store.update as update
    from qa.index import Index
    from qa.store.local import LocalBackend

    if commit_chars is not None:
        update.COMMIT_CHARS = update.MAX_COMMIT_CHARS = commit_chars
    commits = []
    real_commit = LocalBackend.commit

    def counting(self, data, *args):  # type: ignore[no-untyped-def]
        commits.append(len(data.manifest["documents"]))
        real_commit(self, data, *args)

    LocalBackend.commit = counting  # type: ignore[method-assign]
    started = time.perf_counter()
    built = Index.build(docs, index, encoder=RandomEncoder())
    print(json.dumps({"build_s": round(time.perf_counter() - started, 1), "passages": len(built.passages),
                      "commits": len(commits), "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--passages", type=int, default=200_000)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.child[1], None if args.child[2] == "default" else int(args.child[2]))
        return 0
    work = Path(tempfile.mkdtemp(prefix="qa-build-memory-"))
    docs = work / "docs"
    copies = max(1, round(args.passages / PASSAGES_PER_COPY))
    for copy in range(copies):
        folder = docs / f"copy{copy:04d}"
        folder.mkdir(parents=True)
        for path in sorted(SQUAD.glob("*.txt")):
            (folder / path.name).write_text(path.read_text(encoding="utf-8") + f"\n\n(Copy {copy}.)\n", encoding="utf-8")
    corpus_chars = sum(p.stat().st_size for p in docs.rglob("*.txt"))
    load = machine_load()
    runs = {}
    for name, commit_chars in (("batched commits (default)", "default"), ("one commit at the end", str(10 * corpus_chars))):
        out = subprocess.run([sys.executable, __file__, "--child", str(docs), str(work / name.split()[0]), commit_chars],
                             capture_output=True, text=True, check=True)
        runs[name] = json.loads(out.stdout.strip().splitlines()[-1])
        shutil.rmtree(work / name.split()[0], ignore_errors=True)
        print(name, json.dumps(runs[name]), flush=True)
    shutil.rmtree(work, ignore_errors=True)
    save_result("build_memory", {"load": load, "load_after": machine_load(), "documents": copies * 13,
                                 "corpus_mb": round(corpus_chars / 1e6, 1), "runs": runs})
    return 0


if __name__ == "__main__":
    sys.exit(main())
