"""LLM-as-a-judge, two ways: correctness of one answer (1-10) and a preference between two answers (A, B or a tie).

Both contracts are borrowed, the wording is ours (``lambdas.evaluation.prompts``, versioned as ``PROMPT_VERSION``):

* ``CorrectnessJudge`` - LangChain's labeled score-string evaluator, which the reference study used: the judge sees
  the question, the ground-truth answer and the answer to grade, explains first, then rates it ``[[N]]`` from 1 to
  10 with correctness as the single criterion.
* ``PairwiseJudge`` - MT-Bench's pairwise judge with a reference answer: the judge sees the question, the reference
  and two answers labelled A and B, explains first, then decides ``[[A]]``, ``[[B]]`` or ``[[C]]`` (a tie). Judges
  favour whichever answer they read first, so every question is asked twice, the answers swapped::

      order 1: A = fine-tuned, B = base  --> a role (fine-tuned, base or tie)  -.
                                                                                 >- same role: that role
      order 2: A = base, B = fine-tuned  --> a role (fine-tuned, base or tie)  -'   otherwise: a tie (inconsistent)

We build the chains from the chat model directly (``load_evaluator`` insists on ``langchain_openai``).

A judge failure never costs the evaluation. A malformed verdict is asked again (a bounded number of times, reminding
the judge of the format); a failed call is retried after a growing pause when it may heal (throttling, a timeout, a
5xx) and not at all when it cannot (``non_retryable``: no access to the judge model, a model that needs an inference
profile, a model that does not exist - every item would wait out its pauses for the same answer). Either way the
item ends unscored with the problem recorded, and the judge's last raw reply kept.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from botocore.exceptions import ClientError

from lambdas.evaluation.prompts import (
    FORMAT_REMINDER,
    JUDGE_INSTRUCTIONS,
    JUDGE_SYSTEM,
    PAIRWISE_FORMAT_REMINDER,
    PAIRWISE_INSTRUCTIONS,
    PAIRWISE_SYSTEM,
    PROMPT_VERSION,
)
from lambdas.evaluation.results import JudgeVerdict, PairwiseVerdict, Preference

__all__ = [
    "FORMAT_REMINDER",
    "JUDGE_INSTRUCTIONS",
    "JUDGE_SYSTEM",
    "MAX_SCORE",
    "MIN_SCORE",
    "CorrectnessJudge",
    "MalformedChoice",
    "MalformedRating",
    "MalformedReply",
    "PairwiseJudge",
    "bedrock_judge",
    "bedrock_pairwise_judge",
    "non_retryable",
    "parse_choice",
    "parse_rating",
]

MIN_SCORE = 1
MAX_SCORE = 10
CHOICES = ("A", "B", "C")
REASONING_CHARS_PER_ORDER = 800  # a pairwise verdict keeps two explanations; enough to see why, not an essay

# Errors no pause cures: the judge model is out of reach for this role and account, whichever item asks.
NON_RETRYABLE_CODES = frozenset({"AccessDeniedException", "ResourceNotFoundException"})
# A ValidationException is usually about the request (and may be specific to one item); these say it is the model id.
_MODEL_ID_PROBLEMS = ("on-demand throughput", "inference profile", "model identifier is invalid")

_BRACKETED = re.compile(r"\[\[(.*?)\]\]", re.DOTALL)

T = TypeVar("T")


class MalformedReply(ValueError):
    """The judge's reply holds no usable verdict in double square brackets."""


class MalformedRating(MalformedReply):
    """The judge's reply holds no usable ``[[N]]`` rating."""


class MalformedChoice(MalformedReply):
    """The judge's reply holds no usable ``[[A]]``, ``[[B]]`` or ``[[C]]`` decision."""


def parse_rating(reply: str) -> int:
    """The rating in a judge's reply: the last ``[[...]]``, which must hold a whole number from 1 to 10.

    The last bracket pair is the one that counts because the rating comes after the explanation.
    """
    found = _BRACKETED.findall(reply)
    if not found:
        raise MalformedRating("it has no rating in double square brackets")
    verdict = found[-1].strip()
    if not re.fullmatch(r"[+-]?\d+", verdict):
        raise MalformedRating(f"the rating [[{verdict}]] is not a whole number")
    value = int(verdict)
    if not MIN_SCORE <= value <= MAX_SCORE:
        raise MalformedRating(f"the rating {value} is outside {MIN_SCORE}..{MAX_SCORE}")
    return value


def parse_choice(reply: str) -> str:
    """The decision in a pairwise judge's reply: the last ``[[...]]``, which must hold A, B or C (a tie)."""
    found: list[str] = _BRACKETED.findall(reply)
    if not found:
        raise MalformedChoice("it has no decision in double square brackets")
    verdict = found[-1].strip()
    if verdict.upper() not in CHOICES:
        raise MalformedChoice(f"the decision [[{verdict}]] is not A, B or C")
    return verdict.upper()


def non_retryable(error: BaseException) -> bool:
    """Whether a failed judge call would fail the same way however long we waited before asking again.

    The botocore error code decides where the error (or one it was raised from) is a ``ClientError``; when LangChain
    re-raises it as something else without the chain, the exception text does.
    """
    current: BaseException | None = error
    seen: set[int] = set()
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ClientError):
            details = current.response.get("Error", {})
            return _permanent(str(details.get("Code", "")), str(details.get("Message", "")))
        current = current.__cause__ or current.__context__
    text = str(error)
    if any(code in text for code in NON_RETRYABLE_CODES):
        return True
    return "ValidationException" in text and _permanent("ValidationException", text)


def _permanent(code: str, message: str) -> bool:
    if code in NON_RETRYABLE_CODES:
        return True
    lowered = message.lower()
    return code == "ValidationException" and any(problem in lowered for problem in _MODEL_ID_PROBLEMS)


@dataclass(frozen=True)
class _Answered(Generic[T]):
    """One question put to the judge, after its retries: the verdict, or why there is none."""

    value: T | None
    reply: str  # the last raw reply ("" when no call succeeded)
    attempts: int
    problem: str = ""
    gave_up_early: bool = False  # a non-retryable failure: asking again, now or for another order, is pointless


class _Judge:
    """A chat model behind one judge prompt, asked with bounded retries (the part both judges share)."""

    def __init__(
        self,
        llm: Any,
        *,
        model_id: str,
        system: str,
        instructions: str,
        run_name: str,
        max_attempts: int,
        retry_delay_seconds: float,
        sleep: Callable[[float], None],
    ) -> None:
        from langchain_core.output_parsers import StrOutputParser
        from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder

        prompt = ChatPromptTemplate.from_messages(
            [
                ("system", system),
                ("human", instructions),
                MessagesPlaceholder("follow_up", optional=True),
            ]
        )
        # The version rides along in every call's metadata, so a trace names the prompts as the report does.
        self._chain = (prompt | llm | StrOutputParser()).with_config(
            run_name=run_name, metadata={"prompt_version": PROMPT_VERSION}
        )
        self.model_id = model_id
        self.prompt_version = PROMPT_VERSION
        self._max_attempts = max_attempts
        self._retry_delay = retry_delay_seconds
        self._sleep = sleep

    def _ask(self, inputs: Mapping[str, str], parse: Callable[[str], T], reminder: str) -> _Answered[T]:
        from langchain_core.messages import AIMessage, BaseMessage, HumanMessage

        follow_up: list[BaseMessage] = []
        reply = ""
        problem = ""
        for attempt in range(1, self._max_attempts + 1):
            call: dict[str, Any] = dict(inputs)
            if follow_up:
                call["follow_up"] = follow_up
            try:
                reply = str(self._chain.invoke(call))
            except Exception as error:  # a judge outage leaves the item unscored; it never fails the run
                problem = f"the judge call failed: {type(error).__name__}: {error}"
                if non_retryable(error):
                    problem += " (not retried: waiting will not change it)"
                    return _Answered(None, reply, attempt, problem, gave_up_early=True)
                follow_up = []
                if attempt < self._max_attempts:
                    self._sleep(self._retry_delay * 2 ** (attempt - 1))
                continue
            try:
                value = parse(reply)
            except MalformedReply as malformed:
                problem = str(malformed)
                follow_up = [AIMessage(content=reply), HumanMessage(content=reminder.format(problem=problem))]
                continue
            return _Answered(value, reply, attempt)
        return _Answered(None, reply, self._max_attempts, problem)


class CorrectnessJudge(_Judge):
    """Grades answers with any LangChain chat model (ChatBedrockConverse on AWS, a fake one in tests)."""

    def __init__(
        self,
        llm: Any,
        *,
        model_id: str,
        max_attempts: int = 3,
        retry_delay_seconds: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(
            llm,
            model_id=model_id,
            system=JUDGE_SYSTEM,
            instructions=JUDGE_INSTRUCTIONS,
            run_name="correctness-judge",
            max_attempts=max_attempts,
            retry_delay_seconds=retry_delay_seconds,
            sleep=sleep,
        )

    def grade(self, *, question: str, reference: str, answer: str) -> JudgeVerdict:
        inputs = {"question": question, "reference": reference, "answer": answer}
        answered = self._ask(inputs, parse_rating, FORMAT_REMINDER)
        if answered.value is None:
            return JudgeVerdict(
                score=None, reasoning=answered.reply, attempts=answered.attempts, error=answered.problem
            )
        return JudgeVerdict(score=answered.value, reasoning=answered.reply.strip(), attempts=answered.attempts)

    def grade_many(self, cases: Sequence[tuple[str, str, str]], *, concurrency: int) -> list[JudgeVerdict]:
        """Grade ``(question, reference, answer)`` cases concurrently; results keep the input order."""

        def one(case: tuple[str, str, str]) -> JudgeVerdict:
            question, reference, answer = case
            return self.grade(question=question, reference=reference, answer=answer)

        return _in_order(one, cases, concurrency)


@dataclass(frozen=True)
class _Order:
    """One presentation order of the pairwise question: which role each letter stands for."""

    label: str
    roles: Mapping[str, Preference]


FINE_TUNED_FIRST = _Order(
    "fine-tuned first (A = fine-tuned, B = base)",
    {"A": Preference.FINE_TUNED, "B": Preference.BASE, "C": Preference.TIE},
)
BASE_FIRST = _Order(
    "base first (A = base, B = fine-tuned)",
    {"A": Preference.BASE, "B": Preference.FINE_TUNED, "C": Preference.TIE},
)


class PairwiseJudge(_Judge):
    """Compares the fine-tuned answer with the base answer, in both orders, with any LangChain chat model."""

    def __init__(
        self,
        llm: Any,
        *,
        model_id: str,
        max_attempts: int = 3,
        retry_delay_seconds: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        super().__init__(
            llm,
            model_id=model_id,
            system=PAIRWISE_SYSTEM,
            instructions=PAIRWISE_INSTRUCTIONS,
            run_name="pairwise-judge",
            max_attempts=max_attempts,
            retry_delay_seconds=retry_delay_seconds,
            sleep=sleep,
        )

    def compare(self, *, question: str, reference: str, fine_tuned: str, base: str) -> PairwiseVerdict:
        """Ask with the fine-tuned answer as A, then with the base answer as A; reconcile the two decisions.

        Both orders naming the same role give that role; any disagreement is a tie (``consistent`` False). When
        either order has no usable decision the item is unscored (``preference`` None), the other order kept.
        """
        first = self._ask_in_order(question=question, reference=reference, a=fine_tuned, b=base)
        second = (
            None
            if first.gave_up_early  # the same model, the same error: a second order would only repeat it
            else self._ask_in_order(question=question, reference=reference, a=base, b=fine_tuned)
        )
        fine_tuned_first = FINE_TUNED_FIRST.roles[first.value] if first.value is not None else None
        base_first = BASE_FIRST.roles[second.value] if second is not None and second.value is not None else None
        asked = [(FINE_TUNED_FIRST, first)] + ([(BASE_FIRST, second)] if second is not None else [])
        reasoning = "\n\n".join(
            f"[{order.label}] {_shorten(answered.reply) or '(no reply)'}" for order, answered in asked
        )
        attempts = sum(answered.attempts for _, answered in asked)
        if fine_tuned_first is None or base_first is None:
            problems = [f"{order.label}: {answered.problem}" for order, answered in asked if answered.value is None]
            return PairwiseVerdict(
                preference=None,
                fine_tuned_first=fine_tuned_first,
                base_first=base_first,
                reasoning=reasoning,
                attempts=attempts,
                error="; ".join(problems),
            )
        return PairwiseVerdict(
            preference=fine_tuned_first if fine_tuned_first == base_first else Preference.TIE,
            fine_tuned_first=fine_tuned_first,
            base_first=base_first,
            consistent=fine_tuned_first == base_first,
            reasoning=reasoning,
            attempts=attempts,
        )

    def compare_many(self, cases: Sequence[tuple[str, str, str, str]], *, concurrency: int) -> list[PairwiseVerdict]:
        """Compare ``(question, reference, fine_tuned, base)`` cases concurrently; results keep the input order."""

        def one(case: tuple[str, str, str, str]) -> PairwiseVerdict:
            question, reference, fine_tuned, base = case
            return self.compare(question=question, reference=reference, fine_tuned=fine_tuned, base=base)

        return _in_order(one, cases, concurrency)

    def _ask_in_order(self, *, question: str, reference: str, a: str, b: str) -> _Answered[str]:
        """One order's decision as a letter; the prompt only ever says A and B, ``_Order.roles`` says who they are."""
        inputs = {"question": question, "reference": reference, "answer_a": a, "answer_b": b}
        return self._ask(inputs, parse_choice, PAIRWISE_FORMAT_REMINDER)


def _shorten(text: str, limit: int = REASONING_CHARS_PER_ORDER) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "\u2026"


Case = TypeVar("Case")
Verdict = TypeVar("Verdict")


def _in_order(one: Callable[[Case], Verdict], cases: Sequence[Case], concurrency: int) -> list[Verdict]:
    if not cases:
        return []
    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(cases)))) as pool:
        return list(pool.map(one, cases))


def bedrock_judge(
    model_id: str, *, bedrock_runtime: Any, bedrock: Any | None = None, max_tokens: int = 1024
) -> CorrectnessJudge:
    """A correctness judge on Bedrock through ``ChatBedrockConverse``, using our client so standard endpoint settings
    apply."""
    return CorrectnessJudge(_bedrock_chat_model(model_id, bedrock_runtime, bedrock, max_tokens), model_id=model_id)


def bedrock_pairwise_judge(
    model_id: str, *, bedrock_runtime: Any, bedrock: Any | None = None, max_tokens: int = 1024
) -> PairwiseJudge:
    """A pairwise judge on Bedrock through ``ChatBedrockConverse``, like ``bedrock_judge``."""
    return PairwiseJudge(_bedrock_chat_model(model_id, bedrock_runtime, bedrock, max_tokens), model_id=model_id)


def _bedrock_chat_model(model_id: str, bedrock_runtime: Any, bedrock: Any | None, max_tokens: int) -> Any:
    from langchain_aws import ChatBedrockConverse

    return ChatBedrockConverse(
        model_id=model_id,
        client=bedrock_runtime,
        bedrock_client=bedrock,
        temperature=0.0,
        max_tokens=max_tokens,
    )
