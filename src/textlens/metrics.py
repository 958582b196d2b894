"""OCR quality metrics: character/word error rates and word recall.

All functions are pure and compare texts after :func:`normalize`, so differences in
line breaks, repeated spaces or Unicode composition never count as OCR errors.
"""

from __future__ import annotations

import re
import unicodedata

from rapidfuzz.distance import Levenshtein

__all__ = ["cer", "normalize", "recall_words", "wer", "word_recall"]

_WORD = re.compile(r"\w+")
_MIN_RECALL_LEN = 3


def normalize(text: str) -> str:
    """NFC-normalise and collapse all whitespace runs to single spaces, stripped."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def _error_rate(reference: list[str] | str, hypothesis: list[str] | str) -> float:
    """Levenshtein distance over reference length, capped at 1.0."""
    if not reference:
        return 0.0 if not hypothesis else 1.0
    return min(1.0, Levenshtein.distance(reference, hypothesis) / len(reference))


def cer(reference: str, hypothesis: str) -> float:
    """Character error rate of ``hypothesis`` against ``reference`` (0.0 best, 1.0 cap)."""
    return _error_rate(normalize(reference), normalize(hypothesis))


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate of ``hypothesis`` against ``reference`` (0.0 best, 1.0 cap)."""
    # str.split() on normalised text: "" gives [], so empty texts compare as empty lists.
    return _error_rate(normalize(reference).split(), normalize(hypothesis).split())


def _tokens(text: str) -> list[str]:
    """Case-folded ``\\w+`` tokens; the one tokenizer used for both sides of recall."""
    # Case folding can decompose characters (e.g. "İ"), so re-compose before matching.
    return _WORD.findall(unicodedata.normalize("NFC", normalize(text).casefold()))


def recall_words(text: str) -> set[str]:
    """Distinct case-folded words of 3+ letters or digits (no underscores) in ``text``."""
    # Shorter tokens ("a", "of", "12") are too common or too noisy to measure recall;
    # tokens with "_" are dropped since "\w" allows it but it is not a letter or digit.
    return {t for t in _tokens(text) if len(t) >= _MIN_RECALL_LEN and t.isalnum()}


def word_recall(reference: str, hypothesis: str) -> float:
    """Share of ``recall_words(reference)`` found among the hypothesis tokens (1.0 if none)."""
    wanted = recall_words(reference)
    if not wanted:
        return 1.0
    found = wanted & set(_tokens(hypothesis))
    return len(found) / len(wanted)
