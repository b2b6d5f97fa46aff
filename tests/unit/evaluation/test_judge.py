"""The correctness judge: [[N]] with N a whole number 1..10, bounded retries, never a crash."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError
from langchain_core.language_models.fake_chat_models import FakeListChatModel, GenericFakeChatModel
from langchain_core.messages import AIMessage

from lambdas.evaluation.judge import JUDGE_INSTRUCTIONS, CorrectnessJudge, MalformedRating, parse_rating


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
