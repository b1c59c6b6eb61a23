"""Benchmark: generate the demo county and load it into a fresh database.

    .venv/bin/python bench/bench_demo_load.py [--scale 1.0] [--seed 2026] [--tracemalloc] [--json]

Uses a fresh SQLite file in a temporary directory; with DATABASE_URL set (a PostgreSQL
server), a scratch database `kongchuo_bench` on that server, dropped afterwards. Reports
the time to generate (pure Python), the time to load (one transaction), rows written,
rows per second, peak memory, and the floor: a bare `executemany` of the same number of
child-shaped rows into a plain table without indexes or constraints, on the same engine.
"""

import argparse
import datetime as dt
import json
import os
import platform
import resource
import shutil
import sqlite3
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BENCH_DATABASE = "kongchuo_bench"


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def scratch_postgres(url: str) -> tuple[str, str]:
    """Create the scratch database on the server of `url`; return (its URL, the server URL)."""
    import psycopg

    parts = urlsplit(url)
    server = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DATABASE}")
        conn.execute(f"CREATE DATABASE {BENCH_DATABASE}")
    return urlunsplit(parts._replace(path=f"/{BENCH_DATABASE}")), server


def drop_postgres(server: str) -> None:
    import psycopg

    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {BENCH_DATABASE} WITH (FORCE)")


def child_rows(dataset) -> list[tuple]:
    """The Child table's columns, as plain values (ids faked), for the floor."""
    now = dt.datetime.now(dt.UTC).isoformat()
    return [
        (c.id_number, "valid" if c.id_number else "pending", c.id_number_raw, c.name, "pinyin", "py", c.gender,
         c.birth_date.isoformat(), c.ethnicity, c.health, c.disability_category, c.disability_grade,
         c.disability_certificate_no, 1, c.household_address, 1, c.current_address, 1, 1, 1, 1, now, now)
        for c in dataset.children
    ]


FLOOR_TABLE = (
    "CREATE TABLE floor_child (id_number varchar(18), id_number_status varchar(10), id_number_raw varchar(40),"
    " name varchar(40), name_pinyin varchar(120), name_initials varchar(20), gender varchar(1), birth_date varchar(10),"
    " ethnicity varchar(2), health varchar(1), disability_category varchar(20), disability_grade integer,"
    " disability_certificate_no varchar(30), household_division_id bigint, household_address varchar(200),"
    " current_division_id bigint, current_address varchar(200), county_id bigint, township_id bigint,"
    " current_school_id bigint, current_class_id bigint, created_at varchar(40), updated_at varchar(40))"
)


def floor_sqlite(rows: list[tuple], directory: str) -> float:
    conn = sqlite3.connect(Path(directory) / "floor.sqlite3", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute(FLOOR_TABLE)
    placeholders = ", ".join("?" * len(rows[0]))
    started = time.perf_counter()
    conn.execute("BEGIN")
    conn.executemany(f"INSERT INTO floor_child VALUES ({placeholders})", rows)
    conn.execute("COMMIT")
    seconds = time.perf_counter() - started
    conn.close()
    return seconds


def floor_postgres(rows: list[tuple], url: str) -> float:
    import psycopg

    with psycopg.connect(url) as conn:
        conn.execute(FLOOR_TABLE)
        conn.commit()
        placeholders = ", ".join(["%s"] * len(rows[0]))
        started = time.perf_counter()
        with conn.cursor() as cursor:
            cursor.executemany(f"INSERT INTO floor_child VALUES ({placeholders})", rows)
        conn.commit()
        return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--tracemalloc", action="store_true", help="also measure the Python heap peak (slower)")
    parser.add_argument("--json", action="store_true", help="print the results as one JSON object")
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix="kc-bench-")
    os.environ["KONGCHUO_DATA_DIR"] = workdir  # before django.setup(): settings read it once
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kongchuo.settings")
    server = None
    if os.environ.get("DATABASE_URL"):
        os.environ["DATABASE_URL"], server = scratch_postgres(os.environ["DATABASE_URL"])
    try:
        return run(args, workdir, server)
    finally:
        from django.db import connections

        connections.close_all()
        if server is not None:
            drop_postgres(server)
        shutil.rmtree(workdir, ignore_errors=True)


def run(args, workdir: str, server: str | None) -> int:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from kongchuo.demo.generator import generate
    from kongchuo.demo.loader import load

    call_command("migrate", interactive=False, verbosity=0)
    connection.close()
    engine = connection.vendor
    if engine == "sqlite":
        version = f"SQLite {sqlite3.sqlite_version}"
    else:
        major, minor = divmod(connection.cursor().connection.info.server_version, 10000)
        version = f"PostgreSQL {major}.{minor}"
    rss_start = rss_mb()

    if args.tracemalloc:
        tracemalloc.start()
    started = time.perf_counter()
    dataset = generate(seed=args.seed, scale=args.scale)
    generate_s = time.perf_counter() - started
    generate_peak = tracemalloc.get_traced_memory()[1] / 2**20 if args.tracemalloc else None
    rss_generate = rss_mb()
    if args.tracemalloc:
        tracemalloc.reset_peak()

    started = time.perf_counter()
    result = load(dataset)
    load_s = time.perf_counter() - started
    load_peak = tracemalloc.get_traced_memory()[1] / 2**20 if args.tracemalloc else None
    rss_load = rss_mb()
    if args.tracemalloc:
        tracemalloc.stop()
    assert not result.already_loaded

    rows = child_rows(dataset)
    same_count = [rows[i % len(rows)] for i in range(result.rows)]
    floor = floor_sqlite if engine == "sqlite" else (lambda r, _: floor_postgres(r, os.environ["DATABASE_URL"]))
    floor_children_s = floor(rows, workdir)
    if engine == "sqlite":
        Path(workdir, "floor.sqlite3").unlink()
    else:
        with connection.cursor() as cursor:
            cursor.execute("DROP TABLE floor_child")
    floor_rows_s = floor(same_count, workdir)

    out = {
        "date": dt.date.today().isoformat(),
        "engine": version,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "scale": args.scale,
        "seed": args.seed,
        "children": result.counts["children"],
        "rows": result.rows,
        "generate_s": round(generate_s, 2),
        "load_s": round(load_s, 2),
        "rows_per_s": round(result.rows / load_s),
        "floor_children_s": round(floor_children_s, 3),
        "floor_rows_s": round(floor_rows_s, 2),
        "load_vs_floor_children": round(load_s / floor_children_s, 1),
        "load_vs_floor_rows": round(load_s / floor_rows_s, 1),
        "rss_start_mb": round(rss_start),
        "rss_after_generate_mb": round(rss_generate),
        "rss_after_load_mb": round(rss_load),
        "heap_peak_generate_mb": round(generate_peak) if generate_peak is not None else None,
        "heap_peak_load_mb": round(load_peak) if load_peak is not None else None,
    }
    if args.json:
        print(json.dumps(out, ensure_ascii=False))
        return 0
    print(f"Demo county load — {out['date']}, {version}, Python {out['python']}, {out['cpus']} CPUs, "
          f"scale {args.scale:g}, seed {args.seed}")
    table = [
        ("generate (pure Python)", f"{generate_s:.2f} s", f"{out['children']:,} children", ""),
        ("load (one transaction)", f"{load_s:.2f} s", f"{result.rows:,} rows", f"{out['rows_per_s']:,} rows/s"),
        ("floor: executemany, child rows", f"{floor_children_s:.3f} s", f"{len(rows):,} rows",
         f"load is {out['load_vs_floor_children']}×"),
        ("floor: executemany, same row count", f"{floor_rows_s:.2f} s", f"{result.rows:,} rows",
         f"load is {out['load_vs_floor_rows']}×"),
        ("peak RSS", f"{rss_start:.0f} → {rss_generate:.0f} → {rss_load:.0f} MB", "start → generated → loaded", ""),
    ]
    if args.tracemalloc:
        table.append(("Python heap peak", f"{generate_peak:.0f} / {load_peak:.0f} MB", "generate / load", ""))
    widths = [max(len(row[i]) for row in table) for i in range(4)]
    for row in table:
        print("  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
