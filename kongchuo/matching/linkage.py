"""Identity resolution: which rows of two lists (or of one table) are the same child.

Two stages, both set-based:

1. **Exact** on the normalised ID number, one join in DuckDB. A legacy 15-digit number is
   upgraded to 18 digits first (kongchuo.people.identity.upgrade_15_to_18).
2. **Probabilistic** (Fellegi–Sunter, with Splink) for what is left: missing or mistyped IDs,
   homophone or variant names, swapped day and month, guardian, address division. The model's
   m and u probabilities are fixed in model.json (trained once on generated data, see `train`),
   so a run never re-estimates anything: the same rows give the same links with the same weights,
   on DuckDB or on Spark.

Every link says why: its match weight (log2 of the Bayes factor, prior included) and, per
compared field, the level it reached in Chinese ("拼音相同（同音字）", "日月颠倒", "相差一位").

This module knows nothing of Django: rows come in as tuples, dicts or an Arrow table with
PERSON_COLUMNS; links come out as plain dataclasses.

Retrain the model on freshly generated data (rewrites model.json):

    .venv/bin/python -m kongchuo.matching.linkage --train
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import json
import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import duckdb
import pyarrow as pa
from splink import Linker, SettingsCreator, block_on
from splink import comparison_level_library as cll
from splink import comparison_library as cl
from splink.blocking_rule_library import And, CustomRule

from kongchuo.people.identity import upgrade_15_to_18
from kongchuo.people.names import clean_name, name_pinyin

PERSON_COLUMNS = ("uid", "source", "name", "gender", "birth_date", "id_number", "guardian_name", "division_code")
MODEL_PATH = Path(__file__).with_name("model.json")

EXACT_ID_WEIGHT = 99.0  # stands for "infinite": above any weight the model can give (max ≈ 60), finite for JSON and SQL
EXACT_AGREEMENT = {"身份证号": "完全一致"}
LEGACY_AGREEMENT = {"身份证号": "15位旧号升级为18位后一致"}
ACCEPTED_NOTE = {"人工审核": "已确认为同一人"}
RIVAL_NOTE = "其他候选"
REVIEW_NOTE = "复核原因"
RIVAL_MARGIN = 10.0  # a partner this much stronger (in weight) makes a link contested: review, not auto
RIVAL_EXEMPT_WEIGHT = 24.0  # above this a link stands on its own (a twin sharing a character of the name scores ≈ 21)
UPPER_FLOOR = 8.0
DEDUPE_SHIFT = 7.0  # ≈ log2(100): about one row in a hundred has a duplicate within its own list
_ID_TYPO_LEVELS = frozenset({"15位旧号与18位号码对应", "相差一位", "相邻两位颠倒"})

# An ID number shared by more rows than this is a placeholder (000…, a school's default), not a person.
MAX_ROWS_PER_ID = 8

_ARROW_SCHEMA = pa.schema(
    [
        ("uid", pa.string()),
        ("source", pa.string()),
        ("name", pa.string()),
        ("gender", pa.string()),
        ("birth_date", pa.date32()),
        ("id_number", pa.string()),
        ("guardian_name", pa.string()),
        ("division_code", pa.string()),
    ]
)
_PAIR_SCHEMA = pa.schema([("l", pa.string()), ("r", pa.string())])
_COMPOUND_SURNAMES = frozenset("欧阳 上官 司马 诸葛 东方 皇甫 尉迟 公孙 慕容 令狐 夏侯 长孙 宇文 司徒 端木 独孤 南宫 西门".split())


@dataclass(frozen=True)
class Link:
    left: str
    right: str
    weight: float
    probability: float
    agreements: dict[str, str] = field(hash=False)


@dataclass
class LinkResult:
    auto: list[Link] = field(default_factory=list)  # weight ≥ upper: the same child
    review: list[Link] = field(default_factory=list)  # lower ≤ weight < upper: a person decides
    stats: dict[str, Any] = field(default_factory=dict)  # row counts, pair counts, seconds per stage


# --- the model: comparisons, their levels, blocking -------------------------------------------------------------
#
# (key, Chinese field name, levels). Each level: (key, Chinese explanation, level creator). The first level of a
# comparison is its null level (no evidence either way); the others are tried in order, the first that holds wins.


# Same surname (by sound), two-character given names with one character in the same place: 王子轩/王子豪.
_ONE_GIVEN_CHAR_SAME = (
    "surname_py_l = surname_py_r AND length(given_l) > 1 AND length(given_r) > 1"
    " AND (substr(given_l, 1, 1) = substr(given_r, 1, 1) OR substr(given_l, 2, 1) = substr(given_r, 2, 1))"
)


def _comparisons() -> list[tuple[str, str, list[tuple[str, str, Any]]]]:
    return [
        ("id_number", "身份证号", [
            ("null", "一方缺失", cll.NullLevel("id18")),
            ("exact", "完全一致", cll.ExactMatchLevel("id18")),
            ("legacy15", "15位旧号与18位号码对应", cll.CustomLevel("(id_was15_l OR id_was15_r) AND id15_l = id15_r")),
            ("one_digit", "相差一位", cll.LevenshteinLevel("id18", 1)),
            ("transposed", "相邻两位颠倒", cll.DamerauLevenshteinLevel("id18", 1)),
            ("else", "不同", cll.ElseLevel()),
        ]),
        ("name", "姓名", [
            ("null", "一方缺失", cll.NullLevel("name")),
            ("exact", "完全一致", cll.ExactMatchLevel("name")),
            ("pinyin", "拼音相同（同音字）", cll.ExactMatchLevel("name_py")),
            ("given_one_char", "同姓，名字有一字相同", cll.CustomLevel(_ONE_GIVEN_CHAR_SAME)),
            ("given_close", "同姓，名字拼音相近", cll.And(cll.ExactMatchLevel("surname_py"), cll.JaroWinklerLevel("given_py", 0.88))),
            ("surname", "同姓，名字不同", cll.ExactMatchLevel("surname_py")),
            ("else", "不同", cll.ElseLevel()),
        ]),
        ("birth_date", "出生日期", [
            ("null", "一方缺失", cll.NullLevel("birth")),
            ("exact", "完全一致", cll.ExactMatchLevel("birth")),
            ("swapped", "日月颠倒", cll.CustomLevel("birth_l = birth_swap_r")),
            ("one_digit", "相差一位数字", cll.LevenshteinLevel("birth", 1)),
            ("same_year", "同年，月日不同", cll.ExactMatchLevel("birth_year")),
            ("else", "不同", cll.ElseLevel()),
        ]),
        ("gender", "性别", [
            ("null", "一方缺失", cll.NullLevel("gender")),
            ("exact", "一致", cll.ExactMatchLevel("gender")),
            ("else", "不同", cll.ElseLevel()),
        ]),
        ("guardian_name", "监护人", [
            ("null", "一方缺失", cll.NullLevel("guardian")),
            ("exact", "完全一致", cll.ExactMatchLevel("guardian")),
            ("pinyin", "拼音相同（同音字）", cll.ExactMatchLevel("guardian_py")),
            ("close", "拼音相近", cll.JaroWinklerLevel("guardian_py", 0.9)),
            ("surname", "同姓，名字不同", cll.ExactMatchLevel("guardian_surname_py")),
            ("else", "不同", cll.ElseLevel()),
        ]),
        ("division_code", "住址", [
            ("null", "一方缺失", cll.NullLevel("county")),
            ("village", "同村（社区）", cll.ExactMatchLevel("village")),
            ("township", "同乡镇（街道）", cll.ExactMatchLevel("township")),
            ("county", "同县（区），乡镇不同", cll.ExactMatchLevel("county")),
            ("else", "不同县", cll.ElseLevel()),
        ]),
    ]


def _blocking_rules(mode: str) -> list:
    """Which pairs are compared at all. Each rule is an equi-join, so a province stays near-linear.

    Pairs that stage 1 already settled are left out: in link mode, pairs of two rows that both found their
    exact-ID partner (a row that did can still pair with one that did not: a child registered twice, once
    with a mistyped ID); in dedupe mode, pairs with equal IDs.
    """
    unsettled = CustomRule("NOT (l.settled AND r.settled)") if mode == "link" else CustomRule("coalesce(l.id18 <> r.id18, true)")
    keys = [
        ("name_py", "birth_year"),  # homophones, swapped day/month, any ID error
        ("birth", "surname_py"),  # a variant character in the given name
        ("id_head14",),  # a slip in the order code or check digit (and twins, to tell them apart)
        ("id_tail12",),  # a slip in the region code
        ("id15",),  # the legacy 15-digit form against the 18-digit one
        ("name_py", "township"),  # birth date missing or mistyped twice
        ("guardian_py", "birth"),  # a different name (乳名/学名) under the same guardian
    ]
    return [And(block_on(*columns), unsettled) for columns in keys]


def load_model(path: Path = MODEL_PATH) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def splink_settings(model: Mapping[str, Any], *, link_type: str) -> SettingsCreator:
    """The Splink settings for `model` (m/u fixed): one definition for DuckDB and Spark alike."""
    comparisons = []
    for key, _title, levels in _comparisons():
        creators = []
        for level_key, label, creator in levels:
            options: dict[str, Any] = {"label_for_charts": label}
            if level_key == "null":
                options["is_null_level"] = True
            else:
                probabilities = model["comparisons"].get(key, {}).get(level_key)
                if probabilities:
                    options.update(m_probability=probabilities["m"], u_probability=probabilities["u"])
            creators.append(creator.configure(**options))
        comparisons.append(cl.CustomComparison(creators, output_column_name=key))
    return SettingsCreator(
        link_type=link_type,
        comparisons=comparisons,
        blocking_rules_to_generate_predictions=_blocking_rules("link" if link_type == "link_only" else "dedupe"),
        probability_two_random_records_match=model["probability_two_random_records_match"],
        retain_matching_columns=True,  # gamma_* (the level per field) only come with it
        retain_intermediate_calculation_columns=False,
    )


# --- preparing rows ----------------------------------------------------------------------------------------------


def as_arrow(records: Any) -> pa.Table:
    """Rows as an Arrow table with PERSON_COLUMNS: from an Arrow table, tuples (e.g. values_list) or mappings."""
    if isinstance(records, pa.Table):
        return records.select(list(PERSON_COLUMNS)).cast(_ARROW_SCHEMA)
    rows = records if isinstance(records, list) else list(records)
    if rows and isinstance(rows[0], Mapping):
        columns = {name: [row.get(name) for row in rows] for name in PERSON_COLUMNS}
    else:
        columns = dict(zip(PERSON_COLUMNS, zip(*rows, strict=True), strict=True)) if rows else {n: [] for n in PERSON_COLUMNS}
    columns["uid"] = [str(uid) for uid in columns["uid"]]
    for name in ("division_code", "id_number"):
        columns[name] = [None if value is None else str(value) for value in columns[name]]
    return pa.table({name: pa.array(list(columns[name]), type=_ARROW_SCHEMA.field(name).type) for name in PERSON_COLUMNS})


def _pinyin_rows(names: Iterable[str]) -> pa.Table:
    """One row per distinct name: its full pinyin and those of surname and given name.

    Character by character (pypinyin once per distinct character): a province's lists hold a few hundred
    thousand distinct names but only a few thousand characters. Both sides get the same reading of a
    character, which is all matching needs.
    """
    out: dict[str, list] = {"raw": [], "clean": [], "given": [], "py": [], "surname_py": [], "given_py": []}
    for raw in names:
        name = clean_name(raw)
        split = 2 if name[:2] in _COMPOUND_SURNAMES else 1
        surname_py = "".join(_char_pinyin(ch) for ch in name[:split])
        given_py = "".join(_char_pinyin(ch) for ch in name[split:])
        out["raw"].append(raw)
        out["clean"].append(name or None)
        out["given"].append(name[split:] or None)
        out["py"].append(surname_py + given_py or None)
        out["surname_py"].append(surname_py or None)
        out["given_py"].append(given_py or None)
    return pa.table(out)


@functools.cache
def _char_pinyin(ch: str) -> str:
    return name_pinyin(ch)[0] if ch != "·" else ""


_PREPARE_SQL = """
CREATE OR REPLACE TABLE {out} AS
WITH ids AS (
    SELECT r.*, nullif(upper(regexp_replace(coalesce(r.id_number, ''), '[\\s\\-]', '', 'g')), '') AS id_raw
    FROM {raw} r
), upgraded AS (
    SELECT i.*,
           CASE WHEN length(i.id_raw) = 15 THEN u.id18
                WHEN regexp_full_match(i.id_raw, '[0-9]{{17}}[0-9X]') THEN i.id_raw END AS id18_any,
           length(i.id_raw) = 15 AND u.id18 IS NOT NULL AS id_was15
    FROM ids i LEFT JOIN {legacy} u ON u.id15 = i.id_raw
), counted AS (
    SELECT *, count(*) OVER (PARTITION BY id18_any) AS id_rows FROM upgraded
)
SELECT
    c.uid AS unique_id,
    c.source,
    nm.clean AS name, nm.given, nm.py AS name_py, nm.surname_py, nm.given_py,
    CASE upper(c.gender) WHEN 'M' THEN 'M' WHEN 'F' THEN 'F' END AS gender,
    strftime(c.birth_date, '%Y%m%d') AS birth,
    strftime(c.birth_date, '%Y%d%m') AS birth_swap,
    strftime(c.birth_date, '%Y') AS birth_year,
    CASE WHEN c.id_rows <= {max_rows} OR c.id18_any IS NULL THEN c.id18_any END AS id18,
    coalesce(c.id_was15, false) AS id_was15,
    substr(c.id18_any, 1, 6) || substr(c.id18_any, 9, 9) AS id15,
    substr(c.id18_any, 1, 14) AS id_head14,
    substr(c.id18_any, 7, 12) AS id_tail12,
    gd.clean AS guardian, gd.py AS guardian_py, gd.surname_py AS guardian_surname_py,
    CASE WHEN length(c.division_code) >= 12 THEN substr(c.division_code, 1, 12) END AS village,
    CASE WHEN length(c.division_code) >= 9 THEN substr(c.division_code, 1, 9) END AS township,
    CASE WHEN length(c.division_code) >= 6 THEN substr(c.division_code, 1, 6) END AS county,
    false AS settled
FROM counted c
LEFT JOIN {pinyin} nm ON nm.raw = c.name
LEFT JOIN {pinyin} gd ON gd.raw = c.guardian_name
"""


def _prepare(con: duckdb.DuckDBPyConnection, tables: dict[str, pa.Table]) -> None:
    """Derived columns for every input (normalised ID and its parts, pinyin, date strings, division levels)."""
    for name, table in tables.items():
        con.register(f"{name}_arrow", table)
    union = " UNION ".join(
        f"SELECT name AS n FROM {name}_arrow UNION SELECT guardian_name FROM {name}_arrow" for name in tables
    )
    names = [n for (n,) in con.execute(f"SELECT DISTINCT n FROM ({union}) WHERE n IS NOT NULL").fetchall()]
    con.register("pinyin_arrow", _pinyin_rows(names))
    con.execute("CREATE OR REPLACE TABLE pinyin AS SELECT * FROM pinyin_arrow")
    legacy_union = " UNION ".join(f"SELECT id_number FROM {name}_arrow" for name in tables)
    legacy = [
        v for (v,) in con.execute(
            f"SELECT DISTINCT upper(trim(id_number)) FROM ({legacy_union}) WHERE regexp_full_match(trim(id_number), '[0-9]{{15}}')"
        ).fetchall()
    ]
    con.register("legacy_arrow", pa.table({"id15": legacy, "id18": [upgrade_15_to_18(v) for v in legacy]}, schema=pa.schema(
        [("id15", pa.string()), ("id18", pa.string())])))
    con.execute("CREATE OR REPLACE TABLE legacy AS SELECT * FROM legacy_arrow")
    for name in tables:
        con.execute(_PREPARE_SQL.format(out=name, raw=f"{name}_arrow", legacy="legacy", pinyin="pinyin", max_rows=MAX_ROWS_PER_ID))
        con.unregister(f"{name}_arrow")


# --- the two stages ----------------------------------------------------------------------------------------------


def _exact_pairs(con: duckdb.DuckDBPyConnection, mode: str) -> list[tuple[str, str, bool]]:
    if mode == "dedupe":
        sql = """SELECT a.unique_id, b.unique_id, a.id_was15 OR b.id_was15 FROM people a
                 JOIN people b ON a.id18 = b.id18 AND a.unique_id < b.unique_id"""
    else:
        sql = "SELECT a.unique_id, b.unique_id, a.id_was15 OR b.id_was15 FROM left_people a JOIN right_people b ON a.id18 = b.id18"
    return con.execute(sql).fetchall()


def _level_labels(linker: Linker) -> list[tuple[str, str, dict[int, str]]]:
    """(gamma column, Chinese field name, {gamma value: explanation}) per comparison."""
    titles = {key: title for key, title, _ in _comparisons()}
    out = []
    for comparison in linker._settings_obj.comparisons:
        labels = {level.comparison_vector_value: level.label_for_charts for level in comparison.comparison_levels}
        out.append((comparison._gamma_column_name, titles[comparison.output_column_name], labels))
    return out


def _splink_links(
    con: duckdb.DuckDBPyConnection,
    *,
    mode: str,
    model: Mapping[str, Any],
    lower: float,
    backend: str,
    spark: Any,
) -> list[Link]:
    """Score the candidate pairs stage 1 left open; the links with weight ≥ lower."""
    link_type = "dedupe_only" if mode == "dedupe" else "link_only"
    inputs = ["people"] if mode == "dedupe" else ["left_people", "right_people"]
    if any(_row_count(con, name) == 0 for name in inputs):
        return []
    if backend == "duckdb":
        from splink import DuckDBAPI

        db_api = DuckDBAPI(con)
        frames = [db_api.register(name, dataset_display_name=name) for name in inputs]
    elif backend == "spark":
        from splink import SparkAPI

        if spark is None:
            raise ValueError('backend="spark" needs a SparkSession (see spark_session())')
        db_api = SparkAPI(spark_session=spark, break_lineage_method="persist")
        frames = [
            db_api.register(spark.createDataFrame(con.sql(f"SELECT * FROM {name}").to_arrow_table()), dataset_display_name=name)
            for name in inputs
        ]
    else:
        raise ValueError(f"unknown backend {backend!r}: duckdb or spark")
    linker = Linker(frames if len(frames) > 1 else frames[0], splink_settings(model, link_type=link_type), log_level=None)
    predictions = linker.inference.predict(threshold_match_weight=lower if math.isfinite(lower) else None, warning_mode="never")
    labels = _level_labels(linker)
    columns = ["unique_id_l", "unique_id_r", "match_weight", "match_probability", "id18_l", "id18_r"]
    columns += [gamma for gamma, _, _ in labels]
    if mode == "link":
        columns += ["source_dataset_l"]
    if backend == "spark":
        rows = [tuple(row) for row in predictions.as_spark_dataframe().select(*columns).collect()]
    else:
        rows = con.execute(f"SELECT {', '.join(columns)} FROM {predictions.physical_name}").fetchall()
    links = []
    for row in rows:
        uid_l, uid_r, weight, probability, id_l, id_r = row[:6]
        if mode == "dedupe" and id_l is not None and id_l == id_r:
            continue  # stage 1 has it
        if mode == "link" and row[-1] != "left_people":
            uid_l, uid_r = uid_r, uid_l
        agreements = {title: names[gamma] for (_, title, names), gamma in zip(labels, row[6:6 + len(labels)], strict=True)}
        links.append(Link(uid_l, uid_r, round(float(weight), 3), float(probability), agreements))
    return links


def _row_count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    return con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]


def link_people(
    records: Any,
    *,
    mode: Literal["dedupe", "link"] = "dedupe",
    other: Any = None,
    upper: float | None = None,
    lower: float | None = None,
    decisions: Mapping[tuple[str, str], bool] | None = None,
    backend: Literal["duckdb", "spark"] = "duckdb",
    spark: Any = None,
    model: Mapping[str, Any] | None = None,
) -> LinkResult:
    """The same children among `records` (mode="dedupe") or between `records` and `other` (mode="link").

    `records`/`other`: rows with PERSON_COLUMNS (tuples in that order, mappings, or an Arrow table).
    In link mode every Link has left = a uid of `records`, right = a uid of `other`.
    `upper`/`lower`: match-weight thresholds (defaults from model.json). Links at or above `upper` are
    `auto`; between `lower` and `upper`, `review`; below `lower`, dropped.
    `decisions`: earlier human decisions by pair (in either order for dedupe) — True puts the pair in
    `auto` (scored or not), False drops it, whatever the model says (stage 1 included).
    """
    if mode not in ("dedupe", "link"):
        raise ValueError(f"unknown mode {mode!r}: dedupe or link")
    if (mode == "link") != (other is not None):
        raise ValueError('mode="link" needs other=…; mode="dedupe" takes no other')
    model = model or load_model()
    # Within one list a row rarely has a duplicate; across two lists it usually has a partner: the prior odds
    # differ by about 2**dedupe_shift, and so do the thresholds.
    shift = model.get("dedupe_shift", 0.0) if mode == "dedupe" else 0.0
    upper = model["upper"] + shift if upper is None else upper
    lower = model["lower"] + shift if lower is None else lower
    if lower > upper:
        raise ValueError("lower must not exceed upper")
    started = time.perf_counter()
    exact, fuzzy, present, stats = _score(
        records, other, mode=mode, model=model, lower=lower, backend=backend, spark=spark, decisions=decisions
    )
    result = LinkResult(stats=stats)
    links = [Link(a, b, EXACT_ID_WEIGHT, 1.0, dict(LEGACY_AGREEMENT if legacy else EXACT_AGREEMENT)) for a, b, legacy in exact]
    links += _contested(fuzzy, links + fuzzy) if mode == "link" else fuzzy
    decided = _normalised_decisions(decisions, mode)
    seen: set[tuple[str, str]] = set()
    for link in links:
        key = _pair_key(link.left, link.right, mode)
        seen.add(key)
        verdict = decided.get(key)
        if verdict is False:
            continue
        if verdict is True:
            result.auto.append(Link(link.left, link.right, link.weight, link.probability, {**link.agreements, **ACCEPTED_NOTE}))
            continue
        place, link = _place(link, upper=upper, mode=mode)
        if place is not None:
            getattr(result, place).append(link)
    for (left, right), verdict in decided.items():
        if verdict and (left, right) not in seen and present(left, right):
            result.auto.append(Link(left, right, EXACT_ID_WEIGHT, 1.0, dict(ACCEPTED_NOTE)))
    result.auto.sort(key=lambda link: (-link.weight, link.left, link.right))
    result.review.sort(key=lambda link: (-link.weight, link.left, link.right))
    stats["seconds"] = round(time.perf_counter() - started, 3)
    return result


def _score(
    records: Any, other: Any, *, mode: str, model: Mapping[str, Any], lower: float, backend: str, spark: Any,
    decisions: Mapping | None,
) -> tuple[list[tuple[str, str, bool]], list[Link], Any, dict[str, Any]]:
    """Both stages, no verdicts: exact pairs (left, right, legacy?), fuzzy links ≥ lower, a presence test, stats."""
    stats: dict[str, Any] = {}
    started = time.perf_counter()
    con = duckdb.connect()
    try:
        if mode == "dedupe":
            _prepare(con, {"people": as_arrow(records)})
            stats["rows"] = _row_count(con, "people")
        else:
            _prepare(con, {"left_people": as_arrow(records), "right_people": as_arrow(other)})
            stats["rows"] = (_row_count(con, "left_people"), _row_count(con, "right_people"))
        present = _uids_among(con, mode, decisions)
        stats["prepare_seconds"] = round(time.perf_counter() - started, 3)

        mark = time.perf_counter()
        exact = _exact_pairs(con, mode)
        stats["exact_pairs"] = len(exact)
        if mode == "link":  # rows that found their exact-ID partner are only compared with rows that did not
            con.register("exact_arrow", pa.table({"l": [a for a, _, _ in exact], "r": [b for _, b, _ in exact]}, schema=_PAIR_SCHEMA))
            con.execute("UPDATE left_people SET settled = true WHERE unique_id IN (SELECT l FROM exact_arrow)")
            con.execute("UPDATE right_people SET settled = true WHERE unique_id IN (SELECT r FROM exact_arrow)")
            stats["unsettled_rows"] = con.execute(
                "SELECT (SELECT count(*) FROM left_people WHERE NOT settled), (SELECT count(*) FROM right_people WHERE NOT settled)"
            ).fetchall()[0]
        stats["exact_seconds"] = round(time.perf_counter() - mark, 3)

        mark = time.perf_counter()
        fuzzy = _splink_links(con, mode=mode, model=model, lower=lower, backend=backend, spark=spark)
        stats["splink_seconds"] = round(time.perf_counter() - mark, 3)
    finally:
        con.close()
    return exact, fuzzy, present, stats


def _uids_among(con: duckdb.DuckDBPyConnection, mode: str, decisions: Mapping | None):
    """Which uids named in `decisions` are in this run: an accepted pair is only reported when both rows are."""
    wanted = sorted({str(uid) for pair in decisions or () for uid in pair})
    tables = ("people", "people") if mode == "dedupe" else ("left_people", "right_people")
    found = []
    for table in tables:
        rows = con.execute(f"SELECT unique_id FROM {table} WHERE unique_id IN (SELECT unnest(?))", [wanted]).fetchall() if wanted else []
        found.append({uid for (uid,) in rows})
    return lambda left, right: left in found[0] and right in found[1]


def _place(link: Link, *, upper: float, mode: str) -> tuple[str | None, Link]:
    """("auto" | "review" | None for dropped, the link with the reason a person must look, if any)."""
    contested = RIVAL_NOTE in link.agreements
    if link.weight < upper:
        return (None if contested else "review"), link  # a weak link of a row with a far better partner is no question
    if contested:
        return "review", link
    reason = _needs_person(link, mode)
    if reason:
        return "review", Link(link.left, link.right, link.weight, link.probability, {**link.agreements, REVIEW_NOTE: reason})
    return "auto", link


def _needs_person(link: Link, mode: str) -> str | None:
    """Why a link above `upper` still goes to review: evidence the weights cannot see (twins share everything else)."""
    if "姓名" not in link.agreements:  # stage 1 or a person's decision
        return None
    if link.agreements["身份证号"] == "不同":
        return "两条记录的身份证号都有且不同"
    if mode == "dedupe" and link.agreements.get("姓名") not in ("完全一致", "拼音相同（同音字）") \
            and link.agreements.get("身份证号") not in _ID_TYPO_LEVELS:
        return "名字不同，又无身份证号佐证（可能是双胞胎）"
    same_guardian = link.agreements["监护人"] in ("完全一致", "拼音相同（同音字）")
    if mode == "dedupe" and link.agreements["身份证号"] == "一方缺失" and not same_guardian:
        return "无身份证号佐证，监护人也不一致（可能是同名同生日的另一个孩子）"
    return None


def _contested(fuzzy: list[Link], links: list[Link]) -> list[Link]:
    """Fuzzy links of a row that has a far better partner are marked: to review if they reach `upper`, else dropped.

    One row of a list is one child: when 易琪 in the registry has her household row by ID and the household
    row of her twin 易诗雨 (no ID, same parents, village and birthday) scores well against her too, the
    second link is the twin, not a duplicate. Links backed by a mistyped form of the same ID stay as scored, and
    so do links strong enough on their own (a child registered twice, once without ID: name, birthday, guardian
    and village all agree).
    """
    best_left: dict[str, Link] = {}
    best_right: dict[str, Link] = {}
    for link in links:
        if link.left not in best_left or link.weight > best_left[link.left].weight:
            best_left[link.left] = link
        if link.right not in best_right or link.weight > best_right[link.right].weight:
            best_right[link.right] = link
    out = []
    for link in fuzzy:
        rival = max(best_left[link.left], best_right[link.right], key=lambda other: other.weight)
        if (
            rival.weight >= link.weight + RIVAL_MARGIN
            and link.weight < RIVAL_EXEMPT_WEIGHT
            and link.agreements.get("身份证号") not in _ID_TYPO_LEVELS
        ):
            other = rival.right if rival.left == link.left else rival.left
            if rival.weight == EXACT_ID_WEIGHT:
                note = f"另有身份证号完全一致的记录（{other}）"
            else:
                note = f"另有更匹配的记录（{other}，权重高{rival.weight - link.weight:.1f}）"
            link = Link(link.left, link.right, link.weight, link.probability, {**link.agreements, RIVAL_NOTE: note})
        out.append(link)
    return out


def _pair_key(left: str, right: str, mode: str) -> tuple[str, str]:
    return (left, right) if mode == "link" or left <= right else (right, left)


def _normalised_decisions(decisions: Mapping[tuple[str, str], bool] | None, mode: str) -> dict[tuple[str, str], bool]:
    return {_pair_key(str(a), str(b), mode): bool(v) for (a, b), v in (decisions or {}).items()}


# --- Spark ---------------------------------------------------------------------------------------------------------


def spark_session(master: str = "local[1]", *, shuffle_partitions: int = 2):
    """A SparkSession ready for the model: Splink's similarity UDF jar (shipped in the splink wheel) on the classpath.

    For a cluster, build your own session with the same `spark.jars` setting (see docs/matching.md).
    """
    from pyspark.sql import SparkSession
    from splink.backends.spark import similarity_jar_location

    return (
        SparkSession.builder.master(master)
        .appName("kongchuo-matching")
        .config("spark.jars", similarity_jar_location())
        .config("spark.sql.shuffle.partitions", str(shuffle_partitions))
        .config("spark.default.parallelism", str(shuffle_partitions))
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )


# --- training ------------------------------------------------------------------------------------------------------


def train(*, n: int = 20_000, seed: int = 7, u_pairs: float = 1e7, path: Path = MODEL_PATH) -> dict[str, Any]:
    """Estimate m (from the generator's known truth) and u (random pairs), pick thresholds, write model.json.

    Only the pairs stage 2 will see are used: rows whose IDs matched exactly are left out, as in a run.
    """
    from kongchuo.matching.truth import generate

    truth = generate(n, seed)
    prior = 1e-4  # fixed on purpose: weights keep one meaning whatever the size of the lists
    blank: dict[str, Any] = {"comparisons": {}, "probability_two_random_records_match": prior}

    # m: the level each truly matching pair reaches, among the pairs stage 2 scores (after the exact stage).
    _, fuzzy, _, _ = _score(
        truth.household, truth.registry, mode="link", model=blank, lower=-math.inf, backend="duckdb", spark=None, decisions=None
    )
    true_links = [link for link in fuzzy if (link.left, link.right) in truth.links]
    titles = {key: title for key, title, _ in _comparisons()}
    m_counts = {key: {level: 0 for level, _, _ in levels} for key, _, levels in _comparisons()}
    for link in true_links:
        for key, _, levels in _comparisons():
            label = link.agreements[titles[key]]
            m_counts[key][next(level for level, text, _ in levels if text == label)] += 1

    # u: random pairs between two independently generated populations, so no pair is a true match.
    from splink import DuckDBAPI

    other = generate(n, seed + 1)
    con = duckdb.connect()
    _prepare(con, {"left_people": as_arrow(truth.household), "right_people": as_arrow(other.registry)})
    db_api = DuckDBAPI(con)
    frames = [db_api.register(name, dataset_display_name=name) for name in ("left_people", "right_people")]
    linker = Linker(frames, splink_settings(blank, link_type="link_only"), log_level=None)
    linker.training.estimate_u_using_random_sampling(max_pairs=u_pairs, seed=seed, min_count_per_level=None)
    u_values = {
        comparison.output_column_name: [level._u_probability for level in comparison.comparison_levels if not level.is_null_level]
        for comparison in linker._settings_obj.comparisons
    }
    con.close()

    comparisons: dict[str, dict[str, dict[str, float]]] = {}
    for key, _, levels in _comparisons():
        level_keys = [level for level, _, _ in levels if level != "null"]
        counts = m_counts[key]
        seen = sum(counts[level] for level in level_keys)
        out = {}
        for level, u in zip(level_keys, u_values[key], strict=True):
            # Half a count for a level no true pair reached (rare is not impossible); u floored at one in u_pairs
            # (Splink marks a level no random pair reached with a text, not a number).
            m = (counts[level] + 0.5) / (seen + 0.5 * len(level_keys))
            observed_u = isinstance(u, float)
            u = max(u if observed_u else 0.0, 1 / u_pairs)
            if not observed_u and counts[level] == 0:  # neither side ever reached it: no evidence either way
                u = m
            out[level] = {"m": float(f"{m:.4g}"), "u": float(f"{u:.4g}")}
        comparisons[key] = out

    model = {
        "about": "Fellegi-Sunter model for kongchuo.matching.linkage; regenerate with python -m kongchuo.matching.linkage --train",
        "trained": {"on": f"kongchuo.matching.truth.generate(n={n}, seed={seed})", "u_pairs": u_pairs, "date": dt.date.today().isoformat(),
                    "true_pairs_scored": len(true_links)},
        "probability_two_random_records_match": prior,
        "upper": None,
        "lower": None,
        "dedupe_shift": DEDUPE_SHIFT,
        "comparisons": comparisons,
    }
    model["upper"], model["lower"] = _pick_thresholds(model, truth)
    path.write_text(json.dumps(model, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return model


def _pick_thresholds(model: dict[str, Any], truth) -> tuple[float, float]:
    """upper: where wrong uncontested fuzzy links above it stay under 0.02 % of all true pairs (a fifth of the 0.1 % budget);
    lower: low enough that 99.9 % of the true fuzzy pairs at least reach the review queue."""
    result = link_people(truth.household, mode="link", other=truth.registry, upper=math.inf, lower=-math.inf, model=model)
    fuzzy = [link for link in result.review if link.weight != EXACT_ID_WEIGHT and RIVAL_NOTE not in link.agreements]
    fuzzy.sort(key=lambda link: -link.weight)
    budget = int(len(truth.links) * 0.0002)
    false_seen, upper = 0, fuzzy[0].weight if fuzzy else 0.0
    for link in fuzzy:
        if (link.left, link.right) not in truth.links:
            false_seen += 1
            if false_seen > budget:
                upper = link.weight
                break
    true_weights = sorted(link.weight for link in fuzzy if (link.left, link.right) in truth.links)
    lower = true_weights[int(len(true_weights) * 0.001)] if true_weights else 0.0
    # Never below UPPER_FLOOR: a namesake born the same day, ID missing on one side, other guardian and township,
    # scores about +6; that is a question for a person even when the training data holds no such pair.
    upper = max(math.floor(upper) + 1.0, UPPER_FLOOR)
    return upper, float(min(math.floor(lower), upper - 1))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m kongchuo.matching.linkage", description=__doc__.split("\n\n")[0])
    parser.add_argument("--train", action="store_true", help="re-estimate model.json on generated data")
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    if not args.train:
        parser.print_help()
        return
    model = train(n=args.n, seed=args.seed)
    print(json.dumps({k: model[k] for k in ("trained", "upper", "lower")}, ensure_ascii=False, indent=1))
    for key, levels in model["comparisons"].items():
        for level, p in levels.items():
            print(f"{key:14} {level:18} m={p['m']:<9.4g} u={p['u']:<10.4g} weight={math.log2(p['m'] / p['u']):+.2f}")


if __name__ == "__main__":
    main()
