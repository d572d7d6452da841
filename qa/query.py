"""A question, checked and tokenized once, for every stage that reads it.

Retrieval (BM25, the word-share fusion) and answering (overlap features, the
question type) all need the same cleaned text and the same matching tokens;
making them once here keeps the stages from disagreeing about the question.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from qa.errors import QuestionError
from qa.textutil import encodes_as_utf8, matching_tokens, normalize_whitespace

MAX_QUESTION_CHARS = 2000  # longer input is cut: the model reads 256 tokens at most anyway


def clean_question(question: Any) -> str:
    """The question with whitespace collapsed and cut to ``MAX_QUESTION_CHARS``.

    Raises:
        QuestionError: not text, not valid UTF-8, or nothing but whitespace.
    """
    if not isinstance(question, str):
        raise QuestionError(f"the question must be text, got {type(question).__name__}")
    if not encodes_as_utf8(question):
        raise QuestionError("the question holds bytes that are not UTF-8 text: type it again, or set your terminal to UTF-8")
    question = normalize_whitespace(question)
    if not question:
        raise QuestionError("the question is empty: type a question about your documents")
    return question[:MAX_QUESTION_CHARS]


@dataclass(frozen=True)
class Query:
    """``text``: the cleaned question; ``tokens``: its words as BM25 and the overlap features match them."""

    text: str
    tokens: tuple[str, ...]

    @classmethod
    def parse(cls, question: Any) -> Query:
        """Check and tokenize ``question`` (a ``Query`` is returned as it is).

        Raises:
            QuestionError: not text, or empty.
        """
        if isinstance(question, Query):
            return question
        text = clean_question(question)
        return cls(text, tuple(matching_tokens(text)))
