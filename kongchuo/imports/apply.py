"""Applying cleaned records to the database, set-based, one chunk at a time, in the caller's transaction.

Each chunk does a fixed number of queries whatever its size: look up the people it names, compare,
bulk-create what is new, bulk-update what changed, and write provenance, guardians, memberships,
enrolments, conflicts in bulk. A second source never silently overwrites a first: where two sources
disagree the field's precedence decides the kept value and an IdentityConflict records the other.
"""

import datetime as dt
import enum
import functools
import itertools
import json
import math
import sqlite3
import types
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection, models
from django.db.models import Q
from django.utils import timezone

from kongchuo.core.choices import Source
from kongchuo.core.masking import mask_id_number
from kongchuo.enrolments.models import OPEN_STATUSES, Enrolment, ExternalStudy, Status, StatusChange
from kongchuo.enrolments.services import TRANSITIONS
from kongchuo.imports.models import IdentityConflict, ImportBatch
from kongchuo.imports.records import INCOMPLETE, PENDING_ID, Record, id_disagrees, label
from kongchuo.people.identity import InvalidIdNumber, normalise_id_number
from kongchuo.people.models import Child, FieldProvenance, GroupMembership, Guardian, SpecialGroup, conflict_value, field_mask
from kongchuo.people.names import name_pinyin
from kongchuo.people.provenance import settle_refused
from kongchuo.places.models import Division, School, SchoolClass

S = Source
# Which source's value is kept when two disagree, per group of fields (first wins). Counties can
# override it with the KONGCHUO_PRECEDENCE setting.
DEFAULT_PRECEDENCE = {
    "identity": [
        S.HOUSEHOLD,
        S.MANUAL,
        S.REGISTRY,
        S.DISABILITY,
        S.CIVIL_AFFAIRS,
        S.RURAL_REVITALISATION,
        S.STUDY_ELSEWHERE,
        S.SCHOOL,
        S.ATTENDANCE,
    ],
    "disability": [S.DISABILITY, S.MANUAL, S.REGISTRY, S.HOUSEHOLD, S.CIVIL_AFFAIRS, S.RURAL_REVITALISATION, S.SCHOOL],
}
FIELD_GROUP = {
    "name": "identity",
    "gender": "identity",
    "birth_date": "identity",
    "ethnicity": "identity",
    "household_division": "identity",
    "household_address": "identity",
    "current_address": "identity",
    "disability_category": "disability",
    "disability_grade": "disability",
    "disability_certificate_no": "disability",
    "health": "disability",
}


def rank(source: str, fieldname: str) -> int:
    order = getattr(settings, "KONGCHUO_PRECEDENCE", DEFAULT_PRECEDENCE)[FIELD_GROUP.get(fieldname, "identity")]
    return order.index(source) if source in order else len(order)


@dataclass
class Context:
    batch: ImportBatch
    county: Division
    source: str  # the provenance source this import writes
    actor: object
    now: dt.datetime
    counts: Counter = field(default_factory=Counter)
    sheet: str = ""  # the sheet whose rows are being written, for a flag that points to a row of another
    # Across chunks, what the file has met: person key → (child id, first row, its sheet); ("school", code) and
    # ("attendance", record id) → the row that stated it (sources.apply_schools, apply_attendance)
    seen: dict = field(default_factory=dict)
    enrolments_met: dict = field(default_factory=dict)  # enrolment id → (sheet, row) that stated it (upsert_enrolments)
    # (child id, school id) → ((sheet, row), status) of a registry row that closed the child's open enrolment there
    # beside an older closed one with its status and grade (_enrolment_for: left again)
    enrolments_closed: dict = field(default_factory=dict)
    townships: dict = field(default_factory=dict)
    villages: dict = field(default_factory=dict)
    schools: dict = field(default_factory=dict)
    # The county's children without an ID number, by name (name → ids): those there were before this import,
    # those it adds, under the names it gives them. A pending row is looked up here, not through
    # people_child's (county, name) index, which a bulk load defers.
    pending: defaultdict = field(default_factory=lambda: defaultdict(set))
    # The (name, birth date) of each of them, and of what this import made them (never taken out: of the pairs here,
    # only those the database has are looked up; a row whose pair is not here names none of them, without a query).
    # SQLite only, whose one writer is the import while it runs: on PostgreSQL someone may correct such a child's
    # birth date by hand meanwhile, and a row then naming the child by it must still find it (None: ask the database).
    pending_born: set | None = field(default_factory=set)
    located: dict = field(default_factory=dict)  # what `locate` found for each (township, village, their labels), and flagged
    township_ids: dict = field(default_factory=dict)  # division → the id of its township (_township_of), for new children
    child_template: list = field(default_factory=list)  # a new child's row (NEW_CHILD_COLUMNS) where the list gives nothing
    child_constants: dict = field(default_factory=dict)  # the other columns, the same for every child the import adds
    person_constants: dict = field(default_factory=dict)  # those and the disability columns, for a list without (PERSON_WIDTH)
    adapt_date: Callable = None
    adapted_dates: dict = field(default_factory=dict)  # date → as the database takes it (db_date)
    # No child had an ID number when this import began (first_ids()): it looks none up.
    first_ids: bool = False

    def __post_init__(self):
        self.db_now = connection.ops.adapt_datetimefield_value(self.now)
        self.adapt_date = connection.ops.adapt_datefield_value  # once: `connection` is a proxy, dear per value
        defaults = {f.attname: f.get_db_prep_save(f.get_default(), connection) for f in Child._meta.concrete_fields}
        defaults["created_at"] = defaults["updated_at"] = self.db_now
        defaults["county_id"] = self.county.pk
        self.child_template = [defaults[c] for c in NEW_CHILD_COLUMNS]
        self.child_constants = {c: defaults[c] for c in CHILD_COLUMNS if c not in NEW_CHILD_COLUMNS}
        self.person_constants = {**self.child_constants, **{c: defaults[c] for c in NEW_CHILD_COLUMNS[PERSON_WIDTH:]}}
        places = Division.objects.filter(prefix__startswith=self.county.prefix, level__gte=Division.Level.TOWNSHIP)
        for d in places.select_related("parent"):  # a village's township for conflict_value
            if d.level == Division.Level.TOWNSHIP:
                for key in (d.code, d.name, _short(d.name)):
                    self.townships.setdefault(key, d)
            else:
                for key in (d.code, (d.prefix[:9], d.name), (d.prefix[:9], _short(d.name))):
                    self.villages.setdefault(key, d)
        for d in {*self.townships.values(), *self.villages.values()}:
            township = _township_of(d, self)
            self.township_ids[d] = township.pk if township else None
        self.schools = {s.code: s for s in School.objects.filter(county=self.county)}
        if connection.vendor != "sqlite":
            self.pending_born = None
        pending = Child.objects.filter(county=self.county, id_number_status=Child.IdStatus.PENDING)
        for pk, name, born in pending.values_list("pk", "name", "birth_date"):
            self.pending[name].add(pk)
            _pending_born(self, name, born)

    def place(self, where: tuple[str, int]) -> str:
        """A (sheet, row) for a message on a row of the sheet being written: 第3行, or 工作表“二镇”第3行."""
        sheet, row = where
        return f"第{row}行" if sheet == self.sheet else f"工作表“{sheet}”第{row}行"

    @property
    def reference(self) -> str:
        return f"导入批次#{self.batch.pk}"

    @property
    def actor_id(self) -> int | None:
        return getattr(self.actor, "pk", None)

    def db_value(self, value):
        """A cleaned value as the database takes it in a row written by `insert_rows` (what its field would make of it)."""
        if type(value) is str:  # most are
            return value
        if isinstance(value, models.Model):
            return value.pk
        if isinstance(value, enum.Enum):
            return value.value
        if isinstance(value, dt.date):
            return self.adapt_date(value)
        return value

    def db_date(self, value: dt.date):
        """db_value of a date, adapted once per import (a list has a few thousand birth dates)."""
        if (adapted := self.adapted_dates.get(value)) is None:
            adapted = self.adapted_dates[value] = self.adapt_date(value)
        return adapted

    @property
    def today(self) -> dt.date:
        return timezone.localdate(self.now)  # the county's calendar day


def db_json(value) -> str:
    """A JSONField's value as `insert_rows` writes it: its JSON text, as Django's JSONField makes it. SQLite stores
    that text; PostgreSQL's COPY parses it into jsonb. (Django's own adaptation for PostgreSQL wraps the value for
    the driver to serialise when it writes the row: a provenance row's three maps were 600,000 json.dumps for a
    200,000-row list, where most rows share a handful of texts made once.)"""
    return json.dumps(value)


def first_ids() -> bool:
    """Whether no child of any county has an ID number, where no other import can add one before this
    transaction ends (SQLite: it holds the write lock, BEGIN IMMEDIATE). Then every ID number the database
    will have while an import runs is one the import wrote, and so in its `seen`: a county's first police list,
    its largest, looks none up, and people_child's unique index on them can wait for the end (bulkload)."""
    return connection.vendor == "sqlite" and connection.in_atomic_block and not Child.objects.filter(id_number__isnull=False).exists()


def _short(name: str) -> str:
    for suffix in ("街道办事处", "街道", "镇", "乡", "社区居委会", "居委会", "村委会", "社区", "村"):
        if name.endswith(suffix) and len(name) > len(suffix) + 1:
            return name[: -len(suffix)]
    return name


# --- places -----------------------------------------------------------------------------------


def locate(ctx: Context, record: Record, labels) -> tuple[Division | None, tuple[int | None, int | None]]:
    """The household division a row names (village, else township), and the ids a new child's row takes from it
    (the division's, its township's); unknown names are flagged.

    Worked out once per township, village and column labels: a list names a few hundred places."""
    v = record.values
    key = (v.get("township", ""), v.get("village", ""), labels.get("township"), labels.get("village"))
    if (known := ctx.located.get(key)) is None:
        flags = []
        division = _locate(ctx, str(key[0]).strip(), str(key[1]).strip(), labels, flags)
        ids = (None, None) if division is None else (division.pk, ctx.township_ids.get(division))
        known = ctx.located[key] = (division, ids, tuple(flags))
    if known[2]:
        record.flags.extend(known[2])
    return known[:2]


def _locate(ctx: Context, township_text: str, village_text: str, labels, flags: list) -> Division | None:
    township = None
    if township_text:
        township = ctx.townships.get(township_text) or ctx.townships.get(_short(township_text))
        if township is None:
            flags.append((label("township", labels), f"乡镇“{township_text}”不在本县区划中，未采用"))
    if village_text:
        village = ctx.villages.get(village_text)
        if village is None and township is not None:
            village = ctx.villages.get((township.prefix, village_text)) or ctx.villages.get((township.prefix, _short(village_text)))
        if village is not None and (township is None or village.prefix.startswith(township.prefix)):
            return village
        flags.append((label("village", labels), f"村（社区）“{village_text}”未在{township.name if township else '本县'}找到，未采用"))
    return township


def _township_of(division: Division | None, ctx: Context) -> Division | None:
    if division is None:
        return None
    if division.level == Division.Level.TOWNSHIP:
        return division
    return ctx.townships.get(division.code[:9])


# --- people -----------------------------------------------------------------------------------

PERSON_FIELDS = ["name", "gender", "birth_date", "ethnicity", "household_address", "current_address"]
DISABILITY_FIELDS = ["health", "disability_category", "disability_grade", "disability_certificate_no"]  # disability_values


NOTHING_REFUSED = types.MappingProxyType({})  # a row's values precedence refused, for most rows (read only)

# In a record's values: the person key of the child a row without ID number and gender names (refuse_strangers).
JOINED = "joined"


def person_key(record: Record):
    v = record.values
    if "id_number" in v:
        return ("id", v["id_number"])
    if JOINED in v:
        return v[JOINED]
    return ("pending", v["name"], v.get("birth_date"), v.get("national_student_number", ""))


def upsert_people(
    ctx: Context, records: list[Record], labels, extra=None, *, one_row_per_person: bool = True
) -> list[tuple[Record, int, str]]:
    """Create or update the child each record names; returns (record, child id, outcome) per record.

    A person met earlier in the file is not merged again: the row is flagged as the same person.
    New children are written as plain rows (`insert_rows`); existing ones are merged field by field
    under the sources' precedence and bulk-updated.
    """
    keys = [person_key(r) for r in records]
    # Only `extra` gives disability values: without it, a new child's row stops before them (NEW_CHILD_FIELDS).
    width, constants = (len(NEW_CHILD_FIELDS), ctx.child_constants) if extra else (PERSON_WIDTH, ctx.person_constants)
    found = _existing_children(ctx, [k for k in keys if k not in ctx.seen])
    provenance = defaultdict(dict)
    for p in FieldProvenance.objects.filter(child_id__in=[c.pk for c in found.values()]) if found else ():  # a first list finds none
        provenance[p.child_id][p.source] = p

    plan, new, to_update, update_fields, conflicts = [], {}, {}, set(), []
    others = {}  # provenance id → another source's row whose value this list overruled
    # The children without an ID number this chunk adds, by name and birth date: [their key, their student numbers];
    # and the keys of rows that name one of them another way (with or without a 学籍号) → its key (_twin).
    twins, aliases = defaultdict(list), {}
    for record, key in zip(records, keys, strict=True):
        values = record.values
        incoming = {f: values[f] for f in PERSON_FIELDS if f in values}
        division, place = locate(ctx, record, labels)
        if key[0] == "pending" and key not in ctx.seen and key not in new and key not in found and (twin := _twin(twins, key, found)):
            aliases[key] = key = twin
        if key in ctx.seen or key in new:
            first, sheet = ctx.seen[key][1:] if key in ctx.seen else (new[key][0], ctx.sheet)
            if one_row_per_person:  # a registry export lists a child once per enrolment: no news there
                where = ctx.place((sheet, first))
                record.flags.append(("", f"与{where}为同一人，已按{where}处理"))
            plan.append((record, key, "unchanged", (), (), NOTHING_REFUSED))
            continue
        if division is not None:
            incoming["household_division"] = division
        if extra:
            incoming.update(extra(record))
        child = found.get(key)
        if child is None and key[0] == "pending" and key[3]:
            # By its 学籍号 (an enrolment has it), else as a row without one: the county's child of that name and birth
            # date without an ID number, unless an enrolment gives that child another 学籍号 (another pupil). (A list
            # of children studying elsewhere keeps no enrolment: found by its number, such a row added the child
            # again on every import.)
            child = found.get(("nsn", key[3]))
            namesake = found.get(("pending", key[1], key[2], ""))
            if child is None and namesake is not None and namesake.student_numbers <= {key[3]}:
                child = namesake
        if child is None:
            new[key] = (record.row, _new_child_row(ctx, key, record, incoming, place, width))
            if key[0] == "pending":
                twins[key[1:3]].append((key, {key[3]} - {""}))
            given = tuple(incoming)
            plan.append((record, key, "created", given, given, NOTHING_REFUSED))
            continue
        if child.id_number and "id_number" not in values:
            _as_the_id_says(child, record, incoming, labels)
        ctx.seen[key] = (child.pk, record.row, ctx.sheet)
        was_named = child.name
        before = len(conflicts)
        replaced = merge(ctx, child, incoming, provenance.get(child.pk, {}), conflicts)
        changed = set(replaced)
        refused = {c.field: c.other_value for c in conflicts[before:] if c.other_source == ctx.source}
        if replaced:  # the values of other sources that gave those replaced are not kept now (settle_refused)
            mine = provenance.get(child.pk, {})
            shown = {name: conflict_value(old) for name, old in replaced.items()}
            for row in settle_refused([r for s, r in mine.items() if s != ctx.source], child, shown):
                others[row.pk] = row
        if changed:
            if "name" in changed:
                child.name_pinyin, child.name_initials = name_pinyin(child.name)
                if child.pk in ctx.pending.get(was_named, ()):
                    ctx.pending[was_named].discard(child.pk)
                    ctx.pending[child.name].add(child.pk)
                changed |= {"name_pinyin", "name_initials"}
            if "name" in changed or "birth_date" in changed:
                _pending_born(ctx, child.name, child.birth_date)  # if it is one of them (superfluous if not)
            if "household_division" in changed:
                child.township = _township_of(child.household_division, ctx) or child.township
                changed.add("township")
            to_update[child.pk] = child
            update_fields |= changed
        plan.append((record, key, "updated" if changed else "unchanged", tuple(incoming), tuple(changed & incoming.keys()), refused))

    ids = reserve_ids(Child, len(new))
    insert_rows(Child, ["id", *NEW_CHILD_COLUMNS[:width]], [(pk, *row) for pk, (_, row) in zip(ids, new.values(), strict=True)], constants)
    for pk, (key, (first_row, _)) in zip(ids, new.items(), strict=True):
        ctx.seen[key] = (pk, first_row, ctx.sheet)
        if key[0] == "pending":  # a later row may name the child without the student number this one gave
            ctx.pending[key[1]].add(pk)
            _pending_born(ctx, *key[1:3])
    for alias, key in aliases.items():  # as a later chunk's row would find the child by name and birth date
        ctx.seen[alias] = ctx.seen[key]
    if to_update:
        for child in to_update.values():
            child.updated_at = ctx.now
        Child.objects.bulk_update(list(to_update.values()), sorted(update_fields | {"updated_at"}), batch_size=1000)
    conflicts = _new_conflicts(conflicts)
    IdentityConflict.objects.bulk_create(conflicts, ignore_conflicts=True, batch_size=1000)
    ctx.counts["conflicts"] += len(conflicts)  # those recorded now: a list imported again has none to tell

    FieldProvenance.objects.bulk_update(list(others.values()), ["refused"], batch_size=1000)
    seen = ctx.seen
    ids = [seen[step[1]][0] for step in plan]
    results = [(step[0], pk, step[2]) for step, pk in zip(plan, ids, strict=True)]
    _write_provenance(ctx, [(pk, step[3], step[4], step[5]) for step, pk in zip(plan, ids, strict=True)], provenance)
    _write_guardians(ctx, results)
    return results


def _pending_born(ctx: Context, name: str, birth_date) -> None:
    if ctx.pending_born is not None:
        ctx.pending_born.add((name, birth_date))


def _twin(twins: dict, key: tuple, found: dict) -> tuple | None:
    """The key of the child without an ID number that an earlier row of this chunk adds and a row without one names
    (`key`), as a row of a later chunk would find that child (_existing_children, upsert_people): a row without a
    学籍号, the first of the name and birth date; a row with one, the first of them with no other 学籍号 (another
    number is another pupil); unless the county has a child of that name and birth date, or of that 学籍号 (found:
    it is that one).
    Its student number then is the twin's too."""
    if key[0] != "pending" or ("pending", *key[1:3], "") in found or ("nsn", key[3]) in found:
        return None
    for twin, numbers in twins.get(key[1:3], ()):
        if not key[3]:
            return twin
        if numbers <= {key[3]}:
            numbers.add(key[3])
            return twin
    return None


def _as_the_id_says(child: Child, record: Record, incoming: dict, labels) -> None:
    """A row without an ID number that names a child who has one (by its 学籍号): the child's number decides
    birth date and gender, as a row's own number does (records._agree). A cell that disagrees is flagged and
    not taken; a birth date given to the month only is not taken either (the number has the day)."""
    try:
        checked = normalise_id_number(child.id_number)
    except InvalidIdNumber:  # an old number the checks have grown stricter about: nothing to go by
        return
    for name, what in (("birth_date", "出生日期"), ("gender", "性别")):
        given = incoming.get(name)
        if given is None or given == getattr(checked, name):
            continue
        del incoming[name]
        if told := id_disagrees(record, name, given, checked):
            record.flags.append(
                (label(name, labels), f"{what}与该儿童证件号{mask_id_number(child.id_number)}不一致，未采用（按证件号为{told}）")
            )


def _new_conflicts(conflicts: list[IdentityConflict]) -> list[IdentityConflict]:
    """Those of `conflicts` not recorded yet (one per child, field, source and value: IdentityConflict's constraint)."""
    for conflict in conflicts:
        conflict.child_id = conflict.child.pk
    if not conflicts:
        return []
    known = set(
        IdentityConflict.objects.filter(child_id__in={c.child_id for c in conflicts}).values_list(
            "child_id", "field", "other_source", "other_value"
        )
    )
    fresh = []
    for conflict in conflicts:
        key = (conflict.child_id, conflict.field, conflict.other_source, conflict.other_value)
        if key not in known:
            known.add(key)
            fresh.append(conflict)
    return fresh


def refuse_strangers(ctx: Context, records: list[Record]) -> None:
    """Refuse the rows that lack what a new child needs (records.INCOMPLETE: gender or birth date, with no ID
    number to give them) and name no child the county has, nor one another row of the file adds.

    Such rows wait for the rest of the file (services._apply_chunk holds them back): this is given all of them,
    in file order, once every other row is written, and each joins the child it names or is refused. So which
    child a row joins, whether it is refused, and whether it
    is the repeat of another row of the file do not depend on the order of the rows, on how the file is cut into
    chunks, or on whether the file was imported before (the same list, once with the ID number and once without).

    A department's list may give only 姓名, 出生日期, 类别. Such a row (no ID number, no gender) still says which
    child it is about when the county has one child of that name and birth date, with a valid ID (the police
    list brought it in) or without: it joins that child, through upsert_people's merge as if it had named
    it (`JOINED`), and stays flagged 证件号待核正, the flag saying whom it joined. None or several: refused.
    A row with a gender and no birth date must name a child without an ID number (or its 学籍号), as before."""
    live = [r for r in records if not r.rejected]
    keys = [person_key(r) for r in live]
    unmet = [(r, k) for r, k in zip(live, keys, strict=True) if k not in ctx.seen]
    found = _existing_children(ctx, [k for _, k in unmet])
    namesakes = _namesakes(ctx, [r for r, _ in unmet if "gender" not in r.values and "birth_date" in r.values])
    earlier = set()  # the people rows above this one add or name
    # child id → the person key under which a row of this file stated the child: a row naming the child another
    # way (its 学籍号, its name and birth date) takes that key, and is then the repeat of that row, as it would be
    # were the file imported again.
    met = {seen[0]: k for k, seen in ctx.seen.items() if k[0] in ("id", "pending")}
    for record, key in zip(live, keys, strict=True):
        v = record.values
        column, reason = v.pop(INCOMPLETE)
        by_number = key[0] == "pending" and key[3] and found.get(("nsn", key[3]))
        named = key in ctx.seen or key in earlier or by_number
        if by_number and key not in ctx.seen and key not in earlier and (by_number.pk in met or by_number.id_number):
            # Else the row keeps its key: it has the 学籍号 upsert_people finds the child by (a pending child's own
            # key, name and birth date, could name another child of that name).
            key = v[JOINED] = met.get(by_number.pk) or _own_key(by_number)
        if not named and "gender" not in v and "birth_date" in v:
            children = namesakes.get((v["name"], v["birth_date"]), [])
            if not children:
                record.reject(column, f"{reason}；也对应不上本县已有的同姓名、同出生日期的儿童，无法新增")
                continue
            if len(children) > 1:
                record.reject(column, f"{reason}；本县同名同出生日期的儿童有{len(children)}人，无法确定是谁")
                continue
            key = _join(record, children[0], met.get(children[0].pk))
        elif not named and key not in found:
            record.reject(column, f"{reason}；也对应不上本县已有的证件号待核正儿童（同姓名、同出生日期或同学籍号），无法新增")
            continue
        earlier.add(key)


def _namesakes(ctx: Context, records: list[Record]) -> dict:
    """(name, birth date) → the county's children of that name and birth date, whatever their ID number, for
    `records` (for refuse_strangers: every other row of the file is written by then)."""
    wanted = {(r.values["name"], r.values["birth_date"]) for r in records}
    if not wanted:
        return {}
    dates = {d for _, d in wanted}
    children = defaultdict(list)
    for part in _batches({n for n, _ in wanted}):  # a list without ID numbers holds back all its rows
        for c in Child.objects.filter(county=ctx.county, name__in=part, birth_date__in=dates).only("name", "birth_date", "id_number"):
            if (c.name, c.birth_date) in wanted:
                children[(c.name, c.birth_date)].append(c)
    return children


def _own_key(child: Child) -> tuple:
    """The person key of a child of the database: a row with its ID number names it so, or one with its name and
    birth date if it has none (_existing_children finds it by either)."""
    return ("id", child.id_number) if child.id_number else ("pending", child.name, child.birth_date, "")


def _join(record: Record, child: Child, key: tuple | None = None) -> tuple:
    """Have `record` name `child` (by `key`, else its own key); returns that key."""
    key = record.values[JOINED] = key or _own_key(child)
    whom = f"{child.name}（证件号{mask_id_number(child.id_number)}）" if child.id_number else f"{child.name}（证件号亦待核正）"
    record.flags = [(c, f"{m}；已按姓名和出生日期对应到本县已有的{whom}" if m.startswith(PENDING_ID) else m) for c, m in record.flags]
    return key


# What merge reads of a child found, loaded with it: a division per row would be a query per row.
_MERGED = ("household_division__parent",)


def _existing_children(ctx: Context, keys: list) -> dict:
    """person key → Child already in the database: by ID number, or for a pending row by name and birth date
    (or student number)."""
    wanted_ids = [] if ctx.first_ids else _known_id_numbers([k[1] for k in keys if k[0] == "id"])
    found = {("id", c.id_number): c for c in Child.objects.filter(id_number__in=wanted_ids).select_related(*_MERGED)} if wanted_ids else {}
    pending_keys = [k for k in keys if k[0] == "pending"]
    # Only a child of a name and birth date some row gives is looked up by its key: not every namesake, and not at all
    # where no child without an ID number has the pair (most rows of a first list).
    if born_as := [k for k in pending_keys if ctx.pending_born is None or k[1:3] in ctx.pending_born]:
        pending_names = {k[1] for k in born_as}
        born = Q(birth_date__in={k[2] for k in born_as})
        for part in _batches(pk for name in pending_names for pk in ctx.pending.get(name, ())):
            candidates = Child.objects.filter(born, pk__in=part, id_number_status=Child.IdStatus.PENDING)
            for c in candidates.select_related(*_MERGED).order_by("pk"):
                c.student_numbers = set()  # those its enrolments carry: a row with another is another pupil (upsert_people)
                found.setdefault(("pending", c.name, c.birth_date, ""), c)
        pending = {c.pk: c for k, c in found.items() if k[0] == "pending"}
        for part in _batches(pending):
            enrolled = Enrolment.objects.filter(child_id__in=part).exclude(national_student_number="")
            for child_id, number in enrolled.values_list("child_id", "national_student_number"):
                pending[child_id].student_numbers.add(number)
    for part in _batches(k[3] for k in pending_keys if k[3]):
        enrolments = Enrolment.objects.filter(county=ctx.county, national_student_number__in=part)
        for e in enrolments.select_related(*(f"child__{f}" for f in _MERGED)).order_by("pk"):
            found.setdefault(("nsn", e.national_student_number), e.child)
    return found


# Values per IN (…) of a look-up: refuse_strangers looks up every held row of the file at once, and an SQLite
# built with the default limit takes 32,766 parameters a statement.
LOOKUP_BATCH = 5000


def _batches(values) -> Iterator[list]:
    """The distinct `values`, sorted (the first of a key found stays first), LOOKUP_BATCH at a time."""
    values = sorted(set(values))
    for start in range(0, len(values), LOOKUP_BATCH):
        yield values[start : start + LOOKUP_BATCH]


def _known_id_numbers(numbers: list[str]) -> list[str]:
    """Those of `numbers` the database has, in one plain query: most of a first list's rows are new, and
    the ORM's IN (…) of a chunk's two thousand numbers costs more than the lookup itself."""
    if not numbers:
        return []
    table = Child._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One array parameter (PostgreSQL plans an IN of 2,000 slowly), through the unique index: the
            # planner would rather scan the table for 2,000 keys, at twice the time even when they are all there.
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute(f"SELECT id_number FROM {table} WHERE id_number = ANY(%s)", [numbers])
            found = [number for (number,) in cursor.fetchall()]
            cursor.execute("SET LOCAL enable_seqscan TO DEFAULT")
            return found
        cursor.execute(f"SELECT id_number FROM {table} WHERE id_number IN ({', '.join(['%s'] * len(numbers))})", numbers)
        return [number for (number,) in cursor.fetchall()]


CHILD_COLUMNS = [f.attname for f in Child._meta.concrete_fields if not f.primary_key]
_ATTNAMES = {f.name: f.attname for f in Child._meta.concrete_fields}


# The columns an import fills in a new child's row, bound row by row; the others (defaults, the county, the
# time) are the same for every child it adds and written into the statement once (insert_rows' constants).
# The disability columns come last: only a list with disability values (upsert_people's `extra`) fills them,
# and a row of any other list stops before them (PERSON_WIDTH), leaving them to the constants too: binding a
# value costs sqlite3 more than the value is worth, and five of a first police list's 200,000 rows' eighteen
# were the same for every row (0.12 s).
NEW_CHILD_FIELDS = [
    *PERSON_FIELDS,
    "household_division",
    "township",
    "id_number",
    "id_number_status",
    "id_number_raw",
    "name_pinyin",
    "name_initials",
    *DISABILITY_FIELDS,
]
NEW_CHILD_COLUMNS = [_ATTNAMES[name] for name in NEW_CHILD_FIELDS]
PERSON_WIDTH = len(NEW_CHILD_FIELDS) - len(DISABILITY_FIELDS)
_COLUMN = {name: NEW_CHILD_FIELDS.index(name) for name in NEW_CHILD_FIELDS}
_ID, _ID_STATUS, _ID_RAW = _COLUMN["id_number"], _COLUMN["id_number_status"], _COLUMN["id_number_raw"]
_PINYIN, _INITIALS = _COLUMN["name_pinyin"], _COLUMN["name_initials"]
_DIVISION, _TOWNSHIP = _COLUMN["household_division"], _COLUMN["township"]
_VALID, _PENDING = Child.IdStatus.VALID.value, Child.IdStatus.PENDING.value  # an enum member's value costs a lookup per row


def _new_child_row(ctx: Context, key, record: Record, incoming: dict, place: tuple[int | None, int | None], width: int) -> tuple:
    """The database row of a new child, as bulk_create would write it (defaults, scope columns, pinyin), its first
    `width` columns (NEW_CHILD_COLUMNS); `place`: the ids of its household division and of that division's township
    (locate)."""
    row = ctx.child_template[:width]
    dates = ctx.adapted_dates
    for name, value in incoming.items():
        kind = type(value)
        if kind is str:  # most are
            row[_COLUMN[name]] = value
        elif kind is dt.date:
            row[_COLUMN[name]] = dates[value] if value in dates else ctx.db_date(value)
        elif kind is not Division:  # the household division: `place`
            row[_COLUMN[name]] = ctx.db_value(value)
    if key[0] == "id":
        row[_ID], row[_ID_STATUS] = key[1], _VALID
    else:
        row[_ID], row[_ID_STATUS], row[_ID_RAW] = None, _PENDING, record.id_raw
    name = row[_COLUMN["name"]]
    # Worked out while preparing (records.with_pinyin), unless the name is not the one the row was prepared with.
    row[_PINYIN], row[_INITIALS] = record.pinyin[1:] if record.pinyin and record.pinyin[0] == name else name_pinyin(name)
    row[_DIVISION], row[_TOWNSHIP] = place
    return tuple(row)


def merge(ctx: Context, child: Child, incoming: dict, provenance: dict, conflicts: list) -> dict:
    """Take each incoming value the sources' precedence lets in; returns {field changed: its value before}
    (a blank too: nothing to mark, but a source that had this value refused agrees now). A value precedence
    refused becomes an IdentityConflict."""
    replaced = {}
    for name, new in incoming.items():
        old = getattr(child, name)
        if old in (None, "") or (new in (None, "")):
            if old in (None, "") and new not in (None, ""):
                setattr(child, name, new)
                replaced[name] = old
            continue
        if old == new:
            continue
        holders = [s for s, p in provenance.items() if name in p.fields]
        holder = min(holders, key=lambda s: rank(s, name)) if holders else None
        if holder is None or holder == ctx.source or rank(ctx.source, name) < rank(holder, name):
            setattr(child, name, new)
            replaced[name] = old
            if holder is not None and holder != ctx.source:
                conflicts.append(
                    IdentityConflict(
                        child=child,
                        field=name,
                        kept_value=conflict_value(new),
                        kept_source=ctx.source,
                        other_value=conflict_value(old),
                        other_source=holder,
                        batch=ctx.batch,
                        county=ctx.county,
                    )
                )
        else:
            conflicts.append(
                IdentityConflict(
                    child=child,
                    field=name,
                    kept_value=conflict_value(old),
                    kept_source=holder,
                    other_value=conflict_value(new),
                    other_source=ctx.source,
                    batch=ctx.batch,
                    county=ctx.county,
                )
            )
    return replaced


def _write_provenance(ctx: Context, supplied_by_child: list[tuple[int, tuple, tuple, dict]], provenance) -> None:
    """One row per child and source: which fields it supplied, and from which batch each (`batches`: a field
    keeps the import it came with until a later one of the source changes it), and the values of it precedence
    did not keep (`refused`). Untouched when nothing is new.

    `supplied_by_child`: (child id, the fields the row gave, those of them it changed on the child (for a new
    child, all), {field: value} of those it gave that the child does not hold)."""
    new: dict[int, tuple | frozenset] = {}  # child id → the fields this chunk adds: its row's tuple (of several rows, a set)
    new_refused: dict[int, dict] = {}  # child id → what of them precedence did not keep (a child the county had)
    update = []
    batch = ctx.batch.pk
    for child_id, supplied, changed, refused in supplied_by_child:
        if not supplied:
            continue  # nothing supplied, or a row repeating a person met before
        row = provenance.get(child_id, {}).get(ctx.source)
        if child_id in new or row is None:
            if (earlier := new.get(child_id)) is None:
                new[child_id] = supplied  # most children: one row, its fields as a tuple
            else:
                new[child_id] = frozenset({*earlier, *supplied})
            if refused:
                new_refused.setdefault(child_id, {}).update(refused)
            continue
        # What the source says now of a field it gave replaces what it said before; of one it left out, stands.
        still = {**{f: v for f, v in row.refused.items() if f not in supplied}, **refused}
        if changed or not set(supplied) <= set(row.fields) or still != row.refused:
            given = {f: row.batches.get(f, row.batch_id) for f in row.fields}  # before this map: the row's batch
            given.update({f: batch for f in {*changed, *(set(supplied) - set(row.fields))}})
            row.fields, row.batches, row.refused = sorted(given), given, still
            row.batch, row.reference, row.recorded_at, row.recorded_by = ctx.batch, ctx.reference, ctx.now, ctx.actor
            update.append(row)

    nothing = db_json({})

    mask = functools.cache(field_mask)  # a list has a handful of distinct field sets

    # A new row's fields all came with this batch: its `batches` map stays empty (FieldProvenance.batches), a fifth
    # of the row, which every child of a county's first police list has.
    insert_rows(
        FieldProvenance,
        ["child", "fields", "refused"],
        [(child_id, mask(fields), db_json(new_refused[child_id]) if child_id in new_refused else nothing)
         for child_id, fields in new.items()],
        {"source": ctx.db_value(ctx.source), "batch": batch, "batches": nothing, "reference": ctx.reference,
         "recorded_at": ctx.db_now, "recorded_by": ctx.actor_id},
    )
    FieldProvenance.objects.bulk_update(
        update, ["fields", "batches", "refused", "batch", "reference", "recorded_at", "recorded_by"], batch_size=1000)


RELATIONS = {
    "父亲": "father",
    "父": "father",
    "母亲": "mother",
    "母": "mother",
    "祖父": "grandfather",
    "爷爷": "grandfather",
    "祖母": "grandmother",
    "奶奶": "grandmother",
    "外祖父": "maternal_grandfather",
    "外公": "maternal_grandfather",
    "外祖母": "maternal_grandmother",
    "外婆": "maternal_grandmother",
}


def _write_guardians(ctx: Context, results) -> None:
    with_guardian = [(r, child_id, outcome) for r, child_id, outcome in results if r.values.get("guardian_name")]
    if not with_guardian:
        return
    # child id → guardian name → Guardian, or for one this chunk adds its row to be (_PHONE changes if a later row has one)
    existing = defaultdict(dict)
    if known := [child_id for _, child_id, outcome in with_guardian if outcome != "created"]:  # a first list: none
        for g in Guardian.objects.filter(child_id__in=known):
            existing[g.child_id][g.name] = g
    create, update = [], []
    for record, child_id, _ in with_guardian:
        values = record.values
        name, phone = values["guardian_name"], values.get("guardian_phone", "")
        guardians = existing[child_id]
        guardian = guardians.get(name)
        if guardian is None:
            relation = RELATIONS.get(str(values.get("guardian_relation", "")).strip(), "other")
            guardians[name] = guardian = [child_id, name, relation, phone, len(guardians) + 1]
            create.append(guardian)
        elif isinstance(guardian, Guardian):
            if phone and not guardian.phone:
                guardian.phone = phone
                update.append(guardian)
        elif phone and not guardian[_PHONE]:
            guardian[_PHONE] = phone
    insert_rows(Guardian, ["child", "name", "relation", "phone", "order"], [tuple(g) for g in create])
    Guardian.objects.bulk_update(update, ["phone"], batch_size=1000)


_PHONE = 3  # in a new guardian's row (_write_guardians)


# --- writing rows -----------------------------------------------------------------------------
# bulk_create prepares every value of every object through its model field, several times the
# database's own work for a chunk of children; new rows are built as tuples of database-ready
# values instead (Context.db_value) and written in one statement per batch.


ROWS_PER_STATEMENT = 200  # SQLite: one INSERT … VALUES (…), (…), … per this many rows


def insert_rows(model: type[models.Model], fields: list[str], rows: list[tuple], constants: dict | None = None) -> None:
    """INSERT rows of database-ready values: COPY on PostgreSQL, multi-row INSERT statements on SQLite.

    `constants` ({field: database-ready value}) go into every row too. SQLite gets them as literals in the
    statement instead of binding them row after row: sqlite3 binds each value through Python, and for
    people_child, whose every new row shares a dozen defaults, that is a third of the statement's cost.

    SQLite is given ROWS_PER_STATEMENT rows per statement, through the driver's own connection (qmark
    placeholders, none of Django's rewriting of a statement this long): executemany's row-by-row steps
    took three times as long into the tables of guardians and provenance, and a fifth longer into
    people_child (measured 2026-12-01; docs/performance.md)."""
    if not rows:
        return
    constants = constants or {}
    meta, quote = model._meta, connection.ops.quote_name
    table = quote(meta.db_table)
    columns = ", ".join(quote(meta.get_field(f).column) for f in [*fields, *constants])
    connection.ensure_connection()
    with connection.wrap_database_errors:  # the driver's errors as Django's (IntegrityError …), as through a cursor
        if connection.vendor == "postgresql":
            tail = tuple(constants.values())
            with connection.connection.cursor() as cursor, cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row + tail)
            return
        driver = connection.connection
        per = max(1, min(ROWS_PER_STATEMENT, driver.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // max(1, len(fields))))
        one = "(" + ", ".join(["?"] * len(fields) + [sql_literal(v) for v in constants.values()]) + ")"
        statement = functools.cache(lambda n: f"INSERT INTO {table} ({columns}) VALUES " + ", ".join([one] * n))  # n rows
        for start in range(0, len(rows), per):
            part = rows[start : start + per]
            driver.execute(statement(len(part)), list(itertools.chain.from_iterable(part)))


def sql_literal(value) -> str:
    """A database-ready value as an SQLite literal."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(int(value))  # an IntegerChoices member too
    if isinstance(value, float) and math.isfinite(value):
        return repr(value)
    if isinstance(value, str) and "\x00" not in value:
        return "'" + value.replace("'", "''") + "'"
    raise TypeError(f"no SQL literal for {value!r}")


def reserve_ids(model: type[models.Model], count: int) -> list[int]:
    """`count` new primary keys of `model`'s table, for rows written with `insert_rows`.

    PostgreSQL hands them out from the table's sequence. SQLite has no sequence, but the import's
    transaction holds the database's write lock (BEGIN IMMEDIATE), so the ids above the highest ever
    used stay free until it commits; AUTOINCREMENT then records the highest it was given.
    """
    if not count:
        return []
    table = model._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)", [table, count])
            return [pk for (pk,) in cursor.fetchall()]
        cursor.execute(
            f"SELECT MAX(n) FROM (SELECT MAX(id) AS n FROM {connection.ops.quote_name(table)}"
            " UNION ALL SELECT seq FROM sqlite_sequence WHERE name = %s)",
            [table],
        )
        start = (cursor.fetchone()[0] or 0) + 1
    return list(range(start, start + count))


# --- group memberships (department lists) -----------------------------------------------------

# The words of a list's 类别 column, the first found deciding (the more specific before the words they contain).
# None: a category of no group here, refused with the category message whatever words follow.
CATEGORY_GROUPS: list[tuple[str, str | None]] = [
    # 民政
    ("事实无人抚养", SpecialGroup.DE_FACTO_UNSUPPORTED),
    ("事实孤儿", SpecialGroup.DE_FACTO_UNSUPPORTED),  # the usual name before 民发〔2019〕62号
    ("孤儿", SpecialGroup.ORPHAN),
    ("特困", SpecialGroup.EXTREME_POVERTY_SUPPORT),
    ("五保", SpecialGroup.EXTREME_POVERTY_SUPPORT),  # 农村五保供养, the name of 特困供养 before 2014
    ("供养", SpecialGroup.EXTREME_POVERTY_SUPPORT),  # 分散供养 / 集中供养（人员）
    # 低保边缘家庭 (低边户): households just above the 低保 line, their own civil-affairs category; not 低保, nor
    # the rural-revitalisation lists' 边缘易致贫户 (monitored_household, DESIGN.md §3).
    ("低保边缘", None),
    ("低边", None),
    ("低保", SpecialGroup.MINIMUM_LIVING_ALLOWANCE),
    ("最低生活保障", SpecialGroup.MINIMUM_LIVING_ALLOWANCE),
    ("困境", SpecialGroup.CHILD_IN_DIFFICULTY),
    ("留守", SpecialGroup.LEFT_BEHIND),
    ("单亲", SpecialGroup.SINGLE_PARENT),
    # 乡村振兴: the three kinds of 防止返贫监测对象 (脱贫不稳定户, 边缘易致贫户, 突发严重困难户) before 脱贫,
    # which the first of them contains.
    ("监测", SpecialGroup.MONITORED_HOUSEHOLD),
    ("不稳定", SpecialGroup.MONITORED_HOUSEHOLD),
    ("边缘", SpecialGroup.MONITORED_HOUSEHOLD),
    ("易致贫", SpecialGroup.MONITORED_HOUSEHOLD),
    ("易返贫", SpecialGroup.MONITORED_HOUSEHOLD),
    ("突发", SpecialGroup.MONITORED_HOUSEHOLD),
    ("严重困难", SpecialGroup.MONITORED_HOUSEHOLD),
    ("防返贫", SpecialGroup.MONITORED_HOUSEHOLD),
    ("脱贫", SpecialGroup.POVERTY_REGISTERED),
    ("建档立卡", SpecialGroup.POVERTY_REGISTERED),
    ("贫困", SpecialGroup.POVERTY_REGISTERED),
    ("残疾", SpecialGroup.DISABLED),
]
ALLOWED_GROUPS = {
    S.CIVIL_AFFAIRS: {
        SpecialGroup.ORPHAN,
        SpecialGroup.DE_FACTO_UNSUPPORTED,
        SpecialGroup.EXTREME_POVERTY_SUPPORT,
        SpecialGroup.MINIMUM_LIVING_ALLOWANCE,
        SpecialGroup.CHILD_IN_DIFFICULTY,
        SpecialGroup.LEFT_BEHIND,
        SpecialGroup.SINGLE_PARENT,
    },
    S.RURAL_REVITALISATION: {SpecialGroup.POVERTY_REGISTERED, SpecialGroup.MONITORED_HOUSEHOLD},
    S.DISABILITY: {SpecialGroup.DISABLED},
}


def group_of(category: str, source: str) -> str | None:
    category = "".join(category.split())  # "突发 严重困难户", "智 力"
    if source == S.DISABILITY:
        # Every child on the federation's list is disabled; its 类别 says which disability and seldom says 残疾
        # ("智力", "肢残"). A word naming none is refused: the file may be another department's list.
        return SpecialGroup.DISABLED if "残疾" in category or disability_category(category) else None
    for word, group in CATEGORY_GROUPS:
        if word in category and (group is None or group in ALLOWED_GROUPS[source]):
            return group
    return None


def write_memberships(ctx: Context, pairs: list[tuple[int, str]]) -> set[int]:
    """Add (child id, group) memberships from this source that are not there yet; returns the children that got one."""
    existing = set(GroupMembership.objects.filter(child_id__in=[c for c, _ in pairs], source=ctx.source).values_list("child_id", "group"))
    new = []
    for child_id, group in pairs:
        if (child_id, group) not in existing:
            existing.add((child_id, group))
            new.append(GroupMembership(child_id=child_id, group=group, source=ctx.source, recorded_on=ctx.today, note=ctx.reference))
    GroupMembership.objects.bulk_create(new, batch_size=1000)
    return {m.child_id for m in new}


D = Child.DisabilityCategory
# The full names (GB/T 26341-2010), their short forms in the federation's lists (智残, 肢残…) and older words.
DISABILITY_CATEGORIES = [
    ("多重", D.MULTIPLE),
    ("多残", D.MULTIPLE),
    ("视力", D.VISUAL),
    ("视残", D.VISUAL),
    ("盲", D.VISUAL),
    ("听力", D.HEARING),
    ("听残", D.HEARING),
    ("聋", D.HEARING),
    ("言语", D.SPEECH),
    ("言残", D.SPEECH),
    ("语言", D.SPEECH),  # 语言残疾, the name before 2006
    ("哑", D.SPEECH),
    ("肢体", D.PHYSICAL),
    ("肢残", D.PHYSICAL),
    ("智力", D.INTELLECTUAL),
    ("智残", D.INTELLECTUAL),
    ("精神", D.MENTAL),
    ("精残", D.MENTAL),
]
# The category's code, the 19th character of a 残疾人证号, which some lists give instead of its name.
DISABILITY_CODES = {"1": D.VISUAL, "2": D.HEARING, "3": D.SPEECH, "4": D.PHYSICAL, "5": D.INTELLECTUAL, "6": D.MENTAL, "7": D.MULTIPLE}
GRADES = {"一": 1, "二": 2, "三": 3, "四": 4, "1": 1, "2": 2, "3": 3, "4": 4}


def disability_category(text: str) -> str | None:
    text = "".join(str(text).split())
    if text in DISABILITY_CODES:
        return DISABILITY_CODES[text]
    return next((code for word, code in DISABILITY_CATEGORIES if word in text), None)


def disability_values(record: Record) -> dict:
    """The DISABILITY_FIELDS a disability federation row gives."""
    values = {"health": Child.Health.DISABLED}
    category = str(record.values.get("category", ""))
    if code := disability_category(category):
        values["disability_category"] = code
    grade = str(record.values.get("disability_grade", "")).replace("级", "").strip()
    if not grade:  # "肢体二级": the grade given with the category
        grade = next((word for word in GRADES if f"{word}级" in category), "")
    if grade[:1] in GRADES:
        values["disability_grade"] = GRADES[grade[:1]]
    if record.values.get("certificate_no"):
        values["disability_certificate_no"] = str(record.values["certificate_no"])[:30]
    return values


# --- enrolments (registry) ----------------------------------------------------------------------

STATUS_WORDS = {label: value for value, label in Status.choices}
STATUS_WORDS.update({"正常": Status.ENROLLED, "在校": Status.ENROLLED, "在籍在读": Status.ENROLLED, "送教": Status.HOME_TEACHING})


def parse_status(text: str) -> str | None:
    return STATUS_WORDS.get(str(text).strip()) if text else Status.ENROLLED


def _class_number(text) -> int | None:
    digits = "".join(ch for ch in str(text or "") if ch in "0123456789")  # not ①, ² or ５: isdigit() takes them, int() not
    chinese = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9, "十": 10}
    if digits:
        # "三年级2班" keeps only the class digits; "302班" style codes end with the class number.
        return int(digits[-2:]) if len(digits) > 2 else int(digits)
    for ch in reversed(str(text or "")):
        if ch in chinese:
            return chinese[ch]
    return None


def _enrolment_for(enrolments: list[Enrolment], status: str, grade: int, met: Callable, *, open_row: bool) -> Enrolment | None:
    """Which of a child's enrolments at a school (the latest first) a registry row states; None: a new one.

    Closed enrolments (毕业, 转出, 死亡) are matched too, so that a file imported again finds what it wrote.
    - An open status: the open enrolment, the child's one place at the school. With none, an earlier closed
      one stays as history and the row is a new enrolment: the child left (转出, or 毕业 from the primary
      section of a 九年一贯 school) and is back. TRANSITIONS lets nothing out of a closed status, and
      enrolment_create too opens a new enrolment beside a closed one.
    - A closed status: the closed enrolment with that status and grade (what an import of this row wrote),
      unless the open one is in that grade too and newer: the child came back and has left again, and the
      row closes it. Not when a row of this import states the open one (`met`), nor beside an open-status
      row for the child at the school in this chunk (`open_row`): the closed row is then the earlier stint.
      Else the open one, which the row closes (毕业 at the end of the year); else the latest closed one
      with another status, which the row corrects (with history, flagged: TRANSITIONS has no such move).
      An enrolment another row of this import has already stated (`met`) is left to it: two rows with
      different statuses are two enrolments, whatever their order in the file.

    Every open-status row of the file is written before any closed-status one (sources.closes_a_stint), so `met`
    knows whether the file lists the open enrolment, wherever its row stands. Only a row held back for want of
    an ID number and gender (services._write_held) comes later still: an open-status one that finds the stint
    closed by this import opens another (upsert_enrolments flags it). Stints in different grades are told apart
    by the grade.
    """
    open_one = next((e for e in enrolments if e.status in OPEN_STATUSES), None)
    if status in OPEN_STATUSES:
        return open_one
    unstated = open_one is not None and met(open_one) is None
    same = next((e for e in enrolments if e.status == status and e.grade == grade), None)
    if same is not None:
        left_again = unstated and not open_row and open_one.grade == grade and enrolments.index(open_one) < enrolments.index(same)
        return open_one if left_again else same
    if unstated:
        return open_one
    return next((e for e in enrolments if e.status not in OPEN_STATUSES and e.status != status and met(e) is None), None)


def upsert_enrolments(ctx: Context, pairs: list[tuple[Record, int, str]], labels) -> list[str]:
    """Create or update the enrolment each registry row states; returns the per-row outcome after enrolment changes.

    Importing the same file again changes nothing, whatever its statuses (`_enrolment_for`). An enrolment
    answers to the first row of the import that states it: a later row that would change it is flagged and
    left out, so that which of two contradicting rows wins does not depend on how often the file is imported.
    """
    children = [child_id for _, child_id, _ in pairs]
    at_school = defaultdict(list)  # (child id, school id) → the child's enrolments there, the latest first
    for e in Enrolment.objects.filter(child_id__in=children).order_by("-entry_date", "-id"):
        at_school[(e.child_id, e.school_id)].append(e)
    wanted_classes = set()
    for record, _, _ in pairs:
        number = _class_number(record.values.get("class_name"))
        if number:
            wanted_classes.add((ctx.schools[record.values["school_code"]].pk, record.values["grade"], number))
    classes = {(k.school_id, k.grade, k.number): k for k in SchoolClass.objects.filter(school_id__in={w[0] for w in wanted_classes})}
    missing = [SchoolClass(school_id=s, grade=g, number=n) for s, g, n in wanted_classes if (s, g, n) not in classes]
    SchoolClass.objects.bulk_create(missing, batch_size=1000)
    classes.update({(k.school_id, k.grade, k.number): k for k in missing})

    met_here = {}  # id(enrolment) → (enrolment, (sheet, row) of this chunk that stated it); new ones have no pk yet

    def met(e: Enrolment) -> tuple | None:
        if id(e) in met_here:
            return met_here[id(e)][1]
        return ctx.enrolments_met.get(e.pk) if e.pk else None

    # (child id, school code) of this chunk's open-status rows: a closed row beside one is an earlier stint.
    open_rows = {(child_id, r.values["school_code"]) for r, child_id, _ in pairs if r.values["status_code"] in OPEN_STATUSES}

    outcomes, create, update, history = [], [], [], []
    for record, child_id, outcome in pairs:
        school = ctx.schools[record.values["school_code"]]
        grade = record.values["grade"]
        klass = classes.get((school.pk, grade, _class_number(record.values.get("class_name"))))
        status = record.values["status_code"]
        nsn = record.values.get("national_student_number", "")
        enrolments = at_school[(child_id, school.pk)]
        enrolment = _enrolment_for(enrolments, status, grade, met, open_row=(child_id, school.code) in open_rows)
        if enrolment is None:
            if status in OPEN_STATUSES and (child_id, school.pk) in ctx.enrolments_closed:
                # The open row of a file whose closed row, chunks earlier, closed this stint (_enrolment_for).
                row, closed = ctx.enrolments_closed[(child_id, school.pk)]
                record.flags.append(
                    (
                        label("status", labels),
                        f"{ctx.place(row)}已将该生在{school.name}的学籍记为“{Status(closed).label}”，本行为“{Status(status).label}”，"
                        "已另开一段学籍，请核实",
                    )
                )
            if status in OPEN_STATUSES and any(e.status == Status.DECEASED for e in enrolments):
                record.flags.append(
                    (label("status", labels), f"该生在{school.name}的学籍曾登记为“死亡”，现为“{Status(status).label}”，请核实")
                )
            enrolment = Enrolment(
                child_id=child_id,
                school=school,
                school_class=klass,
                grade=grade,
                national_student_number=nsn,
                status=status,
                status_since=ctx.today,
                entry_date=ctx.today,
                county_id=school.county_id,
                township_id=school.township_id,
            )
            enrolments.insert(0, enrolment)
            met_here[id(enrolment)] = (enrolment, (ctx.sheet, record.row))
            create.append(enrolment)
            history.append((enrolment, "", status))
            outcomes.append("created" if outcome == "created" else "updated")
            continue
        wanted = {
            "status": status,
            "grade": grade,
            "school_class_id": klass.pk if klass else None,
            "national_student_number": nsn or enrolment.national_student_number,
        }
        changed = [attr for attr, value in wanted.items() if getattr(enrolment, attr) != value]
        first = met(enrolment)
        if first is None:
            met_here[id(enrolment)] = (enrolment, (ctx.sheet, record.row))
            closes = status not in OPEN_STATUSES and enrolment.status in OPEN_STATUSES
            if closes and any(e.status == status and e.grade == grade for e in enrolments):  # left again
                ctx.enrolments_closed[(child_id, school.pk)] = ((ctx.sheet, record.row), status)
        elif changed and (changed != ["national_student_number"] or enrolment.national_student_number):
            # (A row of the file without the 学籍号 stated it first: one with it fills it in, in either order.)
            where = ctx.place(first)
            record.flags.append(("", f"与{where}为该生在{school.name}的同一学籍而内容不一致，已按{where}处理，请核实"))
            outcomes.append(outcome)
            continue
        if "status" in changed:
            if status not in TRANSITIONS[enrolment.status]:
                record.flags.append(
                    (
                        label("status", labels),
                        f"学籍状态由“{enrolment.get_status_display()}”变为“{Status(status).label}”，不符合正常变动流程，请核实",
                    )
                )
            history.append((enrolment, enrolment.status, status))
            enrolment.status_since = ctx.today
        for attr in changed:
            setattr(enrolment, attr, wanted[attr])
        if changed and enrolment.pk:
            update.append(enrolment)
        outcomes.append("updated" if changed or outcome == "updated" else outcome)
    Enrolment.objects.bulk_create(create, batch_size=1000)
    Enrolment.objects.bulk_update(update, ["status", "status_since", "grade", "school_class", "national_student_number"], batch_size=1000)
    ctx.enrolments_met.update({e.pk: row for e, row in met_here.values()})
    StatusChange.objects.bulk_create(
        [
            StatusChange(
                enrolment=e,
                from_status=f,
                to_status=t,
                effective_date=ctx.today,
                reason=f"学籍系统导入（{ctx.reference}）",
                recorded_by=ctx.actor,
            )
            for e, f, t in history
        ],
        batch_size=1000,
    )
    refresh_placements(children)
    return outcomes


def refresh_placements(child_ids: list[int]) -> None:
    """Set-based twin of enrolments.services.refresh_current_placement for a chunk of children."""
    latest = {}
    for e in Enrolment.objects.filter(child_id__in=child_ids, status__in=OPEN_STATUSES).order_by("child_id", "-entry_date", "-id"):
        latest.setdefault(e.child_id, (e.school_id, e.school_class_id))
    stale = []
    for child in Child.objects.filter(pk__in=child_ids).only("id", "current_school_id", "current_class_id"):
        placement = latest.get(child.pk, (None, None))
        if (child.current_school_id, child.current_class_id) != placement:
            child.current_school_id, child.current_class_id = placement
            stale.append(child)
    Child.objects.bulk_update(stale, ["current_school", "current_class"], batch_size=1000)


def write_external_studies(ctx: Context, pairs: list[tuple[Record, int, str]]) -> list[str]:
    existing = set(ExternalStudy.objects.filter(child_id__in=[c for _, c, _ in pairs]).values_list("child_id", "school_name"))
    create, outcomes = [], []
    for record, child_id, outcome in pairs:
        key = (child_id, record.values["school_name"])
        if key in existing:
            outcomes.append(outcome)
            continue
        existing.add(key)
        create.append(
            ExternalStudy(
                child_id=child_id,
                school_name=record.values["school_name"],
                place=record.values.get("study_place", ""),
                national_student_number=record.values.get("national_student_number", ""),
                recorded_on=ctx.today,
                batch=ctx.batch,
            )
        )
        outcomes.append("created" if outcome == "created" else "updated")
    ExternalStudy.objects.bulk_create(create, batch_size=1000)
    return outcomes
