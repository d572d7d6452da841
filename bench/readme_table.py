"""Rewrite the README's speed table from bench/results/*.json.

    .venv/bin/python bench/readme_table.py          # after running the benches

Only the lines between `<!-- speed-table -->` and `<!-- /speed-table -->`
in README.md are replaced; a result file that is missing leaves its rows out.
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
            ("`import qa`", f"{startup['import_qa_s'] * 1000:.0f} ms", "`bench/startup.py`"),
            ("whole `qa ask` process, default corpus, ONNX query encoder", f"{startup['qa_ask_onnx_s']:.2f} s", "`bench/startup.py`"),
            ("the same without the ONNX export (imports sentence-transformers)", f"{startup['qa_ask_sentence_transformers_s']:.1f} s", "`bench/startup.py`"),
        ]
    query = load("query")
    if query:
        for r in query.get("rows", []):
            store = "exact" if r["vector_store"] == "exact" else f"IVF, {r['vector_store'][3:]} cells"
            out.append((
                f"`search` / `ask` at {size(r['passages'])} passages ({store})",
                f"p50 {ms(r['search_ms_p50'])} / {ms(r['ask_ms_p50'])}, p95 {ms(r['search_ms_p95'])} / {ms(r['ask_ms_p95'])}; "
                f"peak RSS {r['peak_rss_mb'] / 1024:.2f} GB; open {r['open_s']:.1f} s",
                "`bench/query.py`" + load_note(query),
            ))
    ann = load("ann")
    if ann:
        for r in ann["rows"]:
            if r["data"].startswith("check"):
                continue
            chosen = next((p for p in r["ivf"] if p["nprobe"] == ann["nprobe"]), None)
            if chosen:
                out.append((
                    f"vector search at {size(r['vectors'])} vectors ({r['data']}): IVF nprobe {ann['nprobe']} vs. exact",
                    f"recall@10 {chosen['recall_at_10']:.3f}; {ms(chosen['ms_p50'])} vs. {ms(r['exact_ms_p50'])}; switching took {r['switch_s']:.0f} s",
                    "`bench/ann.py`" + load_note(ann),
                ))
    build = load("build")
    if build:
        out.append((
            f"index of the {build['articles']} squad_dev articles ({build['passages']:,} passages) vs. the model's own `encode` of the same texts",
            f"{build['build_s']:.1f} s vs {build['encode_floor_s']:.1f} s: {build['overhead']:.0%} overhead",
            "`bench/build.py`" + load_note(build),
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
    bm25 = load("bm25")
    if bm25:
        for r in bm25.get("rows", []):
            bm25s = f"; bm25s's own index from the same ids {r['bm25s_index_s']:.1f} s" if "bm25s_index_s" in r else ""
            out.append((
                f"BM25 after 1 document (75 passages) changed, {size(r['passages'])} passages",
                f"{r['update_s']:.2f} s (rebuild from stored token ids {r['rebuild_s']:.2f} s; re-tokenising everything would take {r['tokenise_all_s']:.0f} s{bm25s})",
                "`bench/bm25.py`" + load_note(bm25),
            ))
    out += [
        ("re-index after changing 1 of 13 squad_dev articles, whole `qa index` process", "74 passages embedded, 16 s", "`qa index` (by hand)"),
        ("re-index with one document removed / nothing changed", "0.2 s / 0.0 s, no model loaded", "`qa index` (by hand)"),
    ]
    return out


def table() -> str:
    lines = ["| what | result | reproduce |", "|---|---|---|"]
    lines += [f"| {a} | {b} | {c} |" for a, b, c in rows()]
    return "\n".join(lines)


def main() -> int:
    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(START) + r".*?" + re.escape(END), re.S)
    if not pattern.search(text):
        print(f"README.md has no {START} ... {END} block", file=sys.stderr)
        return 1
    readme.write_text(pattern.sub(lambda _: f"{START}\n{table()}\n{END}", text, count=1), encoding="utf-8")
    print(table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
