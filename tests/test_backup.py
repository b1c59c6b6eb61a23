"""`kongchuo backup` / `kongchuo restore` as a county would run them: separate processes, own data dir."""

import os
import subprocess
import sys
import uuid

import pytest


def kongchuo(*args, env):
    return subprocess.run([sys.executable, "-m", "kongchuo", *args], env=env, capture_output=True, text=True, timeout=120)


def count_divisions(env) -> str:
    code = "from kongchuo.places.models import Division; print(Division.objects.count())"
    return kongchuo("shell", "--no-imports", "-c", code, env=env).stdout.strip()


def add_division(env, code):
    script = f"from kongchuo.places.services import division_create; division_create(actor=None, code='{code}', name='测试', level=3)"
    assert kongchuo("shell", "-c", script, env=env).returncode == 0


def roundtrip(env, tmp_path):
    assert kongchuo("init", env=env).returncode == 0
    add_division(env, "500229")
    files = tmp_path / "data" / "files"
    files.mkdir(parents=True, exist_ok=True)
    (files / "notice.docx").write_bytes(b"original")
    archive = tmp_path / "backup.tar.gz"
    done = kongchuo("backup", str(archive), env=env)
    assert done.returncode == 0, done.stderr
    add_division(env, "500230")
    (files / "notice.docx").write_bytes(b"changed")
    assert count_divisions(env) == "2"
    done = kongchuo("restore", str(archive), env=env)
    assert done.returncode == 0, done.stderr
    assert count_divisions(env) == "1"
    assert (files / "notice.docx").read_bytes() == b"original"
    assert kongchuo("audit", "verify", env=env).returncode == 0


def test_sqlite_backup_restore(tmp_path):
    env = {**os.environ, "KONGCHUO_DATA_DIR": str(tmp_path / "data")}
    env.pop("DATABASE_URL", None)
    roundtrip(env, tmp_path)


def test_corrupt_backup_changes_nothing(tmp_path):
    env = {**os.environ, "KONGCHUO_DATA_DIR": str(tmp_path / "data")}
    env.pop("DATABASE_URL", None)
    assert kongchuo("init", env=env).returncode == 0
    add_division(env, "500229")
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(b"not a backup")
    done = kongchuo("restore", str(bad), env=env)
    assert done.returncode != 0 and "无法读取备份文件" in done.stderr
    assert count_divisions(env) == "1"


@pytest.mark.skipif(not os.environ.get("DATABASE_URL", "").startswith("postgres"), reason="PostgreSQL run only")
def test_postgresql_backup_restore(tmp_path):
    import psycopg

    admin_url = os.environ["DATABASE_URL"].replace("postgres://", "postgresql://")
    name = f"kongchuo_backup_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        url = admin_url.rsplit("/", 1)[0] + "/" + name
        env = {**os.environ, "KONGCHUO_DATA_DIR": str(tmp_path / "data"), "DATABASE_URL": url, "DB_CONN_MAX_AGE": "0"}
        roundtrip(env, tmp_path)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
