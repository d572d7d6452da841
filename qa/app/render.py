"""How the chat shows things: answers as HTML (with the source passage highlighted) or plain text, the index status.

Everything shown is escaped here, so document text can never become markup.
"""

from __future__ import annotations

from typing import Any, Iterable

from qa.types import Answer, Hit

# What the page calls each mode -> what Index.ask takes.
MODES: dict[str, str] = {"hybrid": "hybrid", "dense": "dense", "keyword": "bm25"}

# Questions about the default corpus, offered on the empty page.
DEFAULT_DOCUMENT = "putin_north_korea_visit.txt"
EXAMPLE_QUESTIONS = (
    "Who invited Putin to North Korea?",
    "How long had it been since Putin last visited North Korea?",
    "What natural resources is North Korea rich in?",
    "In which city will Putin meet Vietnamese leaders?",
)

FOLLOW_UP_NOTE = (
    "Follow-up questions may lean on the last answer (\u201cWhen did he die?\u201d); "
    "*Clear chat* starts a new conversation."
)
NO_ANSWER = "The documents do not cover this question."


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def index_size(stats: dict[str, Any]) -> str:
    return f"{plural(stats['documents'], 'document')} and {plural(stats['passages'], 'passage')}"


# ---------------------------------------------------------------------- formatting
_ESCAPES = str.maketrans({
    "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;",
    # Markdown and LaTeX markers: harmless inside the reply's HTML block, but a
    # user message is rendered as Markdown, so they are neutralised everywhere.
    **{ch: f"&#{ord(ch)};" for ch in "*_`$~[]|\\#"},
})


def escape(text: str) -> str:
    """HTML-escape ``text`` (in one pass) and neutralise Markdown, so the chat shows it literally."""
    return text.replace("\r\n", "\n").replace("\r", "\n").translate(_ESCAPES).replace("\n", "<br>")


def highlight(text: str, mark: tuple[int, int] | None = None, strong: tuple[int, int] | None = None) -> str:
    """``text`` as safe HTML with ``text[mark]`` in ``<mark>`` and ``text[strong]`` in ``<strong>``.

    Offsets are relative to ``text``. A ``strong`` range must sit inside
    ``mark``; ranges that do not fit are ignored rather than mis-drawn.
    """
    if mark is None or not 0 <= mark[0] < mark[1] <= len(text):
        return escape(text)
    a, b = mark
    inner = escape(text[a:b])
    if strong is not None and a <= strong[0] < strong[1] <= b and (strong[0], strong[1]) != (a, b):
        c, d = strong
        inner = escape(text[a:c]) + "<strong>" + escape(text[c:d]) + "</strong>" + escape(text[d:b])
    return escape(text[:a]) + "<mark>" + inner + "</mark>" + escape(text[b:])


def _bold(text: str, start: int, end: int) -> str:
    """Escaped ``text`` with ``text[start:end]`` in ``<strong>`` (unless that is all of it)."""
    if not 0 <= start < end <= len(text) or (start, end) == (0, len(text)):
        return escape(text)
    return escape(text[:start]) + "<strong>" + escape(text[start:end]) + "</strong>" + escape(text[end:])


def _where(location: str, passage: int, start: int, end: int) -> str:
    return f"{location} \u00b7 passage {passage} \u00b7 chars {start}\u2013{end}"


def _hit_details(hit: Hit, *, open_: bool = False) -> str:
    return (
        f"<details class=\"qa-source\"{' open' if open_ else ''}><summary>{escape(_where(hit.passage.location, hit.passage.number, hit.start, hit.end))}</summary>"
        f"<div class=\"qa-passage\">{escape(hit.text)}</div></details>"
    )


def reply_html(answer: Answer, *, note: str | None = None) -> str:
    """The chat reply: the answer, then each source as an expandable passage with the answer highlighted.

    One HTML block without blank lines, so the chat's Markdown renderer passes
    it through as is; every piece of document text is escaped.
    """
    parts = ['<div class="qa-reply">']
    if not answer.found:
        parts.append(f'<p class="qa-noanswer"><strong>{escape(NO_ANSWER)}</strong> '
                     "No sentence in them answers it closely enough to quote.</p>")
        if answer.hits:
            parts.append(f'<p class="qa-label">Closest passages looked at ({len(answer.hits)}):</p>')
            parts.extend(_hit_details(h) for h in answer.hits)
    else:
        first = answer.citations[0]
        if answer.span and answer.span.strip() != answer.text.strip():
            parts.append(f'<p class="qa-span"><strong>{escape(answer.span)}</strong></p>')
        parts.append(f'<p class="qa-answer">{_bold(first.text, first.span_start - first.start, first.span_end - first.start)}</p>')
        parts.append(f'<p class="qa-label">{"Source" if len(answer.citations) == 1 else "Sources"}:</p>')
        cited = set()
        for n, c in enumerate(answer.citations, 1):
            cited.add((c.doc, c.passage))
            offset = c.passage_start
            body = highlight(c.passage_text, (c.start - offset, c.end - offset), (c.span_start - offset, c.span_end - offset))
            parts.append(
                f'<details class="qa-source"><summary>[{n}] {escape(_where(c.location, c.passage, c.start, c.end))}</summary>'
                f'<div class="qa-passage">{body}</div></details>'
            )
        others = [h for h in answer.hits if (h.doc, h.passage.number) not in cited]
        if others:
            parts.append(f'<details class="qa-more"><summary>{plural(len(others), "other passage")} retrieved</summary>'
                         + "".join(_hit_details(h) for h in others) + "</details>")
    if note:
        parts.append(f'<p class="qa-note"><em>{escape(note)}</em></p>')
    parts.append("</div>")
    return "".join(parts)


def reply_text(answer: Answer, *, passage_chars: int = 300) -> str:
    """The reply as plain text, for the ``/ask`` API: answer, then numbered sources.

    A cited passage is given whole; the closest passages of a no-answer are
    cut to ``passage_chars``.
    """
    if not answer.found:
        lines = [NO_ANSWER]
        if answer.hits:
            lines += ["", "Closest passages looked at:"]
            lines += [f"[{n}] {h.passage.location}, passage {h.passage.number}, chars {h.start}-{h.end}: {_shorten(h.text, passage_chars)}"
                      for n, h in enumerate(answer.hits, 1)]
        return "\n".join(lines)
    lines = []
    if answer.span and answer.span.strip() != answer.text.strip():
        lines.append(answer.span)
    lines += [f"\u201c{_shorten(answer.text, 10_000)}\u201d", "", "Sources:"]
    for n, c in enumerate(answer.citations, 1):
        lines.append(f"[{n}] {c.location}, passage {c.passage}, chars {c.start}-{c.end}")
        lines.append(f"    {_shorten(c.passage_text, 10_000)}")
    return "\n".join(lines)


def _shorten(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "\u2026"


def status_markdown(stats: dict[str, Any], *, updating: bool = False, max_listed: int = 15) -> str:
    """The index status panel: model, counts, last build time, documents."""
    updated = stats.get("updated") or "never"
    if isinstance(updated, str) and updated.endswith("Z") and "T" in updated:
        updated = updated.replace("T", " ").rstrip("Z") + " UTC"
    lines = [
        f"**Model:** `{stats.get('model')}`  ",
        f"**Documents:** {stats.get('documents', 0)} \u00b7 **Passages:** {stats.get('passages', 0)}  ",
        f"**Last build:** {updated}",
    ]
    if updating:
        lines.append("\n\u23f3 *Updating the index; questions are answered from the current one meanwhile.*")
    names: Iterable[str] = stats.get("documents_list") or ()
    names = list(names)
    if names:
        shown = ", ".join(f"`{n}`" for n in names[:max_listed])
        more = f" and {len(names) - max_listed} more" if len(names) > max_listed else ""
        lines.append(f"\n**Files:** {shown}{more}")
    return "\n".join(lines)


def example_questions(documents: Iterable[str]) -> list[str]:
    """Example questions for the empty page: only when the default document is indexed."""
    return list(EXAMPLE_QUESTIONS) if DEFAULT_DOCUMENT in set(documents) else []
