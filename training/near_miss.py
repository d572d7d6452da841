"""Near-miss questions: answerable-looking questions that the documents do not answer.

    .venv/bin/python training/near_miss.py --out /tmp/near_miss.jsonl            # from squad_dev ($DOCQA_DATA)
    .venv/bin/qa eval --docs $DOCQA_DATA/eval/squad_dev/docs --qa /tmp/near_miss.jsonl --json

Each answerable question is changed by one rule so that its own document no
longer answers it, and the row gets ``answers: []``:

* ``entity``: a name in the question becomes a name from another article's
  questions that its own article never mentions ("... at Super Bowl 50?" ->
  "... at the Yuan dynasty?");
* ``number``: a year or number becomes one its article never mentions;
* ``antonym``: a word becomes its opposite ("first" -> "last", "largest" ->
  "smallest") when the article never uses the opposite;
* ``negation``: the question's first auxiliary verb is negated ("What did
  Beyoncé release?" -> "What did Beyoncé not release?") when the question has
  no negation yet;
* ``condition`` (only when asked for, ``--rules``): a condition the article
  cannot meet is added, a year it never mentions ("Who designed the logo?" ->
  "Who designed the logo in 1962?") to a question that asks for no time and
  names no number. Not among the default rules, so the sets and training data
  made before it existed stay the same draw for draw (it draws its year from
  its own generator, seeded by the question).

The same rules, run over SQuAD train, are what a near-miss-aware reader and
answerability model would be trained on (issue 18); measured on squad_dev
they say how often docqa answers such a question with a wrong quote.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.answer.features import NEGATION  # noqa: E402
from qa.evaluate import data_dir, load_rows  # noqa: E402

NAME_PATTERN = re.compile(r"(?<!^)(?<![.?!]\s)\b[A-Z][a-z][\w'’-]*(?:\s+[A-Z][\w'’-]*)*")
_NUMBER = re.compile(r"\b\d{1,4}\b")
ANTONYMS = {
    "first": "last", "last": "first", "largest": "smallest", "smallest": "largest", "before": "after", "after": "before",
    "highest": "lowest", "lowest": "highest", "most": "least", "least": "most", "earliest": "latest", "latest": "earliest",
    "oldest": "youngest", "youngest": "oldest", "north": "south", "south": "north", "east": "west", "west": "east",
    "increase": "decrease", "decrease": "increase", "won": "lost", "lost": "won", "biggest": "tiniest", "longest": "shortest",
    "shortest": "longest", "early": "late", "late": "early", "larger": "smaller", "smaller": "larger", "more": "fewer",
    "start": "end", "began": "ended", "best": "worst", "worst": "best", "maximum": "minimum", "minimum": "maximum",
}


def names_in(questions: Iterable[str]) -> list[str]:
    """The names the questions use, sorted: what a name swap may put in (``training/train_*.py`` share it)."""
    return sorted({m.group(0) for q in questions for m in NAME_PATTERN.finditer(q)})


def mentions(text: str, phrase: str) -> bool:
    return re.search(rf"\b{re.escape(phrase)}\b", text, re.I) is not None


DEFAULT_RULES = ("entity", "number", "antonym", "negation")
_YEAR = re.compile(r"\b(1[0-9]{3}|20[0-9]{2})\b")
_ASKS_TIME = re.compile(r"\b(when|year|years|century|decade|date|era|period|age|how long|how old)\b", re.I)


def near_misses(question: str, doc_text: str, names_elsewhere: list[str], rng: random.Random,
                rules: tuple[str, ...] = DEFAULT_RULES) -> list[tuple[str, str]]:
    """(rule, changed question) pairs that ``doc_text`` does not answer.

    The default rules draw from ``rng`` exactly as before ``rules`` existed (they are all tried, and the caller
    filters); ``condition`` draws from its own generator seeded by the question, so asking for it changes no
    other row.
    """
    out: list[tuple[str, str]] = []
    names = [m for m in NAME_PATTERN.finditer(question) if mentions(doc_text, m.group(0))]
    if names:
        target = rng.choice(names)
        for other in rng.sample(names_elsewhere, min(20, len(names_elsewhere))):
            if not mentions(doc_text, other) and other.lower() not in question.lower():
                out.append(("entity", question[: target.start()] + other + question[target.end():]))
                break
    numbers = list(_NUMBER.finditer(question))
    if numbers:
        target = rng.choice(numbers)
        value = int(target.group(0))
        for delta in (7, 13, 3, 29):
            changed = str(value + delta)
            if not mentions(doc_text, changed):
                out.append(("number", question[: target.start()] + changed + question[target.end():]))
                break
    words = [m for m in re.finditer(r"\b[a-z]+\b", question) if m.group(0) in ANTONYMS]
    if words:
        target = rng.choice(words)
        opposite = ANTONYMS[target.group(0)]
        if not mentions(doc_text, opposite):
            out.append(("antonym", question[: target.start()] + opposite + question[target.end():]))
    negation = negated(question)
    if negation is not None:
        out.append(("negation", negation))
    if "condition" in rules:
        conditioned = with_year_condition(question, doc_text, random.Random(question))
        if conditioned is not None:
            out.append(("condition", conditioned))
    return out


def with_year_condition(question: str, doc_text: str, rng: random.Random) -> str | None:
    """The question limited to a year its document never mentions, near the years it does (or None).

    "Who designed the logo?" -> "Who designed the logo in 1962?": whatever the document says happened, it does
    not say it happened then. Questions that ask for a time, or already hold a number, are left alone: "When
    was it built in 1962?" asks nothing, and the ``number`` rule covers "... in 2015?".
    """
    if _ASKS_TIME.search(question) or _NUMBER.search(question) or not question.rstrip().endswith("?"):
        return None
    years = [int(y) for y in _YEAR.findall(doc_text)]
    low, high = (min(years) - 40, max(years) + 10) if years else (1900, 2000)
    high = max(low, min(high, 2030))  # never a year far in the future, never an empty range
    for _ in range(10):
        year = rng.randint(low, high)
        if not mentions(doc_text, str(year)):
            return question.rstrip()[:-1].rstrip() + f" in {year}?"
    return None


def negated(question: str) -> str | None:
    """The question with "not" put after its first auxiliary verb's subject, or None where no simple place is found.

    A copula before a lower-case word takes it at once ("Who was the first king?" -> "Who was not the first
    king?"); "did", "has", "can" and the like take it after a subject of names or of a determiner and one noun
    ("What did Beyoncé release?" -> "What did Beyoncé not release?", "What did the city build?" -> "What did
    the city not build?").
    """
    if NEGATION.search(question):
        return None
    m = re.search(r"(?<=\w )(?:(is|was|were|are)|(did|does|do|has|had|have|can|could|will|would|should))\s+", question)
    if m is None:
        return None
    rest = question[m.end():]
    if m.group(1):
        return question[: m.end()] + "not " + rest if re.match(r"[a-z]", rest) else None
    subject = re.match(r"(?:the\s+)?(?:[A-Z][\w'’.-]*\s+)+|(?:the|a|an|his|her|its|their)\s+[a-z]\w*\s+", rest)
    if subject is None or not re.match(r"(?!(?:and|or|of|in)\b)[a-z]", rest[subject.end():]):
        return None
    cut = m.end() + subject.end()
    return question[:cut] + "not " + question[cut:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=Path, default=data_dir() / "eval" / "squad_dev" / "docs")
    parser.add_argument("--qa", type=Path, default=data_dir() / "eval" / "squad_dev" / "qa.jsonl")
    parser.add_argument("--out", type=Path, required=True, help="JSONL rows with answers: [] (qa eval reads them)")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--rules", default=",".join(DEFAULT_RULES),
                        help="which rules (comma-separated; 'condition' is also known)")
    args = parser.parse_args(argv)
    wanted = tuple(args.rules.split(","))
    unknown = set(wanted) - {*DEFAULT_RULES, "condition"}
    if unknown:
        parser.error(f"unknown rule(s): {', '.join(sorted(unknown))}")
    rng = random.Random(args.seed)
    rows = [r for r in load_rows(args.qa) if r.answers and r.doc]
    texts = {p.name: p.read_text(encoding="utf-8") for p in args.docs.glob("*.txt")}
    names_by_doc: dict[str, list[str]] = {}
    for r in rows:
        names_by_doc.setdefault(r.doc, []).extend(m.group(0) for m in NAME_PATTERN.finditer(r.question))
    counts: Counter[str] = Counter()
    with args.out.open("w", encoding="utf-8") as fh:
        for r in rows:
            elsewhere = sorted({n for doc, names in names_by_doc.items() if doc != r.doc for n in names})
            for rule, question in near_misses(r.question, texts[r.doc], elsewhere, rng, wanted):
                if rule not in wanted:
                    continue
                counts[rule] += 1
                fh.write(json.dumps({"question": question, "answers": [], "doc": r.doc, "rule": rule,
                                     "original": r.question}, ensure_ascii=False) + "\n")
    print(json.dumps({"rows": sum(counts.values()), **counts}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
