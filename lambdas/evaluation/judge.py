"""LLM-as-a-judge: correctness of an answer on a 1-10 scale, graded against the reference answer.

The scoring contract is the one of LangChain's labeled score-string evaluator, which the reference study used: the
judge sees the question, the ground-truth answer and the answer to grade, writes a short justification first and
then a rating as ``[[N]]`` with N a whole number from 1 to 10. The prompt below is our own wording of that contract,
with correctness (is the answer right, accurate and factual compared to the reference) as the single criterion.
We build the chain from the chat model directly (``load_evaluator`` insists on ``langchain_openai``).

Where LangChain's parser raises on a malformed verdict, we ask again (a bounded number of times, reminding the judge
of the format) and, failing that, record the item as unscored with the judge's last raw reply: one stubborn reply
never costs the whole evaluation.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from lambdas.evaluation.results import JudgeVerdict

MIN_SCORE = 1
MAX_SCORE = 10

JUDGE_SYSTEM = "You are a careful, impartial examiner who grades answers against a known correct answer."

JUDGE_INSTRUCTIONS = """\
Grade the answer an AI assistant gave to the question below.

What to grade: correctness. Is the answer right, accurate and factual when compared with the reference answer, \
which is known to be correct? Reward answers that convey the facts of the reference; penalise statements that \
contradict it, claims it does not support, and missing key facts. Length and style matter only where they change \
what the answer says.

How to reply: first explain your judgement in a few sentences. After the explanation, give a single rating from \
1 (entirely wrong) to 10 (fully correct) as a whole number wrapped in double square brackets, for example \
"Rating: [[6]]". Use the double brackets only for the rating.

[Question]
{question}

[Reference answer]
{reference}

[Answer to grade]
{answer}"""

FORMAT_REMINDER = (
    "That reply could not be read: {problem}. Reply again with your explanation followed by one rating, "
    "a whole number from 1 to 10 in double square brackets, such as [[6]]."
)

_BRACKETED = re.compile(r"\[\[(.*?)\]\]", re.DOTALL)


class MalformedRating(ValueError):
    """The judge's reply holds no usable ``[[N]]`` rating."""


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


class CorrectnessJudge:
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
        from langchain_core.output_parsers import StrOutputParser
        from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder

        prompt = ChatPromptTemplate.from_messages(
            [
                ("system", JUDGE_SYSTEM),
                ("human", JUDGE_INSTRUCTIONS),
                MessagesPlaceholder("follow_up", optional=True),
            ]
        )
        self._chain = prompt | llm | StrOutputParser()
        self.model_id = model_id
        self._max_attempts = max_attempts
        self._retry_delay = retry_delay_seconds
        self._sleep = sleep

    def grade(self, *, question: str, reference: str, answer: str) -> JudgeVerdict:
        from langchain_core.messages import AIMessage, BaseMessage, HumanMessage

        follow_up: list[BaseMessage] = []
        reply = ""
        problem = ""
        for attempt in range(1, self._max_attempts + 1):
            inputs: dict[str, Any] = {"question": question, "reference": reference, "answer": answer}
            if follow_up:
                inputs["follow_up"] = follow_up
            try:
                reply = str(self._chain.invoke(inputs))
            except Exception as error:  # a judge outage leaves the item unscored; it never fails the run
                problem = f"the judge call failed: {type(error).__name__}: {error}"
                follow_up = []
                if attempt < self._max_attempts:
                    self._sleep(self._retry_delay * 2 ** (attempt - 1))
                continue
            try:
                score = parse_rating(reply)
            except MalformedRating as malformed:
                problem = str(malformed)
                follow_up = [AIMessage(content=reply), HumanMessage(content=FORMAT_REMINDER.format(problem=problem))]
                continue
            return JudgeVerdict(score=score, reasoning=reply.strip(), attempts=attempt)
        return JudgeVerdict(score=None, reasoning=reply, attempts=self._max_attempts, error=problem)

    def grade_many(self, cases: Sequence[tuple[str, str, str]], *, concurrency: int) -> list[JudgeVerdict]:
        """Grade ``(question, reference, answer)`` cases concurrently; results keep the input order."""
        if not cases:
            return []

        def one(case: tuple[str, str, str]) -> JudgeVerdict:
            question, reference, answer = case
            return self.grade(question=question, reference=reference, answer=answer)

        with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(cases)))) as pool:
            return list(pool.map(one, cases))


def bedrock_judge(
    model_id: str, *, bedrock_runtime: Any, bedrock: Any | None = None, max_tokens: int = 1024
) -> CorrectnessJudge:
    """A judge on Bedrock through ``ChatBedrockConverse``, using our client so standard endpoint settings apply."""
    from langchain_aws import ChatBedrockConverse

    llm = ChatBedrockConverse(
        model_id=model_id,
        client=bedrock_runtime,
        bedrock_client=bedrock,
        temperature=0.0,
        max_tokens=max_tokens,
    )
    return CorrectnessJudge(llm, model_id=model_id)
