"""Leakage: normalised questions, the near-duplicate rule, the index's prefix filter, and questions read from JSONL."""

from __future__ import annotations

import json
import random
import string

import pytest

from lambdas.dataset.formats import Turn, evaluation_item
from lambdas.evaluation.generation import Question
from lambdas.evaluation.leakage import (
    NEAR_DUPLICATE_THRESHOLD,
    SHORT_QUESTION_WORDS,
    LeakageIndex,
    normalise_question,
    question_of_record,
    question_text,
    questions_of_jsonl,
)
from lambdas.registry import get_model

CLAUDE = get_model("anthropic.claude-3-haiku-20240307-v1:0:200k")
NOVA = get_model("amazon.nova-lite-v1:0:300k")
LLAMA31 = get_model("meta.llama3-1-8b-instruct-v1:0:128k")
FULL_WIDTH_QUESTION = "What is Bedrock?".translate({code: code + 0xFEE0 for code in range(0x21, 0x7F)})


@pytest.mark.parametrize(
    ("text", "normalised"),
    [
        ("What is  Bedrock?", "what is bedrock"),
        ("  WHAT is\tBedrock ?!\n", "what is bedrock"),
        (FULL_WIDTH_QUESTION, "what is bedrock"),  # full-width forms (NFKC)
        ("Is “ﬁne-tuning” worth it…", "is fine tuning worth it"),  # curly quotes, ligature, ellipsis
        ("word,word;word", "word word word"),  # punctuation separates words rather than joining them
        ("zero\u200bwidth soft\u00adhyphen", "zerowidth softhyphen"),  # format characters vanish
        ("Use `ls` 😀 ©", "use ls"),  # modifier and other symbols
        ("STRASSE Straße", "strasse strasse"),  # casefold, not lower()
        ("???", ""),
    ],
)
def test_normalise_question(text, normalised):
    assert normalise_question(text) == normalised


def test_maths_and_currency_symbols_keep_questions_apart():
    assert normalise_question("What is 2+2?") != normalise_question("What is 2-2?")
    assert normalise_question("Is $5 enough?") != normalise_question("Is €5 enough?")


def index_of(*questions: str, split: str = "train") -> LeakageIndex:
    return LeakageIndex((split, question) for question in questions)


def test_an_exact_repeat_after_normalising_is_found():
    # Given a training question
    index = index_of("What is Amazon Bedrock?")
    # When a test question differs only in case, spacing and punctuation
    leaked = index.find("what is   AMAZON bedrock", index=7)
    # Then it is an exact match, reported with the training question as written
    assert leaked is not None
    assert (leaked.index, leaked.kind, leaked.similarity, leaked.split) == (7, "exact", 1.0, "train")
    assert leaked.matched == "What is Amazon Bedrock?"


@pytest.mark.parametrize(
    ("trained", "asked", "similarity"),
    [
        # one word swapped in a 10-word question: 9 shared of 11
        (
            "How do I create a fine-tuning job in Bedrock?",
            "How can I create a fine-tuning job in Bedrock?",
            0.8182,
        ),
        # one word added to a 6-word question: 6 of 7
        ("Which regions support Bedrock fine-tuning?", "Which AWS regions support Bedrock fine-tuning?", 0.8571),
        # the same words in another order
        (
            "Does Bedrock support fine-tuning for Llama models?",
            "For Llama models, does Bedrock support fine-tuning?",
            1.0,
        ),
    ],
)
def test_a_rewording_that_keeps_most_words_is_a_near_duplicate(trained, asked, similarity):
    leaked = index_of(trained, split="validation").find(asked, index=0)
    assert leaked is not None
    assert (leaked.kind, leaked.similarity, leaked.split, leaked.matched) == ("near", similarity, "validation", trained)
    assert leaked.similarity >= NEAR_DUPLICATE_THRESHOLD


@pytest.mark.parametrize(
    ("trained", "asked"),
    [
        # same topic, another question: 5 shared of 7 words
        ("What is the capital of France?", "What is the capital of Germany?"),
        # 9 shared of 11 words, but another number: another question with another answer
        (
            "What was the total revenue of Amazon in fiscal year 2021?",
            "What was the total revenue of Amazon in fiscal year 2022?",
        ),
        # a different question on the same subject
        ("How do I create a fine-tuning job in Bedrock?", "How much does a fine-tuning job in Bedrock cost?"),
        # two instances of one template: 9 shared of 11 words, but a name swapped for another (another answer)
        (
            "Which port does the billing service of generation one listen on?",
            "Which port does the search service of generation one listen on?",
        ),
    ],
)
def test_a_different_question_on_the_same_topic_is_not_a_duplicate(trained, asked):
    assert index_of(trained).find(asked, index=0) is None


@pytest.mark.parametrize(
    ("trained", "asked", "kind"),
    [
        ("What is Bedrock?", "What is SageMaker?", None),  # 2 of 4 words
        ("What is Amazon Bedrock?", "What is Amazon Bedrock pricing?", None),  # 4 of 5 reaches 0.8; short: no
        ("Amazon Bedrock pricing", "pricing: Amazon Bedrock", "near"),  # the same words, reordered
        ("Bedrock?", "bedrock", "exact"),
    ],
)
def test_short_questions_match_only_with_the_same_words(trained, asked, kind):
    assert len(normalise_question(trained).split()) < SHORT_QUESTION_WORDS
    leaked = index_of(trained).find(asked, index=0)
    assert (leaked.kind if leaked else None) == kind


def test_a_training_match_is_preferred_to_an_equal_validation_match():
    index = LeakageIndex([("validation", "What is Bedrock?"), ("train", "what is bedrock")])
    leaked = index.find("What is Bedrock", index=0)
    assert leaked is not None
    assert (leaked.split, leaked.matched) == ("train", "what is bedrock")


def test_the_best_near_match_is_reported():
    # Given two training questions that the test question nearly repeats: 11 of 12 words, and 12 of 13
    near = "How do I create a fine-tuning job in Amazon Bedrock?"
    closer = "How do I create a new fine-tuning job in Amazon Bedrock today?"
    index = index_of(near, closer)
    leaked = index.find("How do I create a new fine-tuning job in Amazon Bedrock?", index=0)
    assert leaked is not None
    assert (leaked.matched, leaked.similarity) == (closer, 0.9231)


def test_texts_are_cut_to_200_characters():
    long_question = "Explain " + "very " * 100 + "carefully."
    leaked = index_of(long_question).find(long_question.upper(), index=3)
    assert leaked is not None
    assert leaked.matched == long_question[:200]
    assert leaked.question == long_question.upper()[:200]


def test_questions_without_words_never_match():
    index = index_of("???", "...")
    assert len(index) == 0
    assert index.find("?!", index=0) is None


def test_only_training_and_validation_questions_are_indexed():
    with pytest.raises(ValueError, match="not 'test'"):
        LeakageIndex([("test", "What is Bedrock?")])


def _reference_similarity(asked: str, trained: str) -> float | None:
    """The rule written plainly, as an oracle for the index: every pair compared."""
    a, b = set(normalise_question(asked).split()), set(normalise_question(trained).split())
    if not a or not b:
        return None
    if {w for w in a if any(c.isdigit() for c in w)} != {w for w in b if any(c.isdigit() for c in w)}:
        return None
    similarity = len(a & b) / len(a | b)
    if min(len(a), len(b)) < SHORT_QUESTION_WORDS:
        return similarity if similarity == 1.0 else None
    return similarity if similarity >= NEAR_DUPLICATE_THRESHOLD else None


def test_prefix_filtering_finds_what_comparing_every_pair_finds():
    # Given questions over a tiny vocabulary, so that many pairs are near duplicates of each other
    rng = random.Random(7)
    vocabulary = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa", "1", "2"]
    base = [" ".join(rng.choices(vocabulary, k=rng.randint(2, 12))) for _ in range(150)]
    trained = base[:100]
    asked = [" ".join(question.split() + rng.choices(vocabulary, k=rng.randint(0, 1))) for question in base[50:]] + [
        " ".join(rng.choices(vocabulary, k=rng.randint(2, 12))) for _ in range(100)
    ]
    index = index_of(*trained)
    found = 0
    for number, question in enumerate(asked):
        # When each question is looked up
        leaked = index.find(question, index=number)
        # Then the index finds a match exactly when some pair qualifies, and the best one
        scores = [s for s in (_reference_similarity(question, t) for t in trained) if s is not None]
        assert (leaked is None) == (not scores), question
        if leaked is not None:
            found += 1
            assert leaked.similarity == round(max(scores), 4)
    assert found > 50


def test_five_thousand_test_questions_against_twenty_thousand_training_questions():
    # Given 20,000 training questions of 6-14 words drawn from 5,000 words (no digits, so the number rule is idle)
    rng = random.Random(11)
    vocabulary = list({"".join(rng.choices(string.ascii_lowercase, k=rng.randint(3, 9))) for _ in range(5_000)})
    trained = [" ".join(rng.sample(vocabulary, rng.randint(6, 14))) + "?" for _ in range(20_000)]
    # and 5,000 test questions: 100 repeated exactly, 100 with one word added, the rest new
    asked = [question.upper() for question in trained[:100]]
    asked += [question.rstrip("?") + " please?" for question in trained[100:200]]
    asked += [" ".join(rng.sample(vocabulary, rng.randint(6, 14))) + "?" for _ in range(4_800)]
    index = index_of(*trained)
    # When every test question is looked up
    found = [index.find(question, index=number) for number, question in enumerate(asked)]
    # Then the planted repeats are found, each with its training question, and nothing else
    assert [leaked.kind if leaked else None for leaked in found[:200]] == ["exact"] * 100 + ["near"] * 100
    assert [leaked.matched for leaked in found[:200] if leaked] == trained[:200]
    assert sum(leaked is not None for leaked in found[200:]) == 0


def test_question_text_is_what_evaluation_asks():
    turns = [
        (Turn(role="user", text="What is Bedrock?"),),
        (
            Turn(role="user", text="Hi"),
            Turn(role="assistant", text="Hello."),
            Turn(role="user", text="What is Bedrock?"),
        ),
    ]
    for prompt in turns:
        assert question_text(prompt) == Question(index=0, system=None, turns=prompt, reference="").text


def _claude(question: str, answer: str = "A.") -> str:
    return json.dumps({"messages": [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]})


def test_questions_of_jsonl_reads_each_format_and_skips_what_it_cannot_read():
    # Given Claude records: a plain one, a multi-turn one, then lines that hold no question
    multi_turn = {
        "system": "Be brief.",
        "messages": [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello."},
            {"role": "user", "content": "What is Bedrock?"},
            {"role": "assistant", "content": "A service."},
        ],
    }
    lines = [
        "\ufeff" + _claude("What is a token?"),
        json.dumps(multi_turn) + "\r\n",
        "",
        "not json",
        '"a string"',
        json.dumps({"messages": [{"role": "user", "content": "no answer"}]}),
        json.dumps({"messages": [{"role": "robot", "content": "x"}, {"role": "assistant", "content": "y"}]}),
    ]
    # When the questions are read
    questions = list(questions_of_jsonl(lines, CLAUDE))
    # Then they are the texts evaluation would ask
    assert questions == [
        "What is a token?",
        "User: Hi\n\nAssistant: Hello.\n\nUser: What is Bedrock?",
    ]
    assert questions[1] == Question.from_item(0, evaluation_item(multi_turn, CLAUDE)).text


@pytest.mark.parametrize(
    ("spec", "record"),
    [
        (
            NOVA,
            {
                "schemaVersion": "bedrock-conversation-2024",
                "messages": [
                    {"role": "user", "content": [{"text": "What is Nova?"}]},
                    {"role": "assistant", "content": [{"text": "A model."}]},
                ],
            },
        ),
        (LLAMA31, {"prompt": "What is Nova?", "completion": "A model."}),
    ],
    ids=["converse", "prompt-completion"],
)
def test_questions_of_jsonl_reads_bytes_in_other_formats(spec, record):
    line = b"\xef\xbb\xbf" + json.dumps(record).encode() + b"\n"
    assert list(questions_of_jsonl([line], spec)) == ["What is Nova?"]
    assert question_of_record(record, spec) == "What is Nova?"
    assert question_of_record(["not", "a", "record"], spec) is None
