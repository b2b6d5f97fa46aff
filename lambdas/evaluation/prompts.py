"""Every prompt the LLM judges are given, in one place, under one version the evaluation report names.

Change any wording here and bump ``PROMPT_VERSION`` (date, then a counter for the day): judge scores are only
comparable between runs that used the same prompts, and the report is how a reader finds out which ones a run used.

Plain strings only, so the report function (a zip Lambda without langchain) can import ``PROMPT_VERSION``.

* Correctness (pointwise): one answer graded against the reference, explanation first, then ``[[N]]`` from 1 to 10
  (the contract of LangChain's labeled score-string evaluator).
* Preference (pairwise): two answers, labelled A and B, compared against the reference, explanation first, then
  ``[[A]]``, ``[[B]]`` or ``[[C]]`` for a tie (the contract of MT-Bench's pairwise judge with a reference answer).
  The judge is asked twice with the answers swapped; ``judge.PairwiseJudge`` reconciles the two orders.

The wording is ours; only the reply contracts are borrowed.
"""

from __future__ import annotations

PROMPT_VERSION = "2026-12-03.1"

# --- Correctness: one answer, rated 1..10 against the reference --------------------------------------------------

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

# --- Preference: two answers, A or B or a tie, against the reference ---------------------------------------------
# No "rating" in these texts: the local Bedrock emulator tells the two judges apart by their reply contracts.

PAIRWISE_SYSTEM = (
    "You are a careful, impartial examiner who compares two answers to the same question against a known "
    "correct answer and decides which one is better."
)

PAIRWISE_INSTRUCTIONS = """\
Two AI assistants answered the question below. Decide which answer is better.

What to compare: correctness first. Check each answer against the reference answer, which is known to be correct. \
The better answer conveys more of the reference's facts and states fewer things that contradict it or that it does \
not support. Helpfulness and clarity decide only between answers that are equally correct. The order in which the \
answers appear, their length and the assistants' names must not sway you; a longer answer is better only when the \
extra words are correct and useful.

How to reply: first explain your comparison in a few sentences. After the explanation, give your decision wrapped \
in double square brackets: [[A]] if answer A is better, [[B]] if answer B is better, [[C]] if neither is better \
than the other. Use the double brackets only for the decision.

[Question]
{question}

[Reference answer]
{reference}

[Answer A]
{answer_a}

[Answer B]
{answer_b}"""

PAIRWISE_FORMAT_REMINDER = (
    "That reply could not be read: {problem}. Reply again with your explanation followed by one decision in "
    "double square brackets: [[A]], [[B]] or [[C]] for a tie."
)
