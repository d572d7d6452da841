"""What a BM25 update costs: re-tokenising vs. rebuilding from stored token ids.

    .venv/bin/python bench/bm25.py [--sizes 10000 100000 1000000]

bm25s has no incremental update (its index is a score matrix in which every
entry depends on the corpus size and mean passage length), so after a change
some rebuild is unavoidable. docqa keeps every passage's token ids, so an
update tokenises only the new passages' text and rebuilds the matrix from the
stored ids. For N passages (squad_dev passages repeated) this measures:

* `tokenise_all_s`: tokenising every passage (what an update would cost if it
  re-tokenised the corpus), measured on 10k passages and scaled linearly;
* `bm25s_index_s`: bm25s's own `BM25.index` from the stored ids (docqa's
  previous method), with its peak memory (sizes up to --bm25s-max);
* `rebuild_s`: docqa's vectorised rebuild of the matrix from the stored ids;
* `update_s`: `BM25Store` after one document changes (75 passages removed,
  75 added, then the first search): tokenising the new text plus the rebuild.

Each size runs in its own process (so peak RSS is that size's). Writes
bench/results/bm25.json and bm25.png.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def rss_mb() -> float:
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def measure(n: int, with_bm25s: bool) -> dict:
    from query import base_passages

    from qa.retrieval.lexical import BM25Store, build_matrix
    from qa.textutil import tokenize

    texts = [text for _, _, _, text in base_passages()]
    started = time.perf_counter()
    sample = [texts[i % len(texts)] for i in range(min(n, 10_000))]
    tokenized = [tokenize(t) for t in sample]
    tokenise_all = (time.perf_counter() - started) * n / len(sample)
    store = BM25Store()
    store.add(list(range(len(texts))), texts)
    store.add_copies(list(range(len(texts), n)), [pid % len(texts) for pid in range(len(texts), n)])
    store.remove(list(range(n, len(texts))))
    offsets, tokens, vocab_size = store.token_arrays()
    before = rss_mb()
    started = time.perf_counter()
    build_matrix(offsets, tokens, vocab_size)
    rebuild = time.perf_counter() - started
    del tokenized
    changed = list(range(75))
    started = time.perf_counter()
    store.remove(changed)
    store.add([n + i for i in changed], [texts[i] + " edited" for i in changed])
    store.search("rare earth metals", 5)
    update = time.perf_counter() - started
    row = {"passages": n, "tokens": int(offsets[-1]), "tokenise_all_s": round(tokenise_all, 2), "rebuild_s": round(rebuild, 3),
           "update_s": round(update, 3), "rebuild_extra_rss_mb": round(rss_mb() - before, 1)}
    if with_bm25s:
        import bm25s
        from bm25s.tokenization import Tokenized

        offsets, tokens, _ = store.token_arrays()
        rows = [tokens[a:b].tolist() for a, b in zip(offsets[:-1], offsets[1:])]
        base_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        started = time.perf_counter()
        bm25s.BM25().index(Tokenized(ids=rows, vocab=store.vocabulary()), show_progress=False)
        row["bm25s_index_s"] = round(time.perf_counter() - started, 2)
        row["bm25s_peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        row["peak_rss_before_bm25s_mb"] = round(base_peak, 1)
    return row


def plot(rows: list[dict]) -> None:
    from results_file import save_plot

    sizes = [r["passages"] for r in rows]

    def draw(figure) -> None:  # type: ignore[no-untyped-def]
        ax = figure.subplots()
        ax.plot(sizes, [r["tokenise_all_s"] for r in rows], marker="o", label="re-tokenise every passage")
        with_bm25s = [r for r in rows if "bm25s_index_s" in r]
        if with_bm25s:
            ax.plot([r["passages"] for r in with_bm25s], [r["bm25s_index_s"] for r in with_bm25s], marker="o", label="bm25s index() from stored ids")
        ax.plot(sizes, [r["rebuild_s"] for r in rows], marker="o", label="docqa: rebuild from stored ids")
        ax.plot(sizes, [r["update_s"] for r in rows], marker="o", label="docqa: update after 1 document (75 passages) changed")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("passages")
        ax.set_ylabel("seconds")
        ax.set_title("BM25 after a change")
        ax.legend(fontsize=8)

    save_plot("bm25", draw)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--bm25s-max", type=int, default=100_000, help="largest size to run bm25s's index on (it holds every token as a Python int)")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one, args.one <= args.bm25s_max)))
        return 0
    from results_file import machine_load, save_result

    load = machine_load()
    rows = []
    for n in args.sizes:
        out = subprocess.run([sys.executable, __file__, "--one", str(n), "--bm25s-max", str(args.bm25s_max)],
                             capture_output=True, text=True, check=True).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
        print(json.dumps(rows[-1]), flush=True)
    save_result("bm25", {"load": load, "load_after": machine_load(), "rows": rows}, echo=False)
    plot(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
