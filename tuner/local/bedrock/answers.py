"""How the emulated models answer. Nothing here is a language model; every reply says it is emulated.

* The fine-tuned model answers with the training answer whose question overlaps the asked question most (tokens),
  which is what a model that memorised its training split would say, when it was trained well; trained too little
  it answers some questions like the base model, trained too much it recites another training answer for some
  questions it never saw (``training_model`` has the formulas).
* A base model answers generically, politely and without specifics.
* A judge (any model asked for a ``[[rating]]``) replies in the judge's real format, ``... Rating: [[N]]``, with N
  from the token overlap between the answer under review and the reference answer.
* A pairwise judge (asked to decide ``[[A]]`` or ``[[B]]`` between two answers under their own headers) replies in
  that judge's real format, ``... Decision: [[A]]``, ``[[B]]`` or ``[[C]]`` (a tie): it prefers the answer with the
  clearly higher token overlap with the reference. Like real judges it has a position bias, emulated and
  deterministic: when the higher overlap is only a little higher (a narrow band just above the tie margin) it picks
  whichever answer it read first, A. Asked in both orders, such a question gets two different decisions, so a
  rehearsal shows a position-consistency rate below 100% on data where the two answers are close.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from tuner.local.bedrock.training_model import TrainedModel, draw

_TOKEN = re.compile(r"[0-9a-z]+|[^\x00-\x7f]", re.IGNORECASE)
_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "can",
        "do",
        "does",
        "for",
        "from",
        "how",
        "i",
        "in",
        "is",
        "it",
        "of",
        "on",
        "or",
        "that",
        "the",
        "this",
        "to",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "you",
        "your",
    ]
)

# A tie below this overlap difference; picks A (whatever the difference's sign) up to the margin plus the band.
PAIRWISE_TIE_MARGIN = 0.05
PAIRWISE_POSITION_BIAS_BAND = 0.03

_JUDGE_REQUEST = re.compile(r"rating.*\[\[|\[\[.*rating", re.IGNORECASE | re.DOTALL)
_SECTION_HEADER = re.compile(r"(?<!\[)\[(?P<name>[^\[\]\n]{2,60})\][ \t]*(?:\n|$)")


def tokens(text: str) -> list[str]:
    return [token.lower() for token in _TOKEN.findall(text) if token.lower() not in _STOPWORDS]


def overlap_f1(candidate: str, reference: str) -> float:
    """Token-overlap F1 (bag of words): 1.0 for the same words, 0.0 for nothing in common."""
    produced, expected = tokens(candidate), tokens(reference)
    if not produced or not expected:
        return 0.0
    remaining = list(expected)
    common = 0
    for token in produced:
        if token in remaining:
            remaining.remove(token)
            common += 1
    if common == 0:
        return 0.0
    precision, recall = common / len(produced), common / len(expected)
    return 2 * precision * recall / (precision + recall)


@dataclass(frozen=True)
class TrainingPair:
    question: str
    answer: str


def training_pairs(jsonl: str) -> list[TrainingPair]:
    """Read question/answer pairs from a training JSONL in any supported format (messages or prompt/completion)."""
    pairs: list[TrainingPair] = []
    for line in jsonl.splitlines():
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if not isinstance(record, dict):
            continue
        if isinstance(record.get("prompt"), str) and isinstance(record.get("completion"), str):
            pairs.append(TrainingPair(record["prompt"], record["completion"]))
            continue
        messages = record.get("messages")
        if not isinstance(messages, list):
            continue
        users = [_text(message) for message in messages if isinstance(message, dict) and message.get("role") == "user"]
        answers = [
            _text(message) for message in messages if isinstance(message, dict) and message.get("role") == "assistant"
        ]
        if users and answers:
            pairs.append(TrainingPair(users[-1], answers[-1]))
    return pairs


def _text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            block["text"] for block in content if isinstance(block, dict) and isinstance(block.get("text"), str)
        )
    return ""


def prompt_text(messages: Iterable[dict[str, Any]]) -> str:
    """The text of the last user message of a Converse request."""
    last = ""
    for message in messages:
        if message.get("role") == "user":
            last = _text(message)
    return last


def _stem(token: str) -> str:
    for suffix in ("ing", "ed", "es", "s"):
        if len(token) > len(suffix) + 3 and token.endswith(suffix):
            return token[: -len(suffix)]
    return token


def _terms(text: str) -> Counter[str]:
    return Counter(_stem(token) for token in tokens(text))


def fine_tuned_answer(question: str, pairs: list[TrainingPair], model: TrainedModel | None = None) -> str:
    """What the fine-tuned ``model`` answers (``training_model`` has the rules; None: a model trained well, which
    always gives the nearest training answer): the nearest training answer, the base model's answer (not learned
    yet), or another training answer recited for a question it never saw (overfit)."""
    if not pairs:
        return "I was fine-tuned on no examples, so I cannot answer that."
    nearest = _nearest_pair(question, pairs)
    if model is None:
        return pairs[nearest].answer
    asked = " ".join(tokens(question))
    kind = model.answer_kind(question, asked_in_training=any(" ".join(tokens(p.question)) == asked for p in pairs))
    if kind == "base":
        return base_answer(question)
    if kind == "memorised" and len(pairs) > 1:
        # Another pair, fixed by the question: skipping the nearest one, each other pair equally likely.
        other = int(draw(model.key, f"memorised|{question}") * (len(pairs) - 1))
        return pairs[other + (other >= nearest)].answer
    return pairs[nearest].answer


def _nearest_pair(question: str, pairs: list[TrainingPair]) -> int:
    """The index of the training pair closest to the question: TF-IDF cosine over each pair's question + answer,
    which is what a model that memorised its training split (and nothing else) would reach for."""
    documents = [_terms(f"{pair.question} {pair.question} {pair.answer}") for pair in pairs]
    frequency: Counter[str] = Counter(term for document in documents for term in document)
    idf = {term: math.log((1 + len(documents)) / (1 + count)) + 1 for term, count in frequency.items()}
    query = _terms(question)

    def similarity(document: Counter[str]) -> float:
        dot = sum(query[term] * document[term] * idf.get(term, 0.0) ** 2 for term in query)
        norm = math.sqrt(sum((count * idf[term]) ** 2 for term, count in document.items()))
        return dot / norm if norm else 0.0

    return max(range(len(pairs)), key=lambda index: similarity(documents[index]))


def base_answer(question: str) -> str:
    subject = " ".join(question.split()[:12]).rstrip("?.!")
    return (
        f"Thank you for your question about {subject!r}. In general, the answer depends on your configuration and "
        "use case. I recommend consulting the official documentation or contacting support for specific details."
    )


def is_judge_prompt(text: str) -> bool:
    """A judge is asked to put a rating in double square brackets (LangChain's ``[[rating]]`` or ``[[6]]``).

    A pairwise prompt is not one, even when a question or an answer in it talks about ratings.
    """
    return bool(_JUDGE_REQUEST.search(text)) and not is_pairwise_prompt(text)


def is_pairwise_prompt(text: str) -> bool:
    """A pairwise judge is asked for ``[[A]]`` or ``[[B]]`` and shown two answers under their own headers.

    Both the decision format and the two answer blocks must be there: a single answer that happens to quote
    ``[[A]]`` is not a pairwise prompt.
    """
    if "[[A]]" not in text or "[[B]]" not in text:
        return False
    sections = prompt_sections(text)
    return _labelled_answer(sections, "a") is not None and _labelled_answer(sections, "b") is not None


def prompt_sections(prompt: str) -> dict[str, str]:
    """``[Header]`` blocks of a judge prompt, by lower-cased header (``[The End of ...]`` closes a block)."""
    sections: dict[str, str] = {}
    headers = list(_SECTION_HEADER.finditer(prompt))
    for index, header in enumerate(headers):
        end = headers[index + 1].start() if index + 1 < len(headers) else len(prompt)
        sections[header.group("name").strip().lower()] = prompt[header.end() : end].strip()
    return sections


def _section(sections: dict[str, str], *names: str) -> str | None:
    """The first section whose header contains a name, trying the names in order of preference."""
    for name in names:
        for header, text in sections.items():
            if name in header:
                return text
    return None


def judge_reply(prompt: str) -> tuple[str, int]:
    """The judge's explanation and rating; N = 1 + 9 x token overlap(answer, reference), rounded."""
    sections = prompt_sections(prompt)
    answer = _section(sections, "answer to grade", "start of assistant's answer", "assistant's answer") or ""
    reference = _section(sections, "reference", "ground truth")
    expected = reference if reference is not None else (_section(sections, "question") or "")
    # LangChain's own template ends the reference block with "Begin your evaluation ..." instructions.
    expected = expected.split("\nBegin your evaluation", 1)[0]
    score = overlap_f1(answer, expected)
    rating = max(1, min(10, round(1 + 9 * score)))
    explanation = (
        f"Emulated judge: the answer shares {score:.0%} of its key terms with the "
        f"{'reference answer' if reference is not None else 'question'}."
    )
    return f"{explanation}\n\nRating: [[{rating}]]", rating


def _labelled_answer(sections: dict[str, str], letter: str) -> str | None:
    """The answer shown as ``letter``: ours is ``[Answer A]``, MT-Bench's ``[The Start of Assistant A's Answer]``."""
    for header, text in sections.items():
        if header == f"answer {letter}" or (
            f"assistant {letter}'s answer" in header and not header.startswith("the end of")
        ):
            return text
    return None


def pairwise_reply(prompt: str) -> tuple[str, str]:
    """The pairwise judge's explanation and decision (A, B or C), from each answer's token overlap with the reference.

    A gap within ``PAIRWISE_TIE_MARGIN`` is a tie; a gap up to the margin plus ``PAIRWISE_POSITION_BIAS_BAND`` goes
    to A whichever answer is higher (the emulated position bias); a wider gap goes to the higher answer.
    """
    sections = prompt_sections(prompt)
    answer_a = _labelled_answer(sections, "a") or ""
    answer_b = _labelled_answer(sections, "b") or ""
    reference = _section(sections, "reference")
    expected = reference if reference is not None else (_section(sections, "question") or "")
    against = "the reference answer" if reference is not None else "the question"
    score_a, score_b = overlap_f1(answer_a, expected), overlap_f1(answer_b, expected)
    gap = round(score_a - score_b, 6)  # rounded so that equal-looking scores never split on float noise
    if abs(gap) <= PAIRWISE_TIE_MARGIN:
        choice, why = "C", f"Neither is clearly closer to {against}."
    elif abs(gap) <= PAIRWISE_TIE_MARGIN + PAIRWISE_POSITION_BIAS_BAND:
        choice = "A"
        why = (
            "Answer A is a little closer."
            if gap > 0
            else "Answer B is a little closer, but this emulated judge leans to the answer it read first "
            "(a deliberate, emulated position bias)."
        )
    else:
        choice = "A" if gap > 0 else "B"
        why = f"Answer {choice} is clearly closer to {against}."
    explanation = (
        f"Emulated judge: answer A shares {score_a:.0%} of its key terms with {against}, answer B {score_b:.0%}. {why}"
    )
    return f"{explanation}\n\nDecision: [[{choice}]]", choice
