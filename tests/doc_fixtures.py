"""Small documents in every supported format, generated on the fly (a few KB each).

The PDF is written with fpdf2 and encrypted with pypdf, the Word file with
python-docx; HTML and Markdown are plain strings.
"""

from __future__ import annotations

import io
from pathlib import Path

PAGE_1 = [
    ("h", "Harbour Inspection Report"),
    ("p", "The inspection of the northern harbour took place in the spring. The team walked the whole length "
          "of the breakwater and counted the mooring posts along the eastern quay. Everything was in order "
          "except for two lamps that had been broken by a winter storm."),
    ("line", "The old crane was exam-"),
    ("line", "ined by the chief engineer, who found no rust at all."),
]
PAGE_2 = [
    ("h", "Findings"),
    ("p", "The lighthouse keeper, Margit Olsen, has served at the harbour since 1987. She reported that the "
          "fog horn was repaired in March. The harbour master plans to replace the wooden pier next year at "
          "a cost of 40,000 euros."),
]


def pdf_bytes(pages: list[list[tuple[str, str]]] | None = None, *, blank: bool = False) -> bytes:
    """A PDF with one page per entry (``blank``: pages with a drawing and no text, like a scan)."""
    from fpdf import FPDF

    pdf = FPDF()
    for page in pages if pages is not None else [PAGE_1, PAGE_2]:
        pdf.add_page()
        if blank:
            pdf.rect(20, 20, 100, 60, style="F")
            continue
        for kind, text in page:
            if kind == "h":
                pdf.set_font("Helvetica", "B", 14)
                pdf.cell(0, 10, text, new_x="LMARGIN", new_y="NEXT")
            elif kind == "line":
                pdf.set_font("Helvetica", size=11)
                pdf.cell(0, 6, text, new_x="LMARGIN", new_y="NEXT")
            else:
                pdf.set_font("Helvetica", size=11)
                pdf.multi_cell(0, 6, text, new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


def encrypted_pdf_bytes(user_password: str = "secret") -> bytes:
    """The report, encrypted with AES-256; an empty user password opens without one."""
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(pdf_bytes())))
    writer.encrypt(user_password=user_password, owner_password="owner", algorithm="AES-256")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


HTML = """<!DOCTYPE html>
<html><head><title>Garden guide</title>
<style>body { color: #333 } .secret { display: none }</style>
<script>var tracking = "do not index this script";</script></head>
<body>
<nav><a href="/">Home</a> | <a href="/about">About us</a> | <a href="/shop">Shop</a></nav>
<header><p>Welcome to the Garden Society website</p></header>
<main>
<h1>Garden guide</h1>
<p>Gardening is a <b>patient</b> hobby. Most of the work happens before anything grows.</p>
<h2>Roses</h2>
<p>Roses need six hours of sun a day. Prune them in late winter, just above an outward-facing bud.</p>
<div class="secret" style="display: none">Hidden coupon code GARDEN42.</div>
<h3>Pests</h3>
<ul><li>Aphids gather on young shoots.</li><li>Ladybirds eat the aphids.</li></ul>
<h2>Tomatoes</h2>
<p>Tomatoes are planted out after the last frost, usually in May.</p>
<table><tr><th>Variety</th><th>Days to harvest</th></tr><tr><td>Gardener's Delight</td><td>65</td></tr></table>
</main>
<footer><p>Copyright 2024 Garden Society. All rights reserved.</p></footer>
<script>console.log("also not indexed")</script>
</body></html>
"""

MARKDOWN = """---
title: Install guide
tags: [docs]
---
# Guide

This guide explains how to install **docqa** on your computer. See the [project page](https://example.org/docqa) for news.

## Installation

You need Python 3.10 or newer.

### Linux

On Linux, install the `python3-venv` package first, then run the setup script.

```bash
bash scripts/setup.sh
```

### Windows

On Windows, use WSL; the setup script needs bash.

## Usage

| Command | What it does |
|---|---|
| qa index | builds the index |
| qa ask | answers a question |

![a screenshot of the chat page](chat.png)
"""


def docx_bytes(*, corrupt: bool = False) -> bytes:
    """A Word file with a title, two heading levels, paragraphs and a table."""
    if corrupt:
        return b"PK\x03\x04" + b"\x00\x01broken zip" * 50
    import docx

    document = docx.Document()
    document.add_heading("Field Trip Handbook", level=0)
    document.add_paragraph("This handbook is for the spring field trip to the coast.")
    document.add_heading("Travel", level=1)
    document.add_paragraph("The bus leaves the school at 7:30 on Monday morning.")
    document.add_heading("Packing list", level=2)
    document.add_paragraph("Bring waterproof boots, a notebook and a packed lunch.")
    document.add_heading("Safety", level=1)
    document.add_paragraph("Students must stay with their group leader, Mr. Okafor, at all times.")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Day", "Activity"
    table.cell(1, 0).text, table.cell(1, 1).text = "Tuesday", "Rock pool survey"
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def write_all_formats(folder: Path) -> Path:
    """One document of each format in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "report.pdf").write_bytes(pdf_bytes())
    (folder / "garden.html").write_text(HTML, encoding="utf-8")
    (folder / "guide.md").write_text(MARKDOWN, encoding="utf-8")
    (folder / "handbook.docx").write_bytes(docx_bytes())
    (folder / "notes.txt").write_text("The staff room kettle was replaced in October.\n", encoding="utf-8")
    return folder
