"""Put diacritics back on a question typed without them, from the corpus itself.

e5 reads Vietnamese without marks as noise: on ALQAC questions typed without
diacritics its hit@1 falls from 0.877 to 0.049 (DESIGN.md), and staff type
that way all the time. No offline restoration package is good enough, but the
indexed documents are a lexicon of exactly the words questions about them
use. Each folded syllable bigram maps to its most frequent marked form in the
corpus, each folded syllable to its most frequent marked syllable; a
question's syllable takes the form of the better-attested bigram it belongs
to, else its own most frequent form, else stays as typed. The restored text
only feeds the dense model: lexical matching stays on folded terms.
"""

from __future__ import annotations

import itertools
import unicodedata
from collections import Counter
from collections.abc import Iterable

from bot.retrieval.lexical import marked_tokens
from bot.text import fold


def _best(counts: Counter[str]) -> dict[str, tuple[str, int]]:
    """Folded key -> (most frequent marked form, its count)."""
    best: dict[str, tuple[str, int]] = {}
    for form, n in counts.items():
        key = fold(form)
        if key not in best or n > best[key][1]:
            best[key] = (form, n)
    return best


class DiacriticRestorer:
    """Lexicon of marked forms learnt from the corpus text."""

    def __init__(self, texts: Iterable[str]) -> None:
        uni: Counter[str] = Counter()
        bi: Counter[str] = Counter()
        for text in texts:
            toks = marked_tokens(text)
            uni.update(toks)
            bi.update(f"{a} {b}" for a, b in itertools.pairwise(toks))
        self.unigrams = _best(uni)
        self.bigrams = _best(bi)

    def restore(self, question: str) -> str:
        """The question with marks restored where the corpus attests a form."""
        words = unicodedata.normalize("NFC", question).split()
        cores = [w.strip(".,;:!?()\"'“”") for w in words]
        keys = [fold(c) for c in cores]
        out = list(words)
        for i, core in enumerate(cores):
            if not core or fold(core) != core.lower():
                continue  # empty, or already typed with marks
            choice: tuple[str, int] | None = None
            for j in (i - 1, i):  # the bigram to the left, then to the right
                if j < 0 or j + 1 >= len(keys) or not keys[j] or not keys[j + 1]:
                    continue
                found = self.bigrams.get(f"{keys[j]} {keys[j + 1]}")
                if found and (choice is None or found[1] > choice[1]):
                    part = found[0].split(" ")[i - j]
                    choice = (part, found[1])
            if choice is None:
                choice = self.unigrams.get(keys[i])
            if choice is None:
                continue
            form = choice[0]
            if core[:1].isupper():
                form = form[:1].upper() + form[1:]
            out[i] = words[i].replace(core, form, 1)
        return " ".join(out)
