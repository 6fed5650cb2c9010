"""Intake answers: what the customer tells the vendor when ordering, checked by question type.

Answers arrive as the text of form fields; they are validated here (not by a form class) so
every way into checkout gets the same rules, and stored as text that reads as the
customer meant it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from catalog.models import QuestionType
from core.bounds import (
    OutOfBounds,
    TooLarge,
    TooManyDecimals,
    parse_day,
    parse_decimal,
    plain_decimal,
)

MAX_TEXT = 2000
NUMBER_DIGITS = 12  # before the decimal point: below a trillion
NUMBER_PLACES = 6
YES_NO = {"yes": "Yes", "no": "No"}


@dataclass(frozen=True)
class Question:
    index: int
    label: str
    type: QuestionType
    required: bool
    choices: tuple[str, ...]

    @classmethod
    def parse(cls, index: int, raw: dict[str, Any]) -> Question:
        try:
            kind = QuestionType(raw.get("type"))
        except ValueError:
            kind = QuestionType.TEXT
        return cls(
            index=index,
            label=str(raw.get("label", "")),
            type=kind,
            required=bool(raw.get("required")),
            choices=tuple(str(c) for c in raw.get("choices") or []),
        )


def questions_of(raw_questions: list[dict[str, Any]]) -> list[Question]:
    return [Question.parse(index, raw) for index, raw in enumerate(raw_questions or [])]


class AnswerError(ValueError):
    """An answer that does not fit its question; the message is for the customer."""


def _number(text: str) -> str:
    """Stored as a plain decimal of at most 20 characters: ``1e-1000020`` is refused rather
    than written out as a million digits."""
    try:
        value = parse_decimal(text, whole_digits=NUMBER_DIGITS, places=NUMBER_PLACES)
    except TooLarge as error:
        raise AnswerError(f"Enter a number of at most {NUMBER_DIGITS} digits.") from error
    except TooManyDecimals as error:
        raise AnswerError(f"Enter a number with at most {NUMBER_PLACES} decimals.") from error
    except OutOfBounds as error:
        raise AnswerError("Enter a number, e.g. 25.") from error
    return plain_decimal(value)


def _date(text: str) -> str:
    try:
        return parse_day(text).isoformat()
    except OutOfBounds as error:
        raise AnswerError("Enter a date as YYYY-MM-DD.") from error


def clean_answer(question: Question, raw: str | None) -> str:
    """The stored text of one answer; raises ``AnswerError`` with what to fix."""
    text = (raw or "").strip()
    if not text:
        if question.required:
            raise AnswerError("This answer is required.")
        return ""
    if question.type is QuestionType.TEXT:
        if len(text) > MAX_TEXT:
            raise AnswerError(f"At most {MAX_TEXT:,} characters.")
        return text
    if question.type is QuestionType.NUMBER:
        return _number(text)
    if question.type is QuestionType.DATE:
        return _date(text)
    if question.type is QuestionType.CHOICE:
        if text not in question.choices:
            raise AnswerError("Choose one of the options.")
        return text
    if text.lower() not in YES_NO:
        raise AnswerError("Answer yes or no.")
    return YES_NO[text.lower()]


def clean_answers(
    questions: list[Question], raw: dict[int, str]
) -> tuple[list[dict[str, Any]], dict[int, str]]:
    """All answers of one line as stored snapshots, and the problems by question index."""
    answers: list[dict[str, Any]] = []
    problems: dict[int, str] = {}
    for question in questions:
        try:
            answer = clean_answer(question, raw.get(question.index))
        except AnswerError as error:
            problems[question.index] = str(error)
            continue
        answers.append({"label": question.label, "type": question.type.value, "answer": answer})
    return answers, problems
