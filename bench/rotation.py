"""Benchmark: rotation for 20,000 doctors over the shipped bank, beside a naive baseline.

Run with ``python bench/rotation.py [people] [rounds]``. The baseline is what one would
write first: per person, ``random.sample`` of their eligible items, with no cycle
fairness and no group-size rule. Both run in the same process on the same people, so the
ratio shows what fairness costs; the thin-item columns show what it buys.
"""

from __future__ import annotations

import random
import sys
import time
from collections import Counter
from collections.abc import Mapping, Sequence, Set
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from questions.loader import load_bank  # noqa: E402
from questions.model import QuestionItem  # noqa: E402
from questions.rotation import Person, choose  # noqa: E402

GRADE_MIX: dict[str | None, int] = {
    "consultant": 35,
    "sas": 15,
    "resident": 40,
    "medical_leader": 5,
    None: 5,
}
N = 2
MIN_GROUP = 5


def make_people(count: int, seed: int = 0) -> list[Person]:
    rng = random.Random(seed)
    grades, weights = list(GRADE_MIX), list(GRADE_MIX.values())
    return [Person(f"U{i:06d}", rng.choices(grades, weights)[0]) for i in range(count)]


def naive_choose(
    people: Sequence[Person], items: Sequence[QuestionItem], rng: random.Random
) -> dict[str, list[str]]:
    """The baseline: a random sample of eligible items per person, nothing else."""
    by_grade: dict[str | None, list[str]] = {}
    result = {}
    for person in people:
        pool = by_grade.get(person.grade)
        if pool is None:
            pool = by_grade[person.grade] = [i.id for i in items if i.applies_to(person.grade)]
        result[person.key] = rng.sample(pool, min(N, len(pool)))
    return result


def repeats(chosen: Mapping[str, list[str]], asked: Mapping[str, Set[str]]) -> int:
    """People asked something they already had this cycle."""
    return sum(1 for key, ids in chosen.items() if asked.get(key, set()) & set(ids))


def thin(chosen: Mapping[str, list[str]]) -> int:
    counts = Counter(i for ids in chosen.values() for i in ids)
    return sum(1 for c in counts.values() if c < MIN_GROUP)


def main(count: int = 20_000, rounds: int = 6) -> None:
    items = load_bank().rotating
    people = make_people(count)
    print(f"{count} people x {len(items)} items, n={N}, min_group={MIN_GROUP}, {rounds} rounds")
    print(
        f"{'round':>5} {'rotation ms':>12} {'people/s':>12} {'naive ms':>10} {'ratio':>6}"
        f" {'thin':>5} {'naive thin':>10} {'naive repeats':>13}"
    )
    asked: dict[str, frozenset[str]] = {}
    naive_asked: dict[str, set[str]] = {p.key: set() for p in people}
    rng = random.Random(1)
    total = total_naive = 0.0
    for r in range(1, rounds + 1):
        start = time.perf_counter()
        choice = choose(people, items, asked, n=N, min_group=MIN_GROUP, seed=7)
        spent = time.perf_counter() - start
        asked = choice.next_asked(asked)

        start = time.perf_counter()
        naive = naive_choose(people, items, rng)
        spent_naive = time.perf_counter() - start
        naive_repeats = repeats(naive, naive_asked)
        for key, ids in naive.items():
            naive_asked[key].update(ids)

        total, total_naive = total + spent, total_naive + spent_naive
        print(
            f"{r:>5} {spent * 1e3:>12.1f} {count / spent:>12,.0f} {spent_naive * 1e3:>10.1f}"
            f" {spent / spent_naive:>6.2f} {thin(choice.items):>5} {thin(naive):>10}"
            f" {naive_repeats:>13}"
        )
    print(
        f"mean: rotation {total / rounds * 1e3:.1f} ms/round ({count * rounds / total:,.0f}"
        f" people/s), naive {total_naive / rounds * 1e3:.1f} ms/round,"
        f" ratio {total / total_naive:.2f}x"
    )


if __name__ == "__main__":
    main(*(int(arg) for arg in sys.argv[1:3]))
