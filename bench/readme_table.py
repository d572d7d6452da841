"""Rewrite the speed table of docs/speed.md from bench/results/*.json.

    .venv/bin/python bench/readme_table.py          # after running the benches

Only the lines between `<!-- speed-table -->` and `<!-- /speed-table -->`
in docs/speed.md are replaced; a result file that is missing leaves its rows out.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
START, END = "<!-- speed-table -->", "<!-- /speed-table -->"


def load(name: str):  # type: ignore[no-untyped-def]
    try:
        return json.loads((RESULTS / f"{name}.json").read_text())
    except (OSError, ValueError):
        return None


def ms(x: float) -> str:
    return f"{x:.1f} ms" if x < 100 else f"{x:.0f} ms"


def size(n: int) -> str:
    return f"{n // 1_000_000}M" if n >= 1_000_000 and n % 1_000_000 == 0 else f"{n // 1000}k" if n % 1000 == 0 else f"{n:,}"


def load_note(result: dict) -> str:
    load = result.get("load")
    return f" (load {load[0]:.1f})" if load else ""


def rows() -> list[tuple[str, str, str]]:
    out: list[tuple[str, str, str]] = []
    startup = load("startup")
    if startup:
        out += [
            ("`import qa`", f"{startup['import_qa_s'] * 1000:.0f} ms", "`bench/startup.py`" + load_note(startup)),
            ("whole `qa ask` process, default corpus, ONNX query encoder", f"{startup['qa_ask_onnx_s']:.2f} s", "`bench/startup.py`" + load_note(startup)),
            ("the same without the ONNX export (imports sentence-transformers)", f"{startup['qa_ask_sentence_transformers_s']:.1f} s",
             "`bench/startup.py`" + load_note(startup)),
        ]
    query = load("query")
    if query:
        for r in query.get("rows", []):
            store = "exact" if r["vector_store"] == "exact" else f"IVF, {r['vector_store'][3:]} cells"
            out.append((
                f"`search` / `ask` at {size(r['passages'])} passages ({store})",
                f"p50 {ms(r['search_ms_p50'])} / {ms(r['ask_ms_p50'])}, p95 {ms(r['search_ms_p95'])} / {ms(r['ask_ms_p95'])}"
                + (f" (`search` with the older sentence / convex fusion {ms(r['search_sentence_ms_p50'])} / "
                   f"{ms(r['search_convex_ms_p50'])})" if "search_sentence_ms_p50" in r
                   else f" (`search` with the older convex fusion {ms(r['search_convex_ms_p50'])})" if "search_convex_ms_p50" in r else "")
                + f"; first question after opening {ms(r['first_ask_ms'])}; peak RSS {r['peak_rss_mb'] / 1024:.2f} GiB"
                + ("; an earlier run, before the answer reader (about +20 ms on `ask` at 100k) and sentence fusion" if r.get("earlier_run") else ""),
                "`bench/query.py`" + load_note(r if r.get("load") else query),
            ))
        updated = [r for r in query.get("rows", []) if "update_s" in r]
        if updated:
            biggest = updated[-1]
            out.append((
                "update replacing 1 document's passages, without the embedding, at " + " / ".join(size(r["passages"]) for r in updated),
                " / ".join(f"{r['update_s']:.1f} s" for r in updated)
                + f"; peak RSS at {size(biggest['passages'])} {biggest['update_peak_rss_mb'] / 1024:.2f} GiB",
                "`bench/query.py`" + load_note(query),
            ))
            built = [r for r in updated if "build_peak_rss_mb" in r]
            if built:
                out.append((
                    f"building the {size(built[-1]['passages'])}-passage bench index (random vectors, real texts)",
                    f"{built[-1]['build_s']:.0f} s, peak RSS {built[-1]['build_peak_rss_mb'] / 1024:.2f} GiB, {built[-1]['index_mb'] / 1024:.1f} GiB on disk",
                    "`bench/query.py`" + (f" (load {built[-1]['build_load'][0]:.1f})" if built[-1].get("build_load") else ""),
                ))
    ann = load("ann")
    if ann:
        for r in ann["rows"]:
            if r["data"].startswith("check") or r["vectors"] not in (50_000, 100_000, 1_000_000):
                continue
            chosen = next((p for p in r["ivf"] if p["nprobe"] == ann["nprobe"]), None)
            if chosen:
                out.append((
                    f"vector search at {size(r['vectors'])} vectors ({r['data']}): exact vs. IVF with nprobe {ann['nprobe']}",
                    f"{ms(r['exact_ms_p50'])} vs. {ms(chosen['ms_p50'])}, recall@10 {chosen['recall_at_10']:.3f}",
                    "`bench/ann.py`" + load_note(ann),
                ))
        grown = [r for r in ann["rows"] if r.get("grown") and "switch_s" in r]
        if grown:
            out.append((
                f"the update that takes the store past {ann['exact_limit']:,} vectors (trains IVF on them)",
                f"{min(r['switch_s'] for r in grown):.0f}-{max(r['switch_s'] for r in grown):.0f} s, once",
                "`bench/ann.py`" + load_note(ann),
            ))
    build = load("build")
    if build:
        out.append((
            f"index of the {build['articles']} squad_dev articles ({build['passages']:,} passages) vs. the model's own `encode` of the same texts",
            f"{build['build_s']:.1f} s vs {build['encode_floor_s']:.1f} s: {build['overhead']:.0%} overhead",
            "`bench/build.py`" + load_note(build),
        ))
        rates = build.get("floor_passages_per_s_by_batch_size")
        if rates:
            out.append((
                "the model's own `encode` of those texts by batch size (docqa uses " + str(build["batch_size"]) + ")",
                ", ".join(f"{size}: {rate:.0f} passages/s" for size, rate in rates.items()),
                "`bench/build.py`",
            ))
    incremental = load("incremental")
    if incremental:
        scenarios = incremental.get("scenarios", {})
        changed = scenarios.get("1 document changed", {"median_s": incremental["update_s"], "passages_embedded": incremental["passages_embedded"]})
        out.append((
            f"update after changing 1 document of a {incremental['passages']:,}-passage index ({incremental['documents']} documents), model loaded",
            f"{changed['passages_embedded']} passages embedded, {changed['median_s']:.2f} s",
            "`bench/incremental.py`" + load_note(incremental),
        ))
        others = [(name, s) for name, s in scenarios.items() if name != "1 document changed"]
        if others:
            out.append((
                "the same index: " + ", ".join(name for name, _ in others),
                " / ".join(f"{s['median_s']:.2f} s" for _, s in others),
                "`bench/incremental.py`",
            ))
    threads = load("query_threads")
    if threads:
        a, b = threads["ask_ms"]["default"], threads["ask_ms"]["one BLAS thread"]
        out.append((
            f"`ask` at {threads['passages']:,} passages with numpy's BLAS at its default {threads['blas'][0]['num_threads']} threads vs. 1 thread",
            f"p50 {a['p50']:.1f} ms vs {b['p50']:.1f} ms, p95 {a['p95']:.1f} ms vs {b['p95']:.1f} ms",
            "`bench/query_threads.py`" + load_note(threads),
        ))
    bm25 = load("bm25")
    if bm25:
        for r in bm25.get("rows", []):
            if r["passages"] < 100_000:
                continue
            bm25s = f"; bm25s's own `index` of the same ids {r['bm25s_index_s']:.1f} s" if "bm25s_index_s" in r else ""
            out.append((
                f"BM25 after 1 document (75 passages) changed, {size(r['passages'])} passages",
                f"{r['update_s']:.2f} s, re-tokenising every passage would take {r['tokenise_all_s']:.0f} s{bm25s}",
                "`bench/bm25.py`" + load_note(bm25),
            ))
    out += [  # measured by hand: `qa index` on a copy of the 13 squad_dev articles, whole processes, median of 3
        ("whole `qa index` process, 13 squad_dev articles: 1 article changed / 1 removed / nothing changed",
         "13.0 s (loads the model, embeds 75 passages) / 0.48 s / 0.31 s (no model loaded)", "`qa index` by hand (load 2.3)"),
    ]
    return out


def table() -> str:
    lines = ["| what | result | reproduce |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows()]
    return "\n".join(lines)


def main() -> int:
    readme = ROOT / "docs" / "speed.md"
    text = readme.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        print(f"docs/speed.md has no {START} ... {END} block", file=sys.stderr)
        return 1
    readme.write_text(pattern.sub(lambda _: f"{START}\n{table()}\n{END}", text, count=1), encoding="utf-8")
    print(table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
