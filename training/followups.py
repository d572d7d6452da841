"""Follow-up questions: how often a conversation answers them right, against the self-contained wording.

    .venv/bin/python training/followups.py --limit 400            # squad_dev ($DOCQA_DATA)
    .venv/bin/python training/followups.py --docs D --qa Q.jsonl  # any SQuAD-style rows in paragraph order

Follow-ups are made from consecutive questions about the same document
(SQuAD lists a paragraph's questions together): when the second names
something the first question, or its gold answer, also names, that name is
replaced by a pronoun ("When did Beyoncé start singing?" after "Who is
Beyoncé?" becomes "When did she start singing?"; "Beyoncé's" becomes
"her"). Each pair is asked as a conversation (the first question, then the
follow-up); the self-contained second question is asked on its own. The
ratio of the two answer accuracies is the number to reach (>= 0.9), with the
self-contained questions asked inside a conversation unchanged. Writes
training/results/followups.json.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from qa.evaluate import contains_answer, data_dir, load_rows  # noqa: E402
from qa.index import Index  # noqa: E402

_NAME = re.compile(r"(?:\b[A-Z][\w'’.-]*(?:\s+(?:of|the|de|von|van)\s+|\s+))*\b[A-Z][\w'’.-]*(?:\s+\d+\b)?")
# A name followed by a lowercase word is usually a modifier ("NFL team"), unless that word is a verb or a preposition.
_AFTER = set("""take took be been being have has had is was were are do does did win won play played get got in on at of
for to from and or with by become became start started end ended go went come came make made say said use used hold held
lead led begin began open opened first last during after before since than as located based known called""".split())
_WH = {"Who", "What", "Which", "When", "Where", "Why", "How", "In", "On", "At", "Did", "Does", "Do", "Is", "Are",
       "Was", "Were", "The", "A", "An"}


def follow_up(first: str, first_answers: list[str], second: str) -> str | None:
    """``second`` with a name it shares with ``first`` (or its gold answers) turned into a pronoun, or None."""
    earlier = " ".join([first, *first_answers])
    for match in _NAME.finditer(second):
        name = match.group(0)
        words = name.split()
        if words[0] in _WH:
            words = words[1:]
        if not words:
            continue
        name = " ".join(words)
        start = match.end() - len(name)
        if name not in earlier or start == 0:
            continue
        if second[match.end():match.end() + 1] not in ("", " ", "?", ",", ".", "'", "’"):
            continue  # part of a longer token ("V&A")
        following = second[match.end():].split(maxsplit=1)
        nxt = following[0].strip("?,.;:") if following else ""
        if nxt and nxt[0].islower() and nxt not in _AFTER and not nxt.endswith("ed"):
            continue
        person = first.lower().startswith("who") and any(name in a for a in first_answers)
        end = match.end()
        if second[end:].startswith(("'s", "’s")):
            pronoun, end = ("his" if person else "its"), end + 2
        else:
            pronoun = "he" if person else "it"
        if second[max(0, start - 4):start].lower() == "the ":
            start -= 4
        return second[:start] + pronoun + second[end:]
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=Path, default=data_dir() / "eval" / "squad_dev" / "docs")
    parser.add_argument("--qa", type=Path, default=data_dir() / "eval" / "squad_dev" / "qa.jsonl")
    parser.add_argument("--index", type=Path, default=Path("/tmp/qa-followups-index"))
    parser.add_argument("--limit", type=int, default=400, help="follow-up pairs to ask (default 400)")
    parser.add_argument("--out", type=Path, default=ROOT / "training" / "results" / "followups.json")
    args = parser.parse_args(argv)
    rows = [r for r in load_rows(args.qa) if r.answers]
    pairs = []
    for first, second in zip(rows, rows[1:]):
        if first.doc == second.doc:
            made = follow_up(first.question, list(first.answers), second.question)
            if made:
                pairs.append((first, second, made))
    pairs = pairs[: args.limit]
    index = Index.build(args.docs, args.index)
    started = time.perf_counter()
    alone = followed = standalone_in_chat = without_context = 0
    examples = []
    for first, second, made in pairs:
        alone += contains_answer(index.ask(second.question).text, second.answers)
        without_context += contains_answer(index.ask(made).text, second.answers)
        chat = index.conversation()
        chat.ask(first.question)
        answer = chat.ask(made)
        followed += contains_answer(answer.text, second.answers)
        plain = index.conversation()
        plain.ask(first.question)
        standalone_in_chat += contains_answer(plain.ask(second.question).text, second.answers)
        if len(examples) < 15:
            examples.append({"first": first.question, "follow_up": made, "asked": answer.asked, "gold": second.answers[0],
                             "right": contains_answer(answer.text, second.answers)})
    n = len(pairs)
    result = {
        "pairs": n,
        "self_contained_accuracy": round(alone / n, 4),
        "follow_up_accuracy": round(followed / n, 4),
        "follow_up_accuracy_without_context": round(without_context / n, 4),
        "ratio": round(followed / max(alone, 1), 4),
        "self_contained_in_a_conversation_accuracy": round(standalone_in_chat / n, 4),
        "seconds": round(time.perf_counter() - started, 1),
        "examples": examples,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1, ensure_ascii=False))
    print(json.dumps({k: v for k, v in result.items() if k != "examples"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
