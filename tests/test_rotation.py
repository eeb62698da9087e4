"""Rotation properties over many simulated rounds: fair cycles, reportable groups, themes."""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping, Sequence, Set

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from questions.grades import GRADES
from questions.loader import load_bank
from questions.model import QuestionItem
from questions.rotation import Choice, Person, choose
from questions.themes import THEMES

ALL_GRADES: list[str | None] = [*GRADES, None]
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def make_item(index: int, theme: str, audience: object = "all") -> QuestionItem:
    return QuestionItem(
        id=f"q{index}",
        text=f"Question {index}",
        scale="agree5",
        theme=theme,
        source="custom",
        audience=audience,
    )


@st.composite
def item_sets(draw: st.DrawFn, min_size: int = 3, max_size: int = 16) -> list[QuestionItem]:
    """Synthetic items: random themes, mostly for everyone, some for one or two grades."""
    size = draw(st.integers(min_size, max_size))
    themes = list(THEMES)
    items = []
    for i in range(size):
        theme = draw(st.sampled_from(themes[: draw(st.integers(1, len(themes)))]))
        audience: object = "all"
        if draw(st.integers(0, 3)) == 0:
            audience = draw(st.lists(st.sampled_from(GRADES), min_size=1, max_size=2, unique=True))
        items.append(make_item(i, theme, audience))
    return items


def population(sizes: Mapping[str | None, int]) -> list[Person]:
    people = []
    for grade, size in sizes.items():
        people += [Person(f"{grade}-{i}", grade) for i in range(size)]
    return people


def eligible(person: Person, items: Sequence[QuestionItem]) -> set[str]:
    return {item.id for item in items if item.applies_to(person.grade)}


def simulate(
    people: Sequence[Person],
    items: Sequence[QuestionItem],
    rounds: int,
    n: int,
    m: int,
    seed: int = 0,
    asked: Mapping[str, Set[str]] | None = None,
) -> Iterator[tuple[Choice, dict[str, frozenset[str]]]]:
    """Run rounds, yielding each choice with the state it was made from."""
    state = {key: frozenset(ids) for key, ids in (asked or {}).items()}
    for _ in range(rounds):
        choice = choose(people, items, state, n=n, min_group=m, seed=seed)
        yield choice, state
        state = choice.next_asked(state)


def check_fair_round(
    choice: Choice,
    before: Mapping[str, Set[str]],
    people: Sequence[Person],
    items: Sequence[QuestionItem],
    n: int,
) -> None:
    """No repeats inside a cycle; a cycle restarts exactly when it has run out."""
    for person in people:
        mine = eligible(person, items)
        got = choice.items[person.key]
        assert len(got) == len(set(got)) == min(n, len(mine))
        assert set(got) <= mine
        left = mine - set(before.get(person.key, ()))
        restarted = person.key in choice.cycle_restarted
        assert restarted == (len(left) < n)
        if restarted:
            # Everything left in the old cycle is asked before anything repeats.
            assert left <= set(got)
            assert set(choice.new_cycle[person.key]) == set(got) - left
        else:
            assert set(got) <= left


def thin_items(choice: Choice, m: int) -> dict[str, int]:
    return {item_id: c for item_id, c in choice.counts().items() if c < m}


@FAST
@given(
    items=item_sets(),
    sizes=st.dictionaries(st.sampled_from(ALL_GRADES), st.integers(0, 14), min_size=1),
    n=st.integers(1, 4),
    m=st.integers(1, 6),
    seed=st.integers(0, 2**31),
    start=st.randoms(use_true_random=False),
)
def test_no_repeat_before_cycle_ends_and_everything_reached(
    items: list[QuestionItem],
    sizes: dict[str | None, int],
    n: int,
    m: int,
    seed: int,
    start: random.Random,
) -> None:
    people = population(sizes)
    # Start people part-way through their cycles, including stale ids of retired items.
    ids = [item.id for item in items] + ["retired-item"]
    asked = {p.key: set(start.sample(ids, start.randint(0, len(ids)))) for p in people}
    rounds = 2 * len(items) // n + 2  # at least two full cycles for everyone
    reached: dict[str, set[str]] = {p.key: set() for p in people}
    for choice, before in simulate(people, items, rounds, n, m, seed, asked):
        check_fair_round(choice, before, people, items, n)
        for key, got in choice.items.items():
            reached[key] |= set(got)
    for person in people:
        assert reached[person.key] == eligible(person, items)


@FAST
@given(
    items=item_sets(min_size=4),
    sizes=st.dictionaries(st.sampled_from(ALL_GRADES), st.integers(1, 3), min_size=1),
    n=st.integers(1, 4),
    m=st.integers(2, 6),
    seed=st.integers(0, 2**31),
)
def test_every_item_asked_of_min_group_when_groups_are_big_enough(
    items: list[QuestionItem], sizes: dict[str | None, int], n: int, m: int, seed: int
) -> None:
    """Every grade group has >= min_group people: no item is ever asked of too few."""
    people = population({grade: k * m + k - 1 for grade, k in sizes.items()})
    rounds = 2 * len(items) // n + 2
    for choice, before in simulate(people, items, rounds, n, m, seed):
        check_fair_round(choice, before, people, items, n)
        assert thin_items(choice, m) == {}
        check_theme_spread(choice, before, people, items, n)


def check_theme_spread(
    choice: Choice,
    before: Mapping[str, Set[str]],
    people: Sequence[Person],
    items: Sequence[QuestionItem],
    n: int,
) -> None:
    """Outside cycle ends, a person's items use as many themes as their options allow."""
    theme = {item.id: item.theme for item in items}
    for person in people:
        if person.key in choice.cycle_restarted:
            continue
        left = eligible(person, items) - set(before.get(person.key, ()))
        possible = min(n, len({theme[i] for i in left}))
        assert len({theme[i] for i in choice.items[person.key]}) == possible


@FAST
@given(
    size=st.integers(0, 12),
    common=st.integers(0, 3),
    n=st.integers(1, 3),
    m=st.integers(2, 6),
    seed=st.integers(0, 2**31),
    start=st.randoms(use_true_random=False),
    grades=st.lists(st.sampled_from(ALL_GRADES), min_size=1, max_size=3, unique=True),
)
def test_out_of_step_people_are_concentrated_not_thinned(
    size: int,
    common: int,
    n: int,
    m: int,
    seed: int,
    start: random.Random,
    grades: list[str | None],
) -> None:
    """People whose histories all differ would each get different items if left alone.

    Whenever enough items are still open to all of them, no item may be thin.
    """
    items = [make_item(i, list(THEMES)[i % 8]) for i in range(18)]
    people = [Person(f"p{i}", grades[i % len(grades)]) for i in range(m + size)]
    shared = start.sample(range(18), n + 1 + common)
    others = [items[i].id for i in range(18) if i not in shared]
    asked = {p.key: set(start.sample(others, start.randint(0, len(others)))) for p in people}
    choice = choose(people, items, asked, n=n, min_group=m, seed=seed)
    check_fair_round(choice, asked, people, items, n)
    assert thin_items(choice, m) == {}


def test_out_of_step_example_concentrates() -> None:
    """Seven people, each missing different items: a naive pick leaves items thin."""
    items = [make_item(i, list(THEMES)[i % 8]) for i in range(12)]
    people = [Person(f"p{i}", "consultant") for i in range(7)]
    asked = {p.key: {f"q{(i + j) % 9}" for j in range(5)} for i, p in enumerate(people)}
    choice = choose(people, items, asked, n=2, min_group=5, seed=3)
    check_fair_round(choice, asked, people, items, 2)
    assert thin_items(choice, 5) == {}
    assert all(c >= 5 for c in choice.counts().values())


def test_small_grade_joins_items_asked_of_others() -> None:
    """Three medical leaders cannot form a group; their shared items ride on consultants'."""
    bank = load_bank()
    people = population({"consultant": 30, "medical_leader": 3})
    leader_only = {i.id for i in bank.rotating if i.audience == ("medical_leader",)}
    for choice, _ in simulate(people, bank.rotating, 4, n=2, m=5, seed=11):
        assert set(thin_items(choice, 5)) <= leader_only


def test_big_trust_spreads_items_across_lanes() -> None:
    """In a big trust every item is measured every round, each by a reportable group."""
    bank = load_bank()
    rng = random.Random(5)
    people = [Person(f"d{i}", rng.choice(ALL_GRADES)) for i in range(3000)]
    for choice, _ in simulate(people, bank.rotating, 3, n=2, m=5, seed=1):
        counts = choice.counts()
        assert set(counts) == {item.id for item in bank.rotating}
        assert min(counts.values()) >= 5


def test_deterministic_for_a_seed() -> None:
    bank = load_bank()
    rng = random.Random(9)
    people = [Person(f"d{i}", rng.choice(ALL_GRADES)) for i in range(200)]
    asked = {p.key: set(rng.sample([i.id for i in bank.rotating], 7)) for p in people}
    first = choose(people, bank.rotating, asked, n=3, seed=42)
    again = choose(list(people), list(bank.rotating), dict(asked), n=3, seed=42)
    assert first == again
    other = choose(people, bank.rotating, asked, n=3, seed=43)
    assert other != first


@pytest.mark.parametrize("n", [0, 5, -1])
def test_n_out_of_range_is_rejected(n: int) -> None:
    with pytest.raises(ValueError, match="between 1 and 4"):
        choose([Person("a", None)], load_bank().rotating, {}, n=n)


def test_bad_inputs_are_rejected() -> None:
    items = load_bank().rotating
    with pytest.raises(ValueError, match="min_group"):
        choose([Person("a")], items, {}, min_group=0)
    with pytest.raises(ValueError, match="grade"):
        choose([Person("a", "registrar")], items, {})
    with pytest.raises(ValueError, match="duplicate person"):
        choose([Person("a"), Person("a")], items, {})


def test_headline_never_rotates_and_empty_inputs() -> None:
    bank = load_bank()
    choice = choose([Person("a", "sas")], bank.items, {}, n=4, min_group=1)
    assert bank.headline.id not in choice.items["a"]
    assert len(choice.items["a"]) == 4
    assert choose([], bank.items, {}).items == {}
    assert choose([Person("a")], [bank.headline], {}).items == {"a": []}


def test_unknown_grade_gets_only_items_for_all() -> None:
    bank = load_bank()
    people = population({None: 6})
    for choice, _ in simulate(people, bank.rotating, 5, n=2, m=5):
        for got in choice.items.values():
            assert all(bank.by_id(i).audience == "all" for i in got)
