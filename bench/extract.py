"""Extraction throughput per format: pages per second for PDF, MB per second for the rest.

    .venv/bin/python bench/extract.py            # 100-page PDF; medians of 5 runs

The documents are made from the real squad_dev articles: a PDF written with
fpdf2 (about 3,000 characters per page), the same text as HTML, Markdown and
Word files. Time is the product's own extraction (``qa.ingest.formats.extract``),
file bytes already in memory. Writes bench/results/extract.json.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.evaluate import data_dir  # noqa: E402
SQUAD = data_dir() / "eval" / "squad_dev" / "docs"


def paragraphs(limit_chars: int) -> list[str]:
    out, total = [], 0
    for path in sorted(SQUAD.glob("*.txt")):
        for para in path.read_text(encoding="utf-8").split("\n\n"):
            para = " ".join(para.split())
            if para:
                out.append(para)
                total += len(para)
                if total >= limit_chars:
                    return out
    return out


def make_pdf(paras: list[str], pages: int) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=10)
    i = 0
    while pdf.page_no() < pages or pdf.page_no() == 0:
        if pdf.page_no() == 0:
            pdf.add_page()
        text = paras[i % len(paras)].encode("latin-1", "replace").decode("latin-1")
        pdf.multi_cell(0, 5, text, new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)
        i += 1
    return bytes(pdf.output())


def make_docx(paras: list[str]) -> bytes:
    import docx

    document = docx.Document()
    for n, para in enumerate(paras):
        if n % 8 == 0:
            document.add_heading(f"Section {n // 8 + 1}", level=1)
        document.add_paragraph(para)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def timed(name: str, data: bytes, runs: int) -> tuple[float, object]:
    from qa.ingest.formats import extract

    seconds = []
    for _ in range(runs):
        started = time.perf_counter()
        result = extract(name, data)
        seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=100)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    paras = paragraphs(args.pages * 3200)
    pdf = make_pdf(paras, args.pages)
    html = ("<html><body><main>" + "".join(
        (f"<h2>Section {n // 8 + 1}</h2>" if n % 8 == 0 else "") + f"<p>{p}</p>" for n, p in enumerate(paras)
    ) + "</main></body></html>").encode("utf-8")
    markdown = "\n\n".join((f"## Section {n // 8 + 1}\n\n" if n % 8 == 0 else "") + p for n, p in enumerate(paras)).encode("utf-8")
    results = []
    seconds, extracted = timed("bench.pdf", pdf, args.runs)
    pages = len(extracted.regions)  # type: ignore[attr-defined]
    results.append({"format": "pdf", "pages": pages, "mb": round(len(pdf) / 1e6, 2), "chars": len(extracted.text),  # type: ignore[attr-defined]
                    "seconds": round(seconds, 3), "pages_per_s": round(pages / seconds, 1)})
    for name, data in (("bench.html", html), ("bench.md", markdown), ("bench.docx", make_docx(paras))):
        seconds, extracted = timed(name, data, args.runs)
        results.append({"format": name.split(".")[1], "mb": round(len(data) / 1e6, 2), "chars": len(extracted.text),  # type: ignore[attr-defined]
                        "seconds": round(seconds, 3), "mb_per_s": round(len(data) / 1e6 / seconds, 2),
                        "chars_per_s": round(len(extracted.text) / seconds)})  # type: ignore[attr-defined]
    sys.path.insert(0, str(ROOT / "bench"))
    from results_file import save_result

    for row in results:
        print(row)
    save_result("extract", results, echo=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
