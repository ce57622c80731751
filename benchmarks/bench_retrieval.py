"""Retrieval benchmark: anchors next to hocvuso on every question set, same run, same index.

    python benchmarks/bench_retrieval.py                 # all sets
    python benchmarks/bench_retrieval.py --sets dev guides --dump /tmp/rq.pkl

Anchors, each ranking the same chunks hocvuso ranks (judged the same way:
gold file stem or ``any`` phrases among the first 5 chunks):

- ``bm25_raw``: BM25 over marked syllables (the question as typed);
- ``bm25_folded``: BM25 over diacritic-folded syllables;
- ``e5``: multilingual-e5-small cosine alone, the question as typed;
- ``alpha``: 0.5 x min-max folded BM25 + 0.5 x min-max e5;
- ``e5_restored``: e5 with the question's marks restored from the corpus lexicon.

Every figure is given for the questions as written and with diacritics
stripped, plus the ratio hocvuso / best anchor (hit@1). Passage embeddings
are cached in ~/.cache/hocvuso-bench (HOCVUSO_BENCH_CACHE), so reruns are fast.
"""

from __future__ import annotations

import argparse
import pickle
import statistics
import sys
from collections import defaultdict
from pathlib import Path

from retrieval_common import QuestionData, all_sets, collect

ANCHORS = ["bm25_raw", "bm25_folded", "e5", "alpha"]
SYSTEMS = [*ANCHORS, "e5_restored", "hocvuso"]


def summarise(rows: list[QuestionData], folds: bool = False) -> str:
    groups: dict[tuple[str, bool], list[QuestionData]] = defaultdict(list)
    for r in rows:
        groups[(r.set_name, r.stripped)].append(r)
        if folds:
            groups[(f"{r.set_name}:{r.fold}", r.stripped)].append(r)
    head = f"{'set':18}{'pass':8}{'n':>5}" + "".join(f"{s:>16}" for s in SYSTEMS) + f"{'ratio':>8}"
    lines = [head, f"{'':31}" + "".join(f"{'hit@1 / hit@5':>16}" for _ in SYSTEMS)]
    for (name, stripped), part in sorted(groups.items()):
        n = len(part)
        cells = []
        h1: dict[str, float] = {}
        for s in SYSTEMS:
            ranks = [r.ranks.get(s, 0) for r in part]
            h1[s] = sum(x == 1 for x in ranks) / n
            h5 = sum(1 <= x <= 5 for x in ranks) / n
            cells.append(f"{h1[s]:.3f} / {h5:.3f}")
        best = max(h1[a] for a in ANCHORS)
        ratio = h1["hocvuso"] / best if best else float("nan")
        label = "plain" if stripped else "as-is"
        lines.append(
            f"{name:18}{label:8}{n:>5}" + "".join(f"{c:>16}" for c in cells) + f"{ratio:>8.3f}"
        )
    lat = [r.latency_ms for r in rows]
    if lat:
        lat.sort()
        p95 = lat[min(len(lat) - 1, round(0.95 * (len(lat) - 1)))]
        lines.append(
            f"hocvuso search latency (warm, these corpora): p50 {statistics.median(lat):.1f} ms,"
            f" p95 {p95:.1f} ms"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", nargs="*", help="subset of: alqac virhe4qa dev guides heldout")
    parser.add_argument("--limit", type=int, help="first N questions of each set")
    parser.add_argument("--dump", type=Path, help="save the collected features (for fit_params)")
    parser.add_argument("--folds", action="store_true", help="also per train/held-out fold")
    args = parser.parse_args()
    sets = [s for s in all_sets() if not args.sets or s.name in args.sets]
    rows = list(collect(sets, limit=args.limit))
    if args.dump:
        args.dump.write_bytes(pickle.dumps(rows))
        print(f"# features of {len(rows)} questions saved to {args.dump}", file=sys.stderr)
    print(summarise(rows, folds=args.folds))
    return 0


if __name__ == "__main__":
    sys.exit(main())
