"""The judges: correctness as [[N]] with N a whole number 1..10, preference as [[A]]/[[B]]/[[C]] asked in both
orders; bounded retries, no pointless waits on errors that will not heal, never a crash."""

from __future__ import annotations

import re
import time

import pytest
from botocore.exceptions import ClientError
from langchain_core.language_models.fake_chat_models import FakeListChatModel, GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.outputs import ChatGeneration, ChatResult

from lambdas.evaluation.judge import (
    CorrectnessJudge,
    MalformedChoice,
    MalformedRating,
    PairwiseJudge,
    non_retryable,
    parse_choice,
    parse_rating,
)
from lambdas.evaluation.prompts import JUDGE_INSTRUCTIONS, PAIRWISE_INSTRUCTIONS, PAIRWISE_SYSTEM, PROMPT_VERSION
from lambdas.evaluation.results import Preference


def judge_with(*replies: str, max_attempts: int = 3) -> CorrectnessJudge:
    llm = FakeListChatModel(responses=list(replies))
    return CorrectnessJudge(llm, model_id="judge-model", max_attempts=max_attempts, sleep=lambda _: None)


def grade(judge: CorrectnessJudge):
    return judge.grade(question="What is S3?", reference="Object storage.", answer="A storage service.")


def test_a_good_reply_is_scored_and_its_reasoning_kept():
    judge = judge_with("The answer matches the reference in substance.\nRating: [[8]]")
    verdict = grade(judge)
    assert verdict.score == 8
    assert verdict.attempts == 1
    assert verdict.reasoning.startswith("The answer matches the reference")
    assert verdict.error is None


@pytest.mark.parametrize(
    ("bad_reply", "problem"),
    [
        ("Good answer. Rating: [[11]]", "outside 1..10"),
        ("Good answer. Rating: [[0]]", "outside 1..10"),
        ("Mostly right. Rating: [[7.5]]", "not a whole number"),
        ("I would say it is fine.", "no rating"),
        ("%$#@ [[seven]]", "not a whole number"),
    ],
    ids=["above-range", "below-range", "non-integer", "garbage", "word"],
)
def test_a_malformed_reply_is_retried_then_scored(bad_reply, problem):
    # Given a judge whose first reply is malformed and whose second is good
    judge = judge_with(bad_reply, "Corrected. Rating: [[6]]")
    # When grading
    verdict = grade(judge)
    # Then the second reply counts
    assert verdict.score == 6
    assert verdict.attempts == 2
    with pytest.raises(MalformedRating, match=problem):
        parse_rating(bad_reply)


def test_a_judge_that_never_complies_leaves_the_item_unscored_with_its_raw_reply():
    judge = judge_with("[[11]]", "[[ten]]", "no idea", max_attempts=3)
    verdict = grade(judge)
    assert verdict.score is None
    assert verdict.attempts == 3
    assert verdict.reasoning == "no idea"
    assert verdict.error == "it has no rating in double square brackets"


def test_the_retry_reminds_the_judge_of_the_format_after_its_own_reply():
    # Given a chat model that records what it was sent
    sent = []

    class RecordingModel(GenericFakeChatModel):
        def _generate(self, messages, stop=None, run_manager=None, **kwargs):
            sent.append(messages)
            return super()._generate(messages, stop=stop, run_manager=run_manager, **kwargs)

    llm = RecordingModel(messages=iter([AIMessage(content="[[12]]"), AIMessage(content="ok [[9]]")]))
    judge = CorrectnessJudge(llm, model_id="m", sleep=lambda _: None)
    # When grading
    verdict = grade(judge)
    # Then the first call held the question, the reference and the answer; the second added the correction
    assert verdict.score == 9
    first, second = sent
    assert "What is S3?" in first[1].content
    assert "Object storage." in first[1].content
    assert "A storage service." in first[1].content
    assert [message.type for message in second] == ["system", "human", "ai", "human"]
    assert "outside 1..10" in second[3].content


def test_a_failing_judge_call_is_retried_and_never_raises():
    class Down(GenericFakeChatModel):
        def _generate(self, messages, stop=None, run_manager=None, **kwargs):
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "Converse")

    waits = []
    judge = CorrectnessJudge(Down(messages=iter([])), model_id="m", max_attempts=3, sleep=waits.append)
    verdict = grade(judge)
    assert verdict.score is None
    assert "ThrottlingException" in (verdict.error or "")
    assert waits == [2.0, 4.0]


def test_the_last_bracketed_rating_counts():
    assert parse_rating('Format is "[[rating]]". My verdict: [[4]]') == 4


def test_grade_many_keeps_order():
    judge = judge_with("[[1]]", "[[2]]", "[[3]]")
    verdicts = judge.grade_many([("q", "r", "a")] * 3, concurrency=1)
    assert [v.score for v in verdicts] == [1, 2, 3]


def test_the_prompt_is_our_own_wording_of_the_contract():
    # Same contract as LangChain's labeled score-string evaluator: explanation first, then [[N]] from 1 to 10
    assert "[[6]]" in JUDGE_INSTRUCTIONS
    assert "1 (entirely wrong) to 10 (fully correct)" in JUDGE_INSTRUCTIONS
    assert "Please act as an impartial judge" not in JUDGE_INSTRUCTIONS


# --- failures that will not heal ---------------------------------------------------------------------------------


def _client_error(code: str, message: str) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, "Converse")


class FailingModel(GenericFakeChatModel):
    """A chat model whose every call raises the given error, counting the calls."""

    error: Exception
    calls: int = 0

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        self.calls += 1
        raise self.error


ACCESS_DENIED = _client_error("AccessDeniedException", "not authorized to perform bedrock:InvokeModel")
NEEDS_PROFILE = _client_error(
    "ValidationException",
    "Invocation of model ID anthropic.claude-3-5-sonnet with on-demand throughput isn't supported. Retry your "
    "request with the ID or ARN of an inference profile that contains this model.",
)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (ACCESS_DENIED, True),
        (NEEDS_PROFILE, True),
        (_client_error("ResourceNotFoundException", "model not found"), True),
        (_client_error("ThrottlingException", "slow down"), False),
        (_client_error("ValidationException", "messages: final message must be from the user"), False),
        (_client_error("ModelTimeoutException", "took too long"), False),
        (ValueError("Original error: An error occurred (AccessDeniedException) when calling Converse"), True),
        (TimeoutError("read timed out"), False),
    ],
    ids=["access", "needs-profile", "not-found", "throttled", "bad-request", "timeout", "text", "network"],
)
def test_only_errors_that_waiting_cannot_fix_are_non_retryable(error, expected):
    assert non_retryable(error) is expected


def test_a_wrapped_client_error_is_judged_by_its_code():
    # Given LangChain re-raising an access error as a ValueError from the ClientError (as it does for InvokeTool)
    wrapped = ValueError("System tools require a permission")
    wrapped.__cause__ = ACCESS_DENIED
    # Then the code of the error underneath decides, whatever the text says
    assert non_retryable(wrapped)
    throttled = ValueError("AccessDeniedException mentioned, but not the cause")
    throttled.__cause__ = _client_error("ThrottlingException", "slow down")
    assert not non_retryable(throttled)


@pytest.mark.parametrize("error", [ACCESS_DENIED, NEEDS_PROFILE], ids=["access", "needs-profile"])
def test_the_correctness_judge_does_not_wait_out_retries_on_an_error_that_will_not_heal(error):
    # Given a judge model this role may not call
    llm = FailingModel(messages=iter([]), error=error)
    waits = []
    judge = CorrectnessJudge(llm, model_id="m", max_attempts=3, sleep=waits.append)
    # When grading
    verdict = grade(judge)
    # Then one call, no pause, and the item is unscored with the service's reason
    assert verdict.score is None
    assert verdict.attempts == 1
    assert llm.calls == 1
    assert waits == []
    assert (verdict.error or "").startswith(
        f"the judge call failed: ClientError: An error occurred ({error.response['Error']['Code']})"
    )
    assert "not retried" in (verdict.error or "")


# --- the pairwise judge --------------------------------------------------------------------------------------------

QUESTION, REFERENCE = "What is S3?", "Object storage for any amount of data."
FINE_TUNED, BASE = "S3 stores objects, any amount of data.", "It depends on your configuration."


def pairwise_with(*replies: str, max_attempts: int = 3) -> PairwiseJudge:
    return PairwiseJudge(
        FakeListChatModel(responses=list(replies)),
        model_id="judge-model",
        max_attempts=max_attempts,
        sleep=lambda _: None,
    )


def compare(judge: PairwiseJudge):
    return judge.compare(question=QUESTION, reference=REFERENCE, fine_tuned=FINE_TUNED, base=BASE)


@pytest.mark.parametrize(
    ("fine_tuned_first", "base_first", "preference", "consistent"),
    [
        ("A", "B", Preference.FINE_TUNED, True),
        ("B", "A", Preference.BASE, True),
        ("C", "C", Preference.TIE, True),
        ("A", "A", Preference.TIE, False),  # position bias: whichever answer came first
        ("B", "B", Preference.TIE, False),  # the opposite bias
        ("A", "C", Preference.TIE, False),
        ("C", "A", Preference.TIE, False),
    ],
    ids=["fine-tuned", "base", "tie", "first-wins", "second-wins", "half-fine-tuned", "half-base"],
)
def test_the_two_orders_are_reconciled_by_role(fine_tuned_first, base_first, preference, consistent):
    # Given a judge that decides fine_tuned_first with A = fine-tuned, then base_first with A = base
    judge = pairwise_with(f"First look. [[{fine_tuned_first}]]", f"Second look. [[{base_first}]]")
    # When comparing
    verdict = compare(judge)
    # Then a role counts only when both orders name it; any disagreement is a tie
    assert verdict.preference is preference
    assert verdict.consistent is consistent
    assert verdict.attempts == 2
    assert verdict.error is None
    letters = {"A": Preference.FINE_TUNED, "B": Preference.BASE, "C": Preference.TIE}
    assert verdict.fine_tuned_first is letters[fine_tuned_first]
    assert verdict.base_first is {"A": Preference.BASE, "B": Preference.FINE_TUNED, "C": Preference.TIE}[base_first]


def test_the_reasoning_keeps_both_explanations_labelled_by_order():
    judge = pairwise_with("The first is right. [[A]]", "The second is right. [[B]]")
    verdict = compare(judge)
    first, second = verdict.reasoning.split("\n\n")
    assert first == "[fine-tuned first (A = fine-tuned, B = base)] The first is right. [[A]]"
    assert second == "[base first (A = base, B = fine-tuned)] The second is right. [[B]]"


def test_a_long_explanation_is_cut_short():
    judge = pairwise_with("word " * 1000 + "[[A]]", "[[B]]")
    verdict = compare(judge)
    assert len(verdict.reasoning) < 1000
    assert verdict.preference is Preference.FINE_TUNED


@pytest.mark.parametrize(
    ("bad_reply", "problem"),
    [
        ("Both fine. [[D]]", "is not A, B or C"),
        ("Answer A is better.", "no decision"),
        ("Score: [[7]]", "is not A, B or C"),
    ],
    ids=["other-letter", "no-brackets", "a-rating"],
)
def test_a_malformed_decision_is_retried_with_a_reminder(bad_reply, problem):
    # Given a chat model that records what it was sent, whose first reply is malformed
    sent = []

    class RecordingModel(GenericFakeChatModel):
        def _generate(self, messages, stop=None, run_manager=None, **kwargs):
            sent.append(messages)
            return super()._generate(messages, stop=stop, run_manager=run_manager, **kwargs)

    replies = [AIMessage(content=bad_reply), AIMessage(content="Now: [[a]]"), AIMessage(content="[[B]]")]
    judge = PairwiseJudge(RecordingModel(messages=iter(replies)), model_id="m", sleep=lambda _: None)
    # When comparing
    verdict = compare(judge)
    # Then the first order was asked again after its own reply and the reminder, and the decisions count
    assert verdict.preference is Preference.FINE_TUNED
    assert verdict.attempts == 3
    retry = sent[1]
    assert [message.type for message in retry] == ["system", "human", "ai", "human"]
    assert retry[2].content == bad_reply
    assert problem in retry[3].content
    assert "[[A]], [[B]] or [[C]]" in retry[3].content
    with pytest.raises(MalformedChoice, match=problem):
        parse_choice(bad_reply)


def test_an_order_that_never_complies_leaves_the_item_unscored_and_keeps_the_other_order():
    # Given a judge that decides the first order but never the second
    judge = pairwise_with("[[A]]", "no idea", "still none", "[[maybe]]", max_attempts=3)
    # When comparing
    verdict = compare(judge)
    # Then the item is unscored, says which order failed and why, and keeps what the first order said
    assert verdict.preference is None
    assert verdict.consistent is None
    assert verdict.fine_tuned_first is Preference.FINE_TUNED
    assert verdict.base_first is None
    assert verdict.attempts == 4
    assert verdict.error == "base first (A = base, B = fine-tuned): the decision [[maybe]] is not A, B or C"


def test_an_outage_is_retried_with_pauses_and_never_raises():
    # Given a judge model that is throttled on every call
    llm = FailingModel(messages=iter([]), error=_client_error("ThrottlingException", "slow down"))
    waits = []
    judge = PairwiseJudge(llm, model_id="m", max_attempts=3, sleep=waits.append)
    # When comparing
    verdict = compare(judge)
    # Then both orders were tried three times with growing pauses, and the item is unscored with the error
    assert verdict.preference is None
    assert verdict.fine_tuned_first is None
    assert verdict.base_first is None
    assert verdict.attempts == 6
    assert waits == [2.0, 4.0, 2.0, 4.0]
    assert "the judge call failed: ClientError" in (verdict.error or "")
    assert "ThrottlingException" in (verdict.error or "")


def test_an_access_error_stops_the_item_at_once():
    # Given a judge model this role may not call
    llm = FailingModel(messages=iter([]), error=ACCESS_DENIED)
    waits = []
    judge = PairwiseJudge(llm, model_id="m", max_attempts=3, sleep=waits.append)
    # When comparing
    verdict = compare(judge)
    # Then one call, no pause, no second order, and the item is unscored with the service's reason
    assert llm.calls == 1
    assert waits == []
    assert verdict.preference is None
    assert verdict.attempts == 1
    assert "AccessDeniedException" in (verdict.error or "")
    assert (verdict.error or "").startswith("fine-tuned first (A = fine-tuned, B = base): the judge call failed:")


def test_the_prompt_shows_the_question_the_reference_and_both_answers_in_each_order():
    # Given a chat model that records what it was sent
    sent = []

    class RecordingModel(GenericFakeChatModel):
        def _generate(self, messages, stop=None, run_manager=None, **kwargs):
            sent.append((messages, dict(run_manager.metadata)))
            return super()._generate(messages, stop=stop, run_manager=run_manager, **kwargs)

    llm = RecordingModel(messages=iter([AIMessage(content="[[A]]"), AIMessage(content="[[B]]")]))
    judge = PairwiseJudge(llm, model_id="m", sleep=lambda _: None)
    # When comparing
    compare(judge)
    # Then both calls hold the question, the reference and both answers; the fine-tuned answer is A first, B second
    (first, first_metadata), (second, second_metadata) = sent
    assert first[0].content == PAIRWISE_SYSTEM
    for messages, a, b in ((first, FINE_TUNED, BASE), (second, BASE, FINE_TUNED)):
        text = messages[1].content
        assert QUESTION in text
        assert REFERENCE in text
        assert text.index("[Answer A]") < text.index(a) < text.index("[Answer B]") < text.index(b)
    # And every call names the prompt version, as the report does
    assert first_metadata["prompt_version"] == second_metadata["prompt_version"] == PROMPT_VERSION


def test_both_judges_name_the_prompt_version():
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}\.\d+", PROMPT_VERSION)
    assert pairwise_with("[[A]]").prompt_version == PROMPT_VERSION
    assert judge_with("[[1]]").prompt_version == PROMPT_VERSION


def test_the_pairwise_prompt_is_our_own_wording_of_the_contract():
    # Same contract as MT-Bench's pairwise judge with a reference: explanation first, then [[A]], [[B]] or [[C]]
    for decision in ("[[A]]", "[[B]]", "[[C]]"):
        assert decision in PAIRWISE_INSTRUCTIONS
    assert "{reference}" in PAIRWISE_INSTRUCTIONS
    assert "Please act as an impartial judge" not in PAIRWISE_INSTRUCTIONS
    assert "rating" not in PAIRWISE_INSTRUCTIONS.lower()  # so no one mistakes it for the correctness prompt


def test_compare_many_keeps_order_under_concurrency():
    # Given a judge that prefers whichever answer says "right", slower for the earlier cases
    class Picky(GenericFakeChatModel):
        def _generate(self, messages, stop=None, run_manager=None, **kwargs):
            text = messages[1].content
            answer_a = text.split("[Answer A]")[1].split("[Answer B]")[0]
            delay = int(re.search(r"question (\d+)", text).group(1))
            time.sleep(0.01 * (5 - delay))
            reply = "[[A]]" if "right" in answer_a else "[[B]]"
            return ChatResult(generations=[ChatGeneration(message=AIMessage(content=reply))])

    cases = [(f"question {i}", "ref", "right" if i % 2 else "wrong", "wrong" if i % 2 else "right") for i in range(5)]
    judge = PairwiseJudge(Picky(messages=iter([])), model_id="m", sleep=lambda _: None)
    # When comparing them four at a time
    verdicts = judge.compare_many(cases, concurrency=4)
    # Then the verdicts line up with the cases
    assert [verdict.preference for verdict in verdicts] == [
        Preference.BASE,
        Preference.FINE_TUNED,
        Preference.BASE,
        Preference.FINE_TUNED,
        Preference.BASE,
    ]
    assert all(verdict.consistent for verdict in verdicts)
    assert judge.compare_many([], concurrency=4) == []
