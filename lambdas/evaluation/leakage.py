"""Leakage: test questions that also appear, exactly or nearly, in the training or validation data.

A test question the fine-tuned model was trained on measures recall, not what the training taught, and inflates
the verdict. ``LeakageIndex`` holds the training and validation questions and says, for one test question, which
of them it repeats; evaluation leaves such questions out of the verdict. Preparation uses ``normalise_question`` so
that the split keeps records with the same question on one side (``lambdas.dataset.prepare``).

What counts as the same question
    ``normalise_question``: Unicode NFKC (full-width letters, ligatures, superscripts become plain characters),
    casefold, every punctuation character (categories ``P*``) and every modifier or other symbol (``Sk``, ``So``:
    backticks, accents standing alone, emoji, ``©``, ``°``) read as a space, format characters (``Cf``: zero-width
    spaces, soft hyphens) removed, whitespace collapsed. "What is  Bedrock?" and "what is bedrock" are the same.
    Maths and currency symbols (``Sm``, ``Sc``) are kept: "2+2" and "2-2", "$5" and "€5" ask different things.
    Punctuation becomes a space rather than nothing, so "word,word" stays two words.

What counts as a near duplicate
    The Jaccard similarity of the two questions' sets of normalised words (the words they share over the words
    either has) is at least ``NEAR_DUPLICATE_THRESHOLD`` (0.8), and:

    * both questions have the same numbers (words holding a digit): numbers are what templated questions vary
      ("revenue in 2021" and "revenue in 2022" are two questions with two answers, however alike the words);
    * a short question (fewer than ``SHORT_QUESTION_WORDS`` distinct words on either side) matches only a question
      with exactly its words, reordered or repeated: one word added to or changed in "what is amazon bedrock"
      ("... pricing", "... sagemaker") makes a different question, and 4 of 5 words would otherwise reach 0.8;
    * no content word is swapped for another: the words only one question has are, on at least one side, nothing
      but function words (``FUNCTION_WORDS``: "do", "can", "the", ...). "How do I create a job?" / "How can I
      create a job?" and a question with one word added are near duplicates; "Which port does the billing service
      listen on?" / "... the search service ..." are two questions of a template, with two answers, and are not.

    Why this rule: it is cheap (set operations on a few words, and an inverted index finds the candidates), it
    ignores word order and repeated words, and 0.8 reads simply: for a question of n distinct words, one added word
    is tolerated from n = 5, one function word swapped for another from n = 9, two from n = 18. So rewordings that
    keep most words ("How do I create a fine-tuning job in Bedrock?" / "How can I create a fine-tuning job in
    Bedrock?") are caught, while different questions on the same topic, which differ in a larger share of their
    words ("What is the capital of France?" / "... of Germany?", 5 of 7), are not. Its limits: a lexical rule cannot
    tell a synonym from a swapped name, so it treats both as different questions ("create" / "make" is missed rather
    than every templated dataset losing its test split); and prompts that embed the same long passage with different
    short questions (reading comprehension) may look alike when the questions differ only in function words.
    Prompts of more than ``NEAR_DUPLICATE_MAX_WORDS`` distinct words are documents rather than questions and are
    matched exactly only, which also bounds the index's memory.

How it scales
    An inverted index from word to training question, with prefix filtering (Bayardo et al., "Scaling up all pairs
    similarity search", 2007): words are ranked rarest first by their frequency in the training data, and only the
    first ``n - ceil(0.8 n) + 1`` words of each question are indexed and probed. Two word sets with Jaccard
    similarity >= 0.8 share at least ``ceil(0.8 n)`` words, so they share one within those prefixes; candidates are
    also filtered by size (``0.8 n <= m <= n / 0.8``) before the similarity is computed. Common words ("what",
    "the") are never probed, so 5,000 test questions against 20,000 training questions take well under a second.

The question of a record is what a person reads (``Question.text`` in ``lambdas.evaluation.generation``): the user's
message, or the whole exchange, turn by turn, when the prompt has several turns. This module imports only the
standard library, pydantic and the dataset formats, so preparation can use it without evaluation's dependencies.
"""

from __future__ import annotations

import hashlib
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from lambdas.dataset.formats import Turn, evaluation_item, parse_json
from lambdas.evaluation.results import LeakedQuestion
from lambdas.registry import ModelSpec

NEAR_DUPLICATE_THRESHOLD: Final = 0.8
SHORT_QUESTION_WORDS: Final = 5
NEAR_DUPLICATE_MAX_WORDS: Final = 1_000
# English function words: swapping one for another rewords a question without changing what it asks.
FUNCTION_WORDS: Final = frozenset(
    [
        "a",
        "an",
        "the",
        "this",
        "that",
        "these",
        "those",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "being",
        "am",
        "do",
        "does",
        "did",
        "can",
        "could",
        "may",
        "might",
        "must",
        "shall",
        "should",
        "will",
        "would",
        "have",
        "has",
        "had",
        "of",
        "in",
        "on",
        "at",
        "to",
        "for",
        "from",
        "by",
        "with",
        "about",
        "into",
        "onto",
        "over",
        "under",
        "as",
        "and",
        "or",
        "but",
        "if",
        "then",
        "so",
        "i",
        "me",
        "my",
        "we",
        "our",
        "you",
        "your",
        "it",
        "its",
        "they",
        "them",
        "their",
        "he",
        "she",
        "his",
        "her",
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "why",
        "how",
        "please",
        "tell",
        "explain",
        "describe",
        "there",
        "here",
        "some",
        "any",
        "all",
        "each",
        "every",
        "just",
        "also",
        "exactly",
    ]
)
MATCHED_CHARACTERS: Final = 200

LeakageKind = Literal["exact", "near"]
LeakageSplit = Literal["train", "validation"]
LEAKAGE_SPLITS: Final[tuple[LeakageSplit, ...]] = ("train", "validation")

_SPACE = ord(" ")
_SPACED_CATEGORIES = frozenset({"Sk", "So", "Cc", "Zl", "Zp", "Zs"})
_DIGIT = re.compile(r"\d")
# Rounding guard for ceil(threshold * n): 0.8 * 5 must give 4, not 5; a prefix one word longer is always safe.
_EPSILON = 1e-9


class _PunctuationTable(dict[int, int | None]):
    """``str.translate`` table filled on first sight of each character (building it for all of Unicode is slow)."""

    def __missing__(self, code_point: int) -> int | None:
        category = unicodedata.category(chr(code_point))
        value: int | None = code_point
        if category[0] == "P" or category in _SPACED_CATEGORIES:
            value = _SPACE
        elif category == "Cf":
            value = None
        self[code_point] = value
        return value


_PUNCTUATION = _PunctuationTable()


def normalise_question(text: str) -> str:
    """The question as compared: NFKC, casefolded, punctuation and symbols as spaces, whitespace collapsed."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    return " ".join(folded.translate(_PUNCTUATION).split())


def question_digest(normalised: str) -> bytes:
    """A short stable key for a normalised question (8 bytes of BLAKE2b; collisions are negligible at 10^5)."""
    return hashlib.blake2b(normalised.encode("utf-8", "surrogatepass"), digest_size=8).digest()


def question_text(turns: Sequence[Turn]) -> str:
    """The question as a person reads it; the same text as ``Question.text`` in ``lambdas.evaluation.generation``."""
    if len(turns) == 1:
        return turns[0].text
    return "\n\n".join(f"{turn.role.capitalize()}: {turn.text}" for turn in turns)


def question_of_record(record: Any, spec: ModelSpec) -> str | None:
    """The question of one record in ``spec``'s format, or None when the record cannot be read as a question."""
    if not isinstance(record, dict):
        return None
    try:
        item = evaluation_item(record, spec)
    except ValueError:  # FormatError, or a pydantic ValidationError on a malformed turn
        return None
    return question_text(item.prompt_turns)


def questions_of_jsonl(lines: Iterable[str | bytes], spec: ModelSpec) -> Iterator[str]:
    """The question of each readable record of a JSONL file, in order, one line at a time (blank or unreadable
    lines are skipped)."""
    for line in lines:
        stripped = line.strip()
        if isinstance(stripped, bytes):
            stripped = stripped.removeprefix(b"\xef\xbb\xbf")
        else:
            stripped = stripped.removeprefix("\ufeff")
        if not stripped:
            continue
        try:
            record = parse_json(stripped)
        except ValueError:
            continue
        question = question_of_record(record, spec)
        if question is not None:
            yield question


@dataclass(frozen=True, slots=True)
class _Indexed:
    split: LeakageSplit
    matched: str  # the original text, cut to MATCHED_CHARACTERS
    words: frozenset[str]
    numbers: frozenset[str]


class LeakageIndex:
    """Training and validation questions, to find the one a test question repeats (exactly or nearly).

    Built once from ``(split, question)`` pairs (split "train" or "validation"); ``find`` is then cheap. When a test
    question matches questions in both splits equally well, the training one is reported: the model learned from it.
    """

    def __init__(self, questions: Iterable[tuple[str, str]]) -> None:
        self._entries: list[_Indexed] = []
        self._exact: dict[bytes, int] = {}  # normalised-question digest -> entry
        vocabulary: dict[str, str] = {}  # one string object per distinct word, shared by every set holding it
        for split, text in questions:
            if split not in LEAKAGE_SPLITS:
                raise ValueError(f"a leakage index holds {' and '.join(LEAKAGE_SPLITS)} questions, not {split!r}")
            normalised = normalise_question(text)
            if not normalised:  # nothing but punctuation or symbols: nothing a test question could repeat
                continue
            words = frozenset(vocabulary.setdefault(word, word) for word in normalised.split())
            if len(words) > NEAR_DUPLICATE_MAX_WORDS:
                words = frozenset()  # matched exactly only
            entry_id = len(self._entries)
            self._entries.append(
                _Indexed(split=split, matched=text[:MATCHED_CHARACTERS], words=words, numbers=_numbers(words))
            )
            digest = question_digest(normalised)
            first = self._exact.setdefault(digest, entry_id)
            if self._entries[first].split != "train" and split == "train":
                self._exact[digest] = entry_id
        self._frequency: Counter[str] = Counter()
        for entry in self._entries:
            self._frequency.update(entry.words)
        self._postings: dict[str, list[int]] = {}
        for entry_id, entry in enumerate(self._entries):
            for word in self._prefix(entry.words):
                self._postings.setdefault(word, []).append(entry_id)

    def __len__(self) -> int:
        return len(self._entries)

    def find(self, question: str, *, index: int) -> LeakedQuestion | None:
        """The training or validation question that test question ``index`` repeats, or None when it is new."""
        normalised = normalise_question(question)
        if not normalised:
            return None
        exact = self._exact.get(question_digest(normalised))
        if exact is not None:
            return self._leaked(index, question, "exact", 1.0, self._entries[exact])
        words = frozenset(normalised.split())
        if len(words) > NEAR_DUPLICATE_MAX_WORDS:
            return None
        numbers = _numbers(words)
        smallest = math.ceil(NEAR_DUPLICATE_THRESHOLD * len(words) - _EPSILON)
        largest = math.floor(len(words) / NEAR_DUPLICATE_THRESHOLD + _EPSILON)
        candidates: set[int] = set()
        for word in self._prefix(words):
            candidates.update(self._postings.get(word, ()))
        best: tuple[float, bool, int] | None = None  # (similarity, in training, -entry) so max() picks the best
        for entry_id in candidates:
            entry = self._entries[entry_id]
            if not smallest <= len(entry.words) <= largest or entry.numbers != numbers:
                continue
            similarity = len(words & entry.words) / len(words | entry.words)
            if _near(similarity, min(len(words), len(entry.words))) and not _swaps_content(words, entry.words):
                ranked = (similarity, entry.split == "train", -entry_id)
                best = ranked if best is None else max(best, ranked)
        if best is None:
            return None
        return self._leaked(index, question, "near", best[0], self._entries[-best[2]])

    def _prefix(self, words: frozenset[str]) -> list[str]:
        """The words a match must share one of: the rarest ``n - ceil(threshold * n) + 1`` (see the docstring)."""
        if not words:
            return []
        length = len(words) - math.ceil(NEAR_DUPLICATE_THRESHOLD * len(words) - _EPSILON) + 1
        frequency = self._frequency
        return sorted(words, key=lambda word: (frequency[word], word))[:length]

    @staticmethod
    def _leaked(index: int, question: str, kind: LeakageKind, similarity: float, entry: _Indexed) -> LeakedQuestion:
        return LeakedQuestion(
            index=index,
            kind=kind,
            similarity=round(similarity, 4),
            split=entry.split,
            matched=entry.matched,
            question=question[:MATCHED_CHARACTERS],
        )


def _near(similarity: float, fewest_words: int) -> bool:
    if fewest_words < SHORT_QUESTION_WORDS:
        return similarity == 1.0
    return similarity >= NEAR_DUPLICATE_THRESHOLD - _EPSILON


def _swaps_content(first: frozenset[str], second: frozenset[str]) -> bool:
    """True when each question has a content word the other lacks: a template's two instances, not a rewording."""
    return bool((first - second) - FUNCTION_WORDS) and bool((second - first) - FUNCTION_WORDS)


def _numbers(words: frozenset[str]) -> frozenset[str]:
    return frozenset(word for word in words if _DIGIT.search(word))
