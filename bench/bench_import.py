"""Benchmark (issue 3): our full import of a 200,000-row household list against a bare calamine read of it.

    .venv/bin/python bench/bench_import.py [--rows 200000] [--database-url postgres://...] [--seed 3] [--no-docs]

One run does everything: it generates a realistic, messy household .xlsx (a title row above the header,
header synonyms, 25 townships and 300 villages of 城口县 500229, ID numbers with spaces or a lower-case x,
a few per cent without an ID but with name and birth date, dates in mixed formats, guardian and phone),
then measures, each in its own process so that peak memory (ru_maxrss) is the step's own:

  (a) the floor: python-calamine reading every row of the file, nothing else;
  (b) our import: `import_store` + `import_run(dry_run=False)` (type check, zip-bomb check, parse, clean,
      validate, write in one transaction) into a fresh SQLite database in a temporary KONGCHUO_DATA_DIR,
      whose county, townships and villages are created first (not timed);
  (b') with --database-url, the same import into a scratch PostgreSQL database, dropped afterwards.

It prints the ratio (b)/(a) — the target is ≤ 3× — with rows/s and peak memory, and writes the results
into docs/performance.md under "## Import (issue 3)" (other sections of that file are left alone).
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import os
import platform
import random
import re
import resource
import secrets
import shlex
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DOCS = ROOT / "docs" / "performance.md"
HEADING = "## Import (issue 3)"
COUNTY = ("500229", "城口县")
TARGET = 3.0

# --- the county: 25 townships (街道, 镇, 乡 as 城口县 has them), 12 villages or communities each ----------

TOWNSHIPS = [
    "葛城街道", "复兴街道", "巴山镇", "坪坝镇", "庙坝镇", "明通镇", "修齐镇", "高观镇", "东安镇", "咸宜镇",
    "高燕镇", "北屏乡", "左岚乡", "沿河乡", "双河乡", "蓼子乡", "鸡鸣乡", "周溪乡", "明中乡", "治平乡",
    "岚天乡", "厚坪乡", "河鱼乡", "龙田乡", "四季乡",
]
VILLAGE_WORDS = [
    "新华", "红岩", "双河", "青龙", "白鹤", "金竹", "石门", "黄泥", "桃园", "杉树", "柏树", "大坪",
    "高楼", "中坝", "龙洞", "茶园", "松林", "梨子", "田坝", "岩湾", "联合", "东风", "团结", "太平",
]
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢姜"
    "崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤冉"
)
GIVEN = (
    "子梓浩宇轩涵欣怡雨晨思佳俊杰文博一诗可嘉明睿泽若熙雅琪晓婷鑫磊涛鹏阳瑞航乐心语彤萱妍悦梦洋天凯锦诚然安宁"
    "奕辰昊铭烨晗沫菲颖建国华军兰英红平丽芳伟强"
)
ETHNICITIES = ["汉族"] * 90 + ["汉"] * 4 + ["土家族"] * 4 + ["苗族", "3"]
GENDER_WORDS = {"M": ["男"] * 90 + ["1", "M", "男 "] * 3 + ["男性"], "F": ["女"] * 90 + ["2", "F", " 女"] * 3 + ["女性"]}
HEADER = [
    "序号", "姓 名", "性别", "民族", "出生年月", "公民身份号码", "户籍地址", "乡镇(街道)", "村(社区)",
    "监护人姓名", "与儿童关系", "联系电话", "备注",
]
RELATIONS = ["父亲"] * 5 + ["母亲"] * 4 + ["爷爷", "奶奶", "外婆", "祖父"]


def divisions() -> list[tuple[str, str, int, str | None]]:
    """(code, name, level, parent code) from the province down, parents first."""
    rows = [("500000", "重庆市", 1, None), ("500200", "县", 2, "500000"), (COUNTY[0], COUNTY[1], 3, "500200")]
    street = town = rural = 0
    for name in TOWNSHIPS:
        if name.endswith("街道"):
            street += 1
            code = f"{COUNTY[0]}{street:03d}"
        elif name.endswith("镇"):
            town += 1
            code = f"{COUNTY[0]}{100 + town:03d}"
        else:
            rural += 1
            code = f"{COUNTY[0]}{200 + rural:03d}"
        rows.append((code, name, 4, COUNTY[0]))
        for i, word in enumerate(VILLAGE_WORDS[:12]):
            community = name.endswith("街道") or i < 2
            rows.append((f"{code}{i + 1:03d}", f"{word}{'社区' if community else '村'}", 5, code))
    return rows


# --- the file -------------------------------------------------------------------------------------


def person_name(rng: random.Random) -> str:
    surname = SURNAMES[min(int(rng.expovariate(1 / 18)), len(SURNAMES) - 1)]  # common surnames more often
    given = "".join(rng.choice(GIVEN) for _ in range(1 if rng.random() < 0.2 else 2))
    return surname + given


def messy_date(rng: random.Random, day: dt.date, workbook_date):
    """A birth date cell as county clerks type it; None leaves the cell blank (the ID number gives it)."""
    r = rng.random()
    if r < 0.40:
        return workbook_date(day)  # a real Excel date cell
    if r < 0.55:
        return f"{day.year}.{day.month}.{day.day}"
    if r < 0.68:
        return f"{day:%Y%m%d}"
    if r < 0.78:
        return f"{day:%Y/%m/%d}"
    if r < 0.86:
        return f"{day.year}年{day.month}月{day.day}日"
    if r < 0.90:
        return f"{day:%Y-%m}"  # month only
    if r < 0.94:
        return int(f"{day:%Y%m%d}")  # 20120305 typed as a number
    return None


def messy_id(rng: random.Random, number: str) -> str:
    r = rng.random()
    if r < 0.03:
        return f"{number[:6]} {number[6:14]} {number[14:]}"
    if r < 0.05:
        return " " + number + " "
    if number.endswith("X") and r < 0.5:
        return number[:-1] + "x"
    return number


def generate(path: Path, rows: int, seed: int) -> dict:
    """Write the household workbook; returns what it holds (for the report)."""
    import xlsxwriter

    from kongchuo.people.identity import compose_id_number

    rng = random.Random(seed)
    townships = [(code, name) for code, name, level, _ in divisions() if level == 4]
    villages: dict[str, list[str]] = {}
    for _code, name, level, parent in divisions():
        if level == 5:
            villages.setdefault(parent, []).append(name)
    workbook = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    sheet = workbook.add_worksheet("适龄儿童花名册")
    date_format = workbook.add_format({"num_format": "yyyy-mm-dd"})
    sheet.write_row(0, 0, ["城口县2026年义务教育适龄儿童少年花名册（公安户籍）"])
    sheet.write_row(1, 0, HEADER)
    first_day, days = dt.date(2010, 1, 1), (dt.date(2020, 8, 31) - dt.date(2010, 1, 1)).days
    used: set[str] = set()
    stats = {"rows": rows, "missing_id": 0, "messy_id": 0, "date_cells": 0}
    for i in range(rows):
        birth = first_day + dt.timedelta(days=rng.randrange(days))
        gender = rng.choice("MF")
        while True:
            order = rng.randrange(0, 499) * 2 + (1 if gender == "M" else 2)  # odd order codes are male
            number = compose_id_number(COUNTY[0], birth, order)
            if number not in used:
                used.add(number)
                break
        name = person_name(rng)
        if rng.random() < 0.01:
            name = name[0] + " " + name[1:]  # a stray space
        township_code, township = rng.choice(townships)
        village = rng.choice(villages[township_code])
        missing_id = rng.random() < 0.03
        id_cell = "" if missing_id else messy_id(rng, number)
        date_cell = messy_date(rng, birth, lambda d: d)
        if missing_id and date_cell is None:
            date_cell = f"{birth:%Y-%m-%d}"  # without an ID, name and birth date identify the child
        stats["missing_id"] += missing_id
        stats["messy_id"] += id_cell not in ("", number)
        guardian = rng.choice(SURNAMES[:40]) + rng.choice(GIVEN) + rng.choice(GIVEN)
        phone = f"1{rng.choice('3578')}{rng.randrange(10**9):09d}"
        values = [
            i + 1,
            name,
            rng.choice(GENDER_WORDS[gender]) if (missing_id or rng.random() < 0.97) else "",
            rng.choice(ETHNICITIES),
            date_cell,
            id_cell,
            f"重庆市城口县{township}{village}{rng.randrange(1, 12)}组{rng.randrange(1, 80)}号",
            township if rng.random() < 0.9 else township[:-2] if township.endswith("街道") else township[:-1],
            village,
            guardian,
            rng.choice(RELATIONS),
            int(phone) if rng.random() < 0.3 else phone,
            "",
        ]
        row = 2 + i
        for col, value in enumerate(values):
            if value is None or value == "":
                continue
            if isinstance(value, dt.date):
                stats["date_cells"] += 1
                sheet.write_datetime(row, col, dt.datetime.combine(value, dt.time()), date_format)
            elif isinstance(value, int):
                sheet.write_number(row, col, value)
            else:
                sheet.write_string(row, col, value)
    sheet.write_row(rows + 3, 0, ["制表人：张红梅", "", "审核人：李建华", "", "日期：2026年3月2日"])
    workbook.close()
    return stats


# --- the measured steps, each run in a child process ------------------------------------------------


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def step_floor(path: Path) -> dict:
    """A bare python-calamine read of every row: the floor nothing that reads the file can beat."""
    import python_calamine

    started = time.perf_counter()
    workbook = python_calamine.CalamineWorkbook.from_path(str(path))
    rows = sum(1 for _ in workbook.get_sheet_by_index(0).iter_rows())
    return {"seconds": time.perf_counter() - started, "rows": rows, "peak_mb": peak_mb()}


def step_import(path: Path) -> dict:
    """Our full import, as `kongchuo import household FILE` runs it (environment set by the parent)."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kongchuo.settings")
    django.setup()
    from kongchuo.imports.services import import_run, import_store
    from kongchuo.people.models import Child

    started, cpu_started = time.perf_counter(), time.process_time()
    batch = import_store(actor=None, source="household", upload=path, file_name=path.name, county_code=COUNTY[0])
    summary = import_run(batch=batch, actor=None, dry_run=False)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
    keep = ("rows", "created", "updated", "unchanged", "rejected", "flagged")
    # With the rows prepared in a second process (kongchuo/imports/prepare.py) both are counted: the sum of the
    # two maxima, as if they peaked at the same moment (an upper bound: the fork shares pages until either writes them).
    prepare = resource.getrusage(resource.RUSAGE_CHILDREN)
    children = prepare.ru_maxrss / 1024
    return {"seconds": seconds, **{k: summary[k] for k in keep}, "children": Child.objects.count(), "peak_mb": peak_mb() + children,
            "prepare_peak_mb": children, "cpu_seconds": cpu_seconds, "prepare_cpu_seconds": prepare.ru_utime + prepare.ru_stime}


def step_bound(path: Path) -> dict:
    """The part no import of this file into this schema can skip: read every row, work out each name's pinyin,
    INSERT a child (with its township and village), its provenance and its guardian as plain rows in one
    transaction, the secondary indexes deferred as our import defers them. Nothing is cleaned, checked or
    looked up; the ID number's digits give birth date and gender. `write_seconds` is the writing alone."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kongchuo.settings")
    django.setup()
    import python_calamine
    from django.db import connection, transaction

    from kongchuo.core.bulkload import secondary_indexes_deferred
    from kongchuo.imports import readers, services
    from kongchuo.imports.apply import CHILD_COLUMNS, NEW_CHILD_COLUMNS, PERSON_WIDTH, insert_rows, reserve_ids
    from kongchuo.imports.sources import LIVE_INDEXES, SPECS
    from kongchuo.people.models import Child, FieldProvenance, Guardian, field_mask
    from kongchuo.people.names import name_pinyin
    from kongchuo.places.models import Division

    ops = connection.ops
    county = Division.objects.get(code=COUNTY[0]).pk
    places = {}  # (township, village) → (village id, township id), as the import's lookup finds them
    for village in Division.objects.filter(level=5).select_related("parent"):
        places[(village.parent.name, village.name)] = (village.pk, village.parent_id)
        places[(village.parent.name[:-2] if village.parent.name.endswith("街道") else village.parent.name[:-1], village.name)] = (
            village.pk, village.parent_id)
    now = ops.adapt_datetimefield_value(dt.datetime.now(dt.UTC))
    defaults = {f.attname: f.get_db_prep_save(f.get_default(), connection) for f in Child._meta.concrete_fields}
    defaults.update(county_id=county, created_at=now, updated_at=now)
    fields = field_mask(["birth_date", "gender", "household_address", "household_division", "name"])
    # As the import writes them: what every new child shares goes into the statement once (insert_rows' constants).
    columns = NEW_CHILD_COLUMNS[:PERSON_WIDTH]  # as the import binds them for a list without disability values
    constants = {c: defaults[c] for c in CHILD_COLUMNS if c not in columns}
    provenance = {"source": "household", "reference": "bench", "recorded_at": now, "batches": "{}", "refused": "{}"}
    started = time.perf_counter()
    rows = python_calamine.CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).iter_rows()
    data = (r for r in rows if isinstance(r[0], int | float) and r[1])  # numbered rows: not title, header or footer
    written, pinyin_seconds, write_seconds, names = 0, 0.0, 0.0, set()
    # As import_run writes: the collector paused, SQLite's page cache enlarged, one transaction, indexes deferred.
    with services._collector_paused(), services._sqlite_cache_for_bulk_writes(), transaction.atomic():
        began = time.perf_counter()
        deferring = secondary_indexes_deferred(  # the database has no ID number yet: the unique index waits too
            SPECS["household"].tables, incoming=readers.estimate_rows(path, "xlsx"), keep_leading=LIVE_INDEXES, unique_too=[Child])
        deferring.__enter__()
        write_seconds += time.perf_counter() - began
        while chunk := list(itertools.islice(data, 2000)):
            children, guardians = [], []
            for r in chunk:
                number = str(r[5]).replace(" ", "").upper()
                values = dict(defaults)
                values["name"] = str(r[1]).replace(" ", "")
                began = time.perf_counter()
                values["name_pinyin"], values["name_initials"] = name_pinyin(values["name"])
                pinyin_seconds += time.perf_counter() - began
                names.add(values["name"])
                values["id_number"] = number or None
                values["id_number_status"] = "valid" if number else "pending"
                values["gender"] = "M" if number and int(number[16]) % 2 else "F"
                born = dt.date(int(number[6:10]), int(number[10:12]), int(number[12:14])) if number else dt.date(2015, 1, 1)
                values["birth_date"] = ops.adapt_datefield_value(born)
                values["household_address"] = r[6]
                values["household_division_id"], values["township_id"] = places[(r[7], r[8])]
                children.append(tuple(values[c] for c in columns))
                guardians.append((r[9], "father", str(r[11])))
            began = time.perf_counter()
            ids = reserve_ids(Child, len(children))
            insert_rows(Child, ["id", *columns], [(pk, *row) for pk, row in zip(ids, children, strict=True)], constants)
            insert_rows(FieldProvenance, ["child", "fields"], [(pk, fields) for pk in ids], provenance)
            insert_rows(Guardian, ["child", "name", "relation", "phone", "order"],
                        [(pk, *g, 1) for pk, g in zip(ids, guardians, strict=True)])
            write_seconds += time.perf_counter() - began
            written += len(chunk)
        began = time.perf_counter()
        deferring.__exit__(None, None, None)  # the deferred indexes built
    finish_seconds = time.perf_counter() - began  # with the commit
    write_seconds += finish_seconds
    seconds = time.perf_counter() - started
    with connection.cursor() as cursor:
        indexes = sum(1 for c in connection.introspection.get_constraints(cursor, Child._meta.db_table).values() if c["index"])
    return {"seconds": seconds, "rows": written, "peak_mb": peak_mb(), "pinyin_seconds": pinyin_seconds, "names": len(names),
            "child_indexes": indexes, "write_seconds": write_seconds, "finish_seconds": finish_seconds}


def setup_database(env: dict) -> None:
    """Migrate the fresh database and create the county's divisions through the service (not timed)."""
    run([sys.executable, "-m", "kongchuo", "init"], env)
    script = (
        "from kongchuo.places.models import Division\n"
        "from kongchuo.places.services import division_create\n"
        f"rows = {divisions()!r}\n"
        "made = {}\n"
        "for code, name, level, parent in rows:\n"
        "    made[code] = division_create(actor=None, code=code, name=name, level=level, parent=made.get(parent))\n"
    )
    run([sys.executable, "-m", "kongchuo", "shell", "--no-imports", "-c", script], env)


def run(command: list[str], env: dict) -> str:
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{shlex.join(command[:4])} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    return done.stdout


def measure(step: str, path: Path, env: dict) -> dict:
    out = run([sys.executable, __file__, "--step", step, str(path)], env)
    return json.loads(out.strip().splitlines()[-1])


def environment(data_dir: Path, database_url: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env.update({"KONGCHUO_DATA_DIR": str(data_dir), "DJANGO_SETTINGS_MODULE": "kongchuo.settings", "LOG_LEVEL": "WARNING"})
    if database_url:
        env["DATABASE_URL"] = database_url
    return env


def scratch_postgres(url: str) -> tuple[str, str, str]:
    """A new database on the server of `url`: (its URL, the server's maintenance URL, its name)."""
    import psycopg

    parts = urlsplit(url)
    server = urlunsplit(parts._replace(path="/postgres"))
    name = f"kongchuo_bench_import_{secrets.token_hex(4)}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return urlunsplit(parts._replace(path=f"/{name}")), server, name


def drop_postgres(server: str, name: str) -> None:
    import psycopg

    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def postgres_version(server: str) -> str:
    import psycopg

    with psycopg.connect(server, autocommit=True) as conn:
        return conn.execute("SHOW server_version").fetchone()[0].split()[0]


# --- report -------------------------------------------------------------------------------------


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{os.cpu_count()} cores ({cpu}), Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}"


def wrap(text: str) -> str:
    return textwrap.fill(text, width=110, break_long_words=False, break_on_hyphens=False)


def spread(values: list[float], fmt: str) -> str:
    low, high = min(values), max(values)
    return format(low, fmt) if format(low, fmt) == format(high, fmt) else f"{format(low, fmt)}–{format(high, fmt)}"


def table(runs: list[dict[str, dict]], rows: int) -> list[str]:
    """One line per step; a range where several runs differ. × floor pairs each step with the floor read around it."""
    lines = ["| step | seconds | rows/s | × floor | peak memory |", "|---|---:|---:|---:|---:|"]
    for step in runs[0]:
        seconds = [run[step]["seconds"] for run in runs]
        ratios = [run[step]["seconds"] / run[step]["floor_seconds"] for run in runs]
        lines.append(
            f"| {step} | {spread(seconds, '.2f')} | {spread([rows / x for x in seconds], ',.0f')} | "
            f"{spread(ratios, '.2f')} | {spread([run[step]['peak_mb'] for run in runs], '.0f')} MB |"
        )
    return lines


def saving(saved: list[float]) -> str:
    """What the second process saved, each run's share of the one-process time; a run that took longer said so."""
    text = f"saves {spread([100 * max(x, 0) for x in saved], '.0f')} % of the time"
    if (worst := min(saved)) < 0:
        text += f" (in one run it took {-100 * worst:.0f} % longer than in one process: the other core was busy elsewhere)"
    return text


def verdict(ratios: list[float]) -> str:
    met = sum(1 for r in ratios if r <= TARGET)
    return "met" if met == len(ratios) else "not met" if not met else f"met in {met} of {len(ratios)} runs"


def write_docs(section: str) -> None:
    text = DOCS.read_text() if DOCS.exists() else "# Performance\n"
    pattern = re.compile(rf"^{re.escape(HEADING)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    DOCS.write_text(text.rstrip("\n") + "\n")


FLOOR = "(a) bare python-calamine read of every row (the floor)"
BOUND = "(c) one process: read, pinyin, plain INSERTs, nothing cleaned (SQLite)"
ONE_PROCESS = "(b) the same, all in one process (KONGCHUO_IMPORT_PROCESS_ROWS=off)"


def measure_run(path: Path, tmp: Path, run: int, database_url: str | None) -> dict[str, dict]:
    """One run of every step, each in a fresh process (and a fresh database for the imports).

    The floor is read again after every step, and each step is divided by the mean of the floors just before
    and just after it: this machine's speed drifts by a third within minutes (other tenants), and a ratio
    whose two halves were measured minutes apart would carry that drift."""
    floors = [measure("floor", path, environment(tmp / f"floor-{run}", None))]
    results: dict[str, dict] = {}

    def step(name: str, kind: str, env: dict) -> None:
        results[name] = measure(kind, path, env)
        floors.append(measure("floor", path, environment(tmp / f"floor-{run}", None)))
        results[name]["floor_seconds"] = (floors[-2]["seconds"] + floors[-1]["seconds"]) / 2

    sqlite_env = environment(tmp / f"sqlite-{run}", None)
    setup_database(sqlite_env)
    step("(b) our import into SQLite", "import", sqlite_env)
    one_env = {**environment(tmp / f"sqlite-one-{run}", None), "KONGCHUO_IMPORT_PROCESS_ROWS": "off"}
    setup_database(one_env)
    step(ONE_PROCESS, "import", one_env)
    if database_url:
        url, server, name = scratch_postgres(database_url)
        try:
            postgres_env = environment(tmp / f"postgres-{run}", url)
            setup_database(postgres_env)
            step(f"(b) our import into PostgreSQL {postgres_version(server)}", "import", postgres_env)
        finally:
            drop_postgres(server, name)
    bound_env = environment(tmp / f"bound-{run}", None)
    setup_database(bound_env)
    step(BOUND, "bound", bound_env)
    middle = sorted(floors, key=lambda f: f["seconds"])[len(floors) // 2]
    results = {FLOOR: {**middle, "floor_seconds": middle["seconds"]}, **results}
    print(f"run {run + 1}: the floor, read {len(floors)} times: " + ", ".join(f"{f['seconds']:.2f}" for f in floors) + " s")
    for name, r in results.items():
        assert name in (FLOOR, BOUND) or (r["rejected"] == 0 and r["children"] == r["created"]), r
        print(f"run {run + 1}: {name}: {r['seconds']:.2f} s = {r['seconds'] / r['floor_seconds']:.2f}× the floor around it, "
              f"peak {r['peak_mb']:.0f} MB")
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--runs", type=int, default=1, help="repeat every step (the table shows the range)")
    parser.add_argument("--database-url", help="also import into a scratch database on this PostgreSQL server")
    parser.add_argument("--no-docs", action="store_true", help="print the results only")
    parser.add_argument("--step", choices=["floor", "import", "bound"], help=argparse.SUPPRESS)  # a child process
    parser.add_argument("file", nargs="?", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        print(json.dumps({"floor": step_floor, "import": step_import, "bound": step_bound}[args.step](args.file)))
        return

    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="kc-bench-import-") as tmp:
        path = Path(tmp) / "household.xlsx"
        started = time.perf_counter()
        stats = generate(path, args.rows, args.seed)
        size_mb = path.stat().st_size / 1024 / 1024
        print(f"generated {path.name}: {args.rows:,} rows, {size_mb:.1f} MB, {stats['missing_id']:,} without an ID, "
              f"{stats['messy_id']:,} messy IDs, in {time.perf_counter() - started:.1f} s")
        runs = [measure_run(path, Path(tmp), run, args.database_url) for run in range(args.runs)]

    command = ".venv/bin/python bench/bench_import.py"
    command += f" --rows {args.rows}" if args.rows != 200_000 else ""
    command += f" --runs {args.runs}" if args.runs != 1 else ""
    command += f" --database-url {args.database_url}" if args.database_url else ""
    ours = [run["(b) our import into SQLite"]["seconds"] / run["(b) our import into SQLite"]["floor_seconds"] for run in runs]
    one = [run[ONE_PROCESS]["seconds"] / run[ONE_PROCESS]["floor_seconds"] for run in runs]
    saved = [1 - run["(b) our import into SQLite"]["seconds"] / run[ONE_PROCESS]["seconds"] for run in runs]
    bound = [run[BOUND]["seconds"] / run[BOUND]["floor_seconds"] for run in runs]
    pinyin = runs[0][BOUND]
    writing = [run[BOUND]["write_seconds"] / run[BOUND]["floor_seconds"] for run in runs]
    finishing = [run[BOUND]["finish_seconds"] / run[BOUND]["floor_seconds"] for run in runs]
    ours_runs = [run["(b) our import into SQLite"] for run in runs]
    writer_cpu = [r["cpu_seconds"] for r in ours_runs]
    preparer_cpu = [r["prepare_cpu_seconds"] for r in ours_runs]
    balanced = [(r["cpu_seconds"] + r["prepare_cpu_seconds"]) / 2 / r["floor_seconds"] for r in ours_runs]
    section = "\n".join(
        [
            HEADING,
            "",
            wrap("What is measured: a generated household list (公安户籍适龄儿童名单) of "
            f"{args.rows:,} rows as .xlsx ({size_mb:.1f} MB): a title row above the header, header synonyms "
            f"(公民身份号码, 性 别, 出生年月, 乡镇(街道), 村(社区), 监护人姓名), {stats['missing_id']:,} rows without an ID number "
            f"but with name and birth date, {stats['messy_id']:,} ID numbers with spaces or a lower-case x, birth dates as "
            "Excel dates, `2012.3.5`, `20120305`, `2012/03/05`, `2012年3月5日`, `2012-03` and numbers, guardian and phone, "
            "a footer; 25 townships and 300 villages of 城口县, created in the fresh database first (not timed). "
            "(b) is `import_store` + `import_run(dry_run=False)`, as `kongchuo import household FILE` runs it: type by content, "
            "zip-bomb check, header detection, cleaning and checking every cell, children, field provenance and guardians "
            "written in one transaction; a list this large is read and cleaned in a forked second process while the first "
            "writes (kongchuo/imports/prepare.py), and the one-process line turns that off. "
            "Each step runs in its own process; peak memory is that process's maximum resident "
            "set size, plus the preparing process's for (b) (Django included for (b) and (c); python-calamine holds the "
            "whole sheet in memory, hence the floor's; our import reads .xlsx as a stream, python-calamine-plus). "
            "The floor is read again after every step, and each step's × floor is against the mean of the reads just before "
            "and after it (this shared machine's speed drifts by a third within minutes); its own row shows the median read."),
            "",
            wrap("Reproduce (temporary data directories; with `--database-url` a scratch database on that server, dropped "
                 "afterwards):"),
            "",
            f"    {command}",
            "",
            wrap(f"Machine: {machine()}; load average {load:.1f} at the start (the machine was shared). "
                 f"Measured {dt.date.today():%Y-%m-%d}, {args.runs} run{'s' if args.runs > 1 else ''}."),
            "",
            *table(runs, args.rows),
            "",
            wrap(f"Our import into SQLite: **{spread(ours, '.1f')}× the bare read** (target ≤ {TARGET:g}×, {verdict(ours)}); all "
                 f"in one process it is {spread(one, '.1f')}×, so the second process {saving(saved)}. The machine has two cores: "
                 f"the writing process used {spread(writer_cpu, '.1f')} s of CPU and the "
                 f"preparing one {spread(preparer_cpu, '.1f')} s (the preparing one leaves part of a chunk to the "
                 "other whenever that one is waiting for it, prepare.py), so even shared perfectly between the two cores "
                 "that work would take "
                 f"{spread(balanced, '.1f')}× the read. (c) is one process that reads the file, works out the pinyin of its "
                 f"{pinyin['names']:,} distinct names ({pinyin['pinyin_seconds']:.1f} s) and INSERTs plain rows of the same "
                 f"children, provenance and guardians (indexes deferred as our import defers them; people_child has "
                 f"{pinyin['child_indexes']}), with nothing cleaned, checked or looked up: {spread(bound, '.1f')}× the read. Of that, "
                 f"the writing alone (INSERTs through Python's sqlite3, the deferred indexes built, the commit) is "
                 f"{spread(writing, '.1f')}× the read, which only one process can do; and building the deferred indexes and "
                 f"committing, {spread(finishing, '.1f')}× the read, come after the last row, with nothing left for the other "
                 "core to do beside them. Our import overlaps the rest of its work, one process reading and cleaning while the "
                 "other writes, but not that."),
            "",
        ]
    )
    print()
    print(section)
    if not args.no_docs:
        write_docs(section)
        print(f"written to {DOCS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
