"""Follow-up questions in a conversation: readings of a follow-up, and answers that lean on the last turn."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import write_docs
from qa import Index
from qa.conversation import Conversation, Turn, antecedents, needs_context, readings
from qa.types import Answer, Citation

PEOPLE = {
    "festival.txt": "Quillsby Lantern Festival\n\nThe Quillsby Lantern Festival was founded by the glassblower Mirela "
                    "Vantaggio in 1987. Vantaggio was born in Trieste in 1951 and moved to Quillsby in 1979.\n",
    "pier.txt": "Ostholm Ferry Pier\n\nThe Ostholm ferry pier was built by the engineer Henrik Dahl in 1902. "
                "Dahl was born in Bergen in 1860 and designed harbours along the whole coast.\n",
}


def _turn(question: str, span: str) -> Turn:
    text = f"It was {span}."
    citation = Citation(doc="d.txt", passage=0, start=0, end=len(text), text=text, score=0.9, passage_start=0,
                        passage_end=len(text), passage_text=text, span_start=7, span_end=7 + len(span))
    return Turn(question, Answer(question, text, 0.9, (citation,)))


def test_which_questions_may_lean_on_the_last_turn() -> None:
    assert needs_context("When was he born?") and needs_context("What is its capital?")
    assert needs_context("And in 1990?") and needs_context("Why?") and needs_context("What happened there?")
    assert not needs_context("Who founded the Quillsby Lantern Festival?")


def test_antecedents_are_the_answer_phrase_then_the_names_of_the_question() -> None:
    turn = _turn("Who founded the Quillsby Lantern Festival?", "Mirela Vantaggio")
    assert antecedents(turn) == ["Mirela Vantaggio", "Quillsby Lantern Festival"]
    assert antecedents(_turn("What did Super Bowl 50 decide?", "the NFL champion")) == ["the NFL champion", "Super Bowl"]


def test_readings_put_the_question_first_and_resolve_its_pronoun() -> None:
    history = [_turn("Who founded the Quillsby Lantern Festival?", "Mirela Vantaggio")]
    assert readings("Where was she born?", history) == [
        "Where was she born?", "Where was Mirela Vantaggio born?", "Where was Quillsby Lantern Festival born?",
        "Where was she born? Who founded the Quillsby Lantern Festival?"]
    assert readings("What is his trade?", history)[1] == "What is Mirela Vantaggio's trade?"
    assert readings("And in 1990?", history)[1] == "And in 1990 Mirela Vantaggio?"
    where = [_turn("Where will Putin go after North Korea?", "Vietnam")]
    assert readings("Whom will he meet there?", where)[1:3] == ["Whom will Putin meet there?", "Whom will North Korea meet there?"]
    assert readings("What is its capital?", where)[1] == "What is Vietnam's capital?", "a thing: the answer first"
    assert readings("Where was she born?", []) == ["Where was she born?"], "nothing to lean on"
    assert readings("Who built the Ostholm ferry pier?", history) == ["Who built the Ostholm ferry pier?"]


@pytest.fixture
def people_index(tmp_path: Path, real_encoder) -> Index:  # type: ignore[no-untyped-def]
    """The two documents with the real model: which reading wins depends on the answerability model's
    confidence, which is only meaningful with real sentence vectors."""
    return Index.build(write_docs(tmp_path / "docs", PEOPLE), tmp_path / "ix", encoder=real_encoder)


@pytest.mark.model
def test_a_follow_up_is_answered_from_the_document_the_last_turn_was_about(people_index: Index) -> None:
    alone = people_index.ask("Where was he born?").text
    assert ("Trieste" in alone) != ("Bergen" in alone), "on its own the question can be right about one of them only"
    for first, follow, gold, other in [
        ("Who founded the Quillsby Lantern Festival?", "Where was he born?", "Trieste", "Bergen"),
        ("Who built the Ostholm ferry pier?", "Where was he born?", "Bergen", "Trieste"),
    ]:
        chat = people_index.conversation()
        chat.ask(first)
        answer = chat.ask(follow)
        assert answer.found and gold in answer.text and other not in answer.text, (first, answer.asked, answer.text)
        assert answer.question == follow
        citation = answer.citations[0]
        assert (Path(people_index.data.manifest["docs_dir"]) / citation.doc).read_text()[citation.start:citation.end] == answer.text
        assert [t.question for t in chat.turns] == [first, follow]


@pytest.mark.model
def test_a_self_contained_question_in_a_conversation_gets_the_same_answer(people_index: Index) -> None:
    chat = people_index.conversation()
    chat.ask("Who founded the Quillsby Lantern Festival?")
    alone = people_index.ask("When was the Ostholm ferry pier built?")
    in_chat = chat.ask("When was the Ostholm ferry pier built?")
    assert (in_chat.text, in_chat.asked) == (alone.text, "When was the Ostholm ferry pier built?")


@pytest.mark.model
def test_reset_forgets_the_turns(people_index: Index) -> None:
    chat = Conversation(lambda: people_index)
    chat.ask("Who founded the Quillsby Lantern Festival?")
    chat.reset()
    assert chat.turns == [] and chat.ask("Where was he born?").asked == "Where was he born?"
