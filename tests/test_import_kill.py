"""Killing the process mid-import leaves the database exactly as before — tested with a real SIGKILL.

Each variant runs `kongchuo` in subprocesses against its own data directory (and, for PostgreSQL, a
scratch database): a small list first so the database is not empty, then a large one killed once its
progress file shows that chunks have been written inside the import's transaction. Afterwards the
people, guardians, provenance, conflicts and audit log are as they were, the audit chain verifies,
and a fresh import (naming a child the killed one had written) goes through: no lock left behind.
"""

import csv
import datetime as dt
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from kongchuo.people.identity import compose_id_number

ROOT = Path(__file__).resolve().parent.parent
COUNTY = "500229"
BIG_ROWS = 60_000
KILL_AFTER_ROWS = 4_000  # two chunks written inside the transaction
STEP_TIMEOUT = 60  # seconds for any one command; nothing here may hang the suite

DIVISIONS = """
from kongchuo.places.services import division_create
province = division_create(actor=None, code="500000", name="重庆市", level=1)
city = division_create(actor=None, code="500200", name="县", level=2, parent=province)
county = division_create(actor=None, code="500229", name="城口县", level=3, parent=city)
township = division_create(actor=None, code="500229102", name="巴山镇", level=4, parent=county)
division_create(actor=None, code="500229102001", name="巴山村", level=5, parent=township)
"""

SNAPSHOT = """
import hashlib, json
from django.db import connection
with connection.cursor() as cursor:
    counts = {}
    for table in ("people_child", "people_guardian", "people_fieldprovenance", "imports_identityconflict", "audit_auditentry"):
        cursor.execute(f"SELECT COUNT(*) FROM {table}")
        counts[table] = cursor.fetchone()[0]
    cursor.execute("SELECT * FROM people_child ORDER BY id")
    rows = cursor.fetchall()
    if connection.vendor == "sqlite":
        cursor.execute("SELECT name, COALESCE(sql, '') FROM sqlite_master WHERE type = 'index' ORDER BY name")
    else:
        cursor.execute("SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema() ORDER BY indexname")
    indexes = cursor.fetchall()
print(json.dumps({**counts, "children_checksum": hashlib.sha256(repr(rows).encode()).hexdigest(), "indexes": indexes}))
"""

HEADER = ["姓名", "性别", "出生日期", "公民身份号码", "乡镇", "村", "监护人", "联系电话"]


GIVEN = "明华强伟芳丽军平秀英桂兰玉梅建国志红"


def person(i: int) -> list:
    """The i-th child of the generated lists: a valid ID number of its own, born 2010-2019."""
    birth = dt.date(2010, 1, 1) + dt.timedelta(days=i % 3650)
    order = 1 + i // 3650  # odd order codes are boys
    name = "李" + GIVEN[i % len(GIVEN)] + GIVEN[i // len(GIVEN) % len(GIVEN)]
    return [name, "男" if order % 2 else "女", f"{birth:%Y-%m-%d}", compose_id_number(COUNTY, birth, order), "巴山镇", "巴山村",
            "李建国", f"139{i:08d}"]


def write_list(path: Path, people) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(HEADER)
        writer.writerows(person(i) for i in people)
    return path


class Kongchuo:
    """`kongchuo …` in a subprocess, against one data directory and database."""

    def __init__(self, data_dir: Path, database_url: str | None):
        self.data_dir = data_dir
        self.env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "KONGCHUO_DATA_DIR")}
        self.env["KONGCHUO_DATA_DIR"] = str(data_dir)
        if database_url:
            self.env["DATABASE_URL"] = database_url

    def command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "kongchuo", *args]

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run(self.command(*args), env=self.env, cwd=ROOT, capture_output=True, text=True, timeout=STEP_TIMEOUT)
        if check and done.returncode != 0:
            raise AssertionError(f"kongchuo {' '.join(args[:2])} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
        return done

    def shell(self, code: str) -> str:
        return self.run("shell", "--no-imports", "-c", code).stdout

    def import_list(self, path: Path) -> dict:
        return json.loads(self.run("import", "household", str(path), "--county", COUNTY, "--json").stdout)

    def snapshot(self) -> dict:
        return json.loads(self.shell(SNAPSHOT).strip().splitlines()[-1])

    def progress(self) -> dict:
        """The running import's progress file ({} before its first chunk)."""
        for path in (self.data_dir / "files" / "imports").glob("*.progress.json"):
            try:
                return json.loads(path.read_text())
            except (OSError, ValueError):  # replaced while we read it
                pass
        return {}


def group_members(group: int) -> list[int]:
    """The processes of a process group (Linux /proc), zombies excluded."""
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if fields[0] != "Z" and int(fields[2]) == group:
            members.append(int(stat.parent.name))
    return members


def kill_mid_import(kongchuo: Kongchuo, path: Path) -> dict:
    """Start importing `path`, SIGKILL the importing process (not the process that prepares its rows, which it
    forked for a list this large) once enough rows are written; returns its last progress and the size of its
    process group just before the kill. The preparing process must not outlive it."""
    process = subprocess.Popen(
        kongchuo.command("import", "household", str(path), "--county", COUNTY),
        env=kongchuo.env,
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group: the preparing process is found there
    )
    try:
        deadline = time.monotonic() + STEP_TIMEOUT
        while (done := kongchuo.progress()).get("rows", 0) < KILL_AFTER_ROWS:
            if process.poll() is not None:
                pytest.fail(f"the import ended (exit {process.returncode}) before it could be killed: {process.stderr.read()}")
            if time.monotonic() > deadline:
                pytest.fail(f"no progress past {done} in {STEP_TIMEOUT} s")
            time.sleep(0.01)
        processes = len(group_members(process.pid))
        os.kill(process.pid, signal.SIGKILL)
        assert process.wait(timeout=STEP_TIMEOUT) == -signal.SIGKILL
        while left := group_members(process.pid):
            if time.monotonic() > deadline:
                pytest.fail(f"processes {left} outlived the killed import")
            time.sleep(0.05)
        return {**done, "processes": processes}
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=STEP_TIMEOUT)
        for pid in group_members(process.pid):
            os.kill(pid, signal.SIGKILL)
        process.stderr.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request):
    """None for SQLite in the data directory; for PostgreSQL a scratch database, dropped afterwards."""
    if request.param == "sqlite":
        yield None
        return
    server_url = os.environ.get("DATABASE_URL", "")
    if not server_url.startswith(("postgres://", "postgresql://")):
        pytest.skip("DATABASE_URL does not point at PostgreSQL")
    import psycopg

    parts = urlsplit(server_url)
    maintenance = urlunsplit(parts._replace(path="/postgres"))
    name = f"kongchuo_kill_{secrets.token_hex(4)}"
    with psycopg.connect(maintenance, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(maintenance, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def test_killing_an_import_leaves_the_database_as_before(tmp_path, database_url):
    kongchuo = Kongchuo(tmp_path / "data", database_url)
    kongchuo.run("init")
    kongchuo.shell(DIVISIONS)
    assert kongchuo.import_list(write_list(tmp_path / "first.csv", range(3)))["created"] == 3
    before = kongchuo.snapshot()
    assert before["people_child"] == 3 and before["audit_auditentry"] > 0

    big = write_list(tmp_path / "big.csv", range(100, 100 + BIG_ROWS))
    progress = kill_mid_import(kongchuo, big)
    assert progress["rows"] >= KILL_AFTER_ROWS
    # The list was prepared in a second process (kongchuo/imports/prepare.py), where there is a core for it.
    assert progress["processes"] == (2 if (os.cpu_count() or 1) > 1 else 1)
    # On SQLite the kill came while the list's secondary indexes were dropped (kongchuo.core.bulkload):
    # they are back, as they were, with everything else.
    assert (progress["indexes_deferred"] > 0) == (database_url is None)

    assert kongchuo.snapshot() == before
    kongchuo.run("audit", "verify")
    # A child the killed import had written (in its first chunk), and one no list has named.
    again = kongchuo.import_list(write_list(tmp_path / "again.csv", [100, 100 + BIG_ROWS]))
    assert (again["created"], again["rejected"]) == (2, 0)
    assert kongchuo.snapshot()["people_child"] == 5
