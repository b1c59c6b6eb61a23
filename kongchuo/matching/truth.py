"""Generated lists with known truth, for testing and training the linkage engine.

`generate(n, seed)` builds a population of school-age children and two lists of them the way a
county receives them: the household list (户籍, 公安) and the school registry (学籍). Most children
are on both; some only on one (out of school, or registered here from elsewhere). Each child on
both lists gets one *error kind* injected into one of its two rows (a missing ID, a wrong digit,
two digits transposed, a legacy 15-digit ID, a homophone or variant character, day and month
swapped, or a combination), plus the everyday noise of real lists: a different guardian named
(father, mother, grandfather), a different village after a move, a missing gender. Hard negatives
are built in on purpose: twins (same parents, village, birth date and surname) and namesakes
(same name and birth date, unrelated). About 1 % of children are registered twice in the registry
(重复学籍), again with an error kind.

Deterministic for a given (n, seed): the same rows, uids and truth every time.
"""

from __future__ import annotations

import bisect
import datetime as dt
import itertools
import random
from dataclasses import dataclass, field

from kongchuo.demo import names_data as data
from kongchuo.people.identity import compose_id_number

# (kind, share of the children on both lists). Every kind is a way two rows of one child differ.
ERROR_KINDS: tuple[tuple[str, float], ...] = (
    ("clean", 0.70),
    ("id_missing", 0.08),
    ("id_one_digit", 0.03),
    ("id_transposed", 0.03),
    ("id_15", 0.02),
    ("homophone", 0.04),
    ("name_variant", 0.02),
    ("birth_swapped", 0.03),
    ("id_missing+homophone", 0.02),
    ("id_missing+birth_swapped", 0.015),
    ("id_one_digit+birth_swapped", 0.01),
    ("id_missing+name_variant", 0.005),
)
KIND_NAMES = tuple(kind for kind, _ in ERROR_KINDS)

HOME_REGION = "500229"  # 城口县
NEIGHBOUR_REGIONS = ("500238", "500236", "500235", "500230", "500101")
# Chongqing county codes in use for every birth year 2009-2020 (python-stdnum's table): the counties a large
# run spreads over, about one per 30,000 children, as a province's lists do.
PROVINCE_REGIONS = (
    "500229", "500101", "500102", "500103", "500104", "500105", "500106", "500107", "500108", "500109", "500110",
    "500111", "500112", "500113", "500114", "500115", "500116", "500117", "500118", "500119", "500230", "500231",
    "500233", "500235", "500236", "500237", "500238", "500240", "500241", "500242", "500243",
)
CHILDREN_PER_COUNTY = 30_000

_GIVEN_CHARS = sorted(set(data.BOY_FIRST + data.BOY_SECOND + data.GIRL_FIRST + data.GIRL_SECOND))
_FIRST_BIRTH = dt.date(2009, 9, 1)
_BIRTH_DAYS = (dt.date(2020, 8, 31) - _FIRST_BIRTH).days


@dataclass
class TruthSet:
    """Two lists of PERSON_COLUMNS rows and the pairs that are one child."""

    household: list[tuple] = field(default_factory=list)
    registry: list[tuple] = field(default_factory=list)
    # (household uid, registry uid) → error kind; a child registered twice has a link to each registry row
    links: dict[tuple[str, str], str] = field(default_factory=dict)
    registry_duplicates: dict[tuple[str, str], str] = field(default_factory=dict)  # (registry uid, its copy) → kind
    twins: list[tuple[str, str]] = field(default_factory=list)  # registry uids of twin pairs: never the same child
    namesakes: list[tuple[str, str]] = field(default_factory=list)  # registry uids: same name and birth date, unrelated


@dataclass
class _Child:
    surname: str
    given: str
    gender: str
    birth_date: dt.date
    region: str
    order: int
    village: str
    father: str
    mother: str
    grandfather: str

    @property
    def name(self) -> str:
        return self.surname + self.given

    @property
    def id_number(self) -> str:
        return compose_id_number(self.region, self.birth_date, self.order)


class _Draw:
    """Weighted draws by bisecting cumulative weights: random.choices is slow one at a time."""

    def __init__(self, rng: random.Random, items, weights):
        self.rng, self.items = rng, list(items)
        self.cumulative = list(itertools.accumulate(weights))

    def __call__(self):
        return self.items[bisect.bisect(self.cumulative, self.rng.random() * self.cumulative[-1])]


def generate(n: int = 5000, seed: int = 2026) -> TruthSet:
    """About n household rows and n registry rows (each ±2 %), with truth."""
    rng = random.Random(seed)
    surname = _Draw(rng, [s for s, _ in data.SURNAMES], [w for _, w in data.SURNAMES])
    kind = _Draw(rng, KIND_NAMES, [w for _, w in ERROR_KINDS])
    counties = PROVINCE_REGIONS[: max(1, min(len(PROVINCE_REGIONS), round(n / CHILDREN_PER_COUNTY)))]
    # Every county gets 城口县's townships and villages under its own code.
    villages = [
        f"{county}{code[6:]}{200 + v:03d}" for county in counties for code, _, _, count in data.TOWNSHIPS for v in range(1, count + 1)
    ]
    village_weights = [weight / count for _ in counties for _, _, weight, count in data.TOWNSHIPS for _ in range(count)]
    village = _Draw(rng, villages, village_weights)
    used_orders: set[tuple[str, dt.date, int]] = set()

    def order_for(region: str, birth: dt.date, gender: str, near: int | None = None) -> int:
        while True:
            if near is not None:
                order = near + rng.choice((-2, 2, 4, -4, 1, -1, 3, -3))
                near = None if not 1 <= order <= 999 else near
            else:
                order = rng.randrange(1, 1000)
            if not 1 <= order <= 999:
                continue
            if (order % 2 == 1) != (gender == "M"):
                order += 1 if order < 999 else -1
            if (region, birth, order) not in used_orders:
                used_orders.add((region, birth, order))
                return order

    def given_name(gender: str) -> str:
        if rng.random() < 0.5:
            return rng.choice(data.BOY_NAMES if gender == "M" else data.GIRL_NAMES)
        first, second = (data.BOY_FIRST, data.BOY_SECOND) if gender == "M" else (data.GIRL_FIRST, data.GIRL_SECOND)
        return rng.choice(first) + rng.choice(second)

    def new_child(**fixed) -> _Child:
        family = fixed.pop("family", None)
        gender = fixed.get("gender") or rng.choice("MF")
        birth = fixed.get("birth_date") or _FIRST_BIRTH + dt.timedelta(days=rng.randrange(_BIRTH_DAYS))
        home = family.village if family else village()
        region = fixed.get("region") or (home[:6] if rng.random() < 0.85 else rng.choice(NEIGHBOUR_REGIONS))
        sur = fixed.get("surname") or surname()
        child = _Child(
            surname=sur,
            given=fixed.get("given") or given_name(gender),
            gender=gender,
            birth_date=birth,
            region=region,
            order=order_for(region, birth, gender, near=family.order if family else None),
            village=home,
            father=family.father if family else sur + rng.choice(data.FATHER_NAMES),
            mother=family.mother if family else surname() + rng.choice(data.MOTHER_NAMES),
            grandfather=family.grandfather if family else sur + rng.choice(data.GRANDFATHER_NAMES),
        )
        return child

    children: list[_Child] = []
    twins: list[tuple[int, int]] = []
    namesakes: list[tuple[int, int]] = []
    while len(children) < n:
        roll = rng.random()
        if roll < 0.01 and children:  # a twin of the previous child: different given name, same everything else
            sibling = children[-1]
            children.append(new_child(surname=sibling.surname, birth_date=sibling.birth_date, region=sibling.region, family=sibling))
            twins.append((len(children) - 2, len(children) - 1))
        elif roll < 0.015 and children:  # an unrelated namesake born the same day
            other = rng.randrange(len(children))
            model = children[other]
            children.append(new_child(surname=model.surname, given=model.given, gender=model.gender, birth_date=model.birth_date))
            namesakes.append((other, len(children) - 1))
        else:
            children.append(new_child())

    truth = TruthSet()
    registry_uid: dict[int, str] = {}
    for index, child in enumerate(children):
        roll = rng.random()
        on_household = roll >= 0.035  # 3.5 % only in the registry (借读 from elsewhere)
        on_registry = roll < 0.035 or roll >= 0.07  # 3.5 % only in the household list (out of school)
        household_row = _row(rng, f"H{index}", "household", child, guardian=_guardian(rng, child, household=True))
        registry_row = _row(rng, f"R{index}", "registry", child, guardian=_guardian(rng, child, household=False))
        registry_row = _noise(rng, registry_row, child)
        if on_household and on_registry:
            chosen = kind()
            household_row, registry_row = _inject(rng, chosen, household_row, registry_row, child)
            truth.links[(household_row[0], registry_row[0])] = chosen
        if on_household:
            truth.household.append(household_row)
        if on_registry:
            truth.registry.append(registry_row)
            registry_uid[index] = registry_row[0]
            if rng.random() < 0.01:  # registered twice (重复学籍)
                chosen = kind()
                copy = _noise(rng, _row(rng, f"D{index}", "registry", child, guardian=_guardian(rng, child, household=False)), child)
                _, copy = _inject(rng, chosen, registry_row, copy, child)
                truth.registry.append(copy)
                truth.registry_duplicates[(registry_row[0], copy[0])] = chosen
                if on_household:  # the household row is this child's too
                    truth.links[(household_row[0], copy[0])] = chosen
    truth.twins = [(registry_uid[a], registry_uid[b]) for a, b in twins if a in registry_uid and b in registry_uid]
    truth.namesakes = [(registry_uid[a], registry_uid[b]) for a, b in namesakes if a in registry_uid and b in registry_uid]
    return truth


def _guardian(rng: random.Random, child: _Child, *, household: bool) -> str | None:
    # The household list names the head of household, the registry the parent who enrolled the child.
    roll = rng.random()
    if roll < 0.02:
        return None
    if household:
        return child.father if roll < 0.72 else child.mother if roll < 0.9 else child.grandfather
    return child.father if roll < 0.72 else child.mother if roll < 0.96 else child.grandfather


def _row(rng: random.Random, uid: str, source: str, child: _Child, *, guardian: str | None) -> tuple:
    return (uid, source, child.name, child.gender, child.birth_date, child.id_number, guardian, child.village)


def _noise(rng: random.Random, row: tuple, child: _Child) -> tuple:
    """What the registry does to every row: moved villages, township-only addresses, a missing or wrong gender,
    the guardian's name written with a homophone."""
    uid, source, name, gender, birth, id_number, guardian, division = row
    roll = rng.random()
    if roll < 0.06:  # moved within the township
        division = division[:9] + f"{200 + rng.randrange(1, 10):03d}"
    elif roll < 0.08:  # moved to another township (or registered at the school's)
        division = rng.choice(data.TOWNSHIPS)[0] + f"{200 + rng.randrange(1, 6):03d}"
    elif roll < 0.09:  # lives in a neighbouring county now
        division = rng.choice(NEIGHBOUR_REGIONS) + f"{100 + rng.randrange(1, 9):03d}{200 + rng.randrange(1, 9):03d}"
    elif roll < 0.19:  # only the township is known
        division = division[:9]
    roll = rng.random()
    if roll < 0.02:
        gender = None
    elif roll < 0.023:  # ticked the wrong box
        gender = "F" if gender == "M" else "M"
    if guardian and rng.random() < 0.02:
        guardian = homophone(rng, guardian)
    return (uid, source, name, gender, birth, id_number, guardian, division)


def _inject(rng: random.Random, kind: str, household: tuple, registry: tuple, child: _Child) -> tuple[tuple, tuple]:
    household, registry = list(household), list(registry)
    for part in kind.split("+"):
        if part == "id_missing":
            registry[5] = None
        elif part == "id_one_digit":  # a typist's slip: one digit changed, the check digit copied as it was
            number = registry[5]
            position = rng.randrange(17)
            digit = rng.choice([d for d in "0123456789" if d != number[position]])
            registry[5] = number[:position] + digit + number[position + 1:]
        elif part == "id_transposed":
            number = registry[5]
            candidates = [i for i in range(17) if number[i] != number[i + 1]]
            i = rng.choice(candidates)
            registry[5] = number[:i] + number[i + 1] + number[i] + number[i + 2:]
        elif part == "id_15":  # the household list still carries the legacy 15-digit form
            number = household[5]
            if number:
                household[5] = number[:6] + number[8:17]
        elif part == "homophone":
            registry[2] = homophone(rng, registry[2])
        elif part == "name_variant":
            registry[2] = variant(rng, registry[2])
        elif part == "birth_swapped":
            birth = child.birth_date
            if birth.day <= 12 and birth.day != birth.month:
                registry[4] = birth.replace(month=birth.day, day=birth.month)
            else:  # no valid swap: a neighbouring day instead (a one-digit slip)
                registry[4] = birth + dt.timedelta(days=1 if birth.day % 10 != 9 else -1)
    return tuple(household), tuple(registry)


def homophone(rng: random.Random, name: str) -> str:
    """One character replaced by a homophone (张/章, 晓/小); a known one if the name has it."""
    known = [i for i, ch in enumerate(name) if ch in data.HOMOPHONES]
    if known:
        i = rng.choice(known)
        return name[:i] + data.HOMOPHONES[name[i]] + name[i + 1:]
    from kongchuo.people.names import name_pinyin

    i = len(name) - 1
    sound = name_pinyin(name[i])[0]
    same = [ch for ch in _GIVEN_CHARS if ch != name[i] and name_pinyin(ch)[0] == sound]
    return name[:i] + (rng.choice(same) if same else name[i]) + name[i + 1:]


def variant(rng: random.Random, name: str) -> str:
    """One given-name character replaced by another (a different sound): 王子轩 → 王子豪."""
    i = rng.randrange(1, len(name)) if len(name) > 1 else 0
    return name[:i] + rng.choice([ch for ch in _GIVEN_CHARS if ch != name[i]]) + name[i + 1:]
