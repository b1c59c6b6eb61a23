"""Consistent snapshots of the database and the stored files, and their restore.

A backup is one .tar.gz: manifest.json, the database (an SQLite online-backup copy, or a
pg_dump custom-format archive) and files/ (uploads, generated documents). Restore checks the
manifest and the database checksum before it touches anything, and swaps the SQLite file in
with an atomic rename.
"""

import datetime as dt
import hashlib
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from pathlib import Path

from django.conf import settings
from django.db import connections

FORMAT = 1


class BackupError(Exception):
    pass


def _db() -> dict:
    return settings.DATABASES["default"]


def _is_sqlite() -> bool:
    return _db()["ENGINE"].endswith("sqlite3")


def _pg_env() -> tuple[list[str], dict]:
    db = _db()
    args = ["--host", db.get("HOST") or "127.0.0.1", "--port", str(db.get("PORT") or 5432), "--username", db.get("USER") or "postgres"]
    env = dict(os.environ)
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = db["PASSWORD"]
    return args, env


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def backup(target: Path) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        if _is_sqlite():
            db_file = tmp / "db.sqlite3"
            source = sqlite3.connect(str(_db()["NAME"]))
            dest = sqlite3.connect(str(db_file))
            with dest:
                source.backup(dest)  # consistent even while the app is writing
            source.close()
            dest.close()
            engine = "sqlite"
        else:
            db_file = tmp / "db.pgdump"
            args, env = _pg_env()
            run = subprocess.run(
                ["pg_dump", "--format=custom", "--no-owner", *args, "--file", str(db_file), _db()["NAME"]],
                env=env,
                capture_output=True,
                text=True,
            )
            if run.returncode != 0:
                raise BackupError(f"pg_dump 失败：{run.stderr.strip()}")
            engine = "postgresql"
        manifest = {
            "format": FORMAT,
            "engine": engine,
            "created": dt.datetime.now(dt.UTC).isoformat(),
            "database": db_file.name,
            "sha256": _sha256(db_file),
        }
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(target.name + ".partial")
        with tarfile.open(partial, "w:gz") as tar:
            data = json.dumps(manifest, ensure_ascii=False, indent=2).encode()
            info = tarfile.TarInfo("manifest.json")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
            tar.add(db_file, arcname=db_file.name)
            if settings.FILES_DIR.exists():
                tar.add(settings.FILES_DIR, arcname="files")
        partial.replace(target)
    return manifest


def restore(source: Path) -> dict:
    if not source.exists():
        raise BackupError(f"备份文件不存在：{source}")
    with tempfile.TemporaryDirectory(dir=settings.DATA_DIR if settings.DATA_DIR.exists() else None) as tmp:
        tmp = Path(tmp)
        try:
            with tarfile.open(source, "r:gz") as tar:
                tar.extractall(tmp, filter="data")
        except (tarfile.TarError, OSError) as exc:
            raise BackupError(f"无法读取备份文件：{exc}") from exc
        try:
            manifest = json.loads((tmp / "manifest.json").read_text())
        except (OSError, ValueError) as exc:
            raise BackupError("备份文件缺少 manifest.json，不是本系统的备份") from exc
        if manifest.get("format") != FORMAT:
            raise BackupError(f"不支持的备份格式：{manifest.get('format')}")
        db_file = tmp / manifest["database"]
        if not db_file.exists() or _sha256(db_file) != manifest["sha256"]:
            raise BackupError("备份中的数据库文件校验失败（文件损坏或被修改），未做任何更改")
        expected = "sqlite" if _is_sqlite() else "postgresql"
        if manifest["engine"] != expected:
            raise BackupError(f"备份来自 {manifest['engine']} 数据库，当前配置为 {expected}，不能直接恢复")
        connections.close_all()
        if _is_sqlite():
            target = Path(_db()["NAME"])
            target.parent.mkdir(parents=True, exist_ok=True)
            staged = target.with_name(target.name + ".restoring")
            shutil.copyfile(db_file, staged)
            for suffix in ("-wal", "-shm"):
                Path(str(target) + suffix).unlink(missing_ok=True)
            staged.replace(target)
        else:
            args, env = _pg_env()
            run = subprocess.run(
                [
                    "pg_restore",
                    "--clean",
                    "--if-exists",
                    "--no-owner",
                    "--single-transaction",
                    *args,
                    "--dbname",
                    _db()["NAME"],
                    str(db_file),
                ],
                env=env,
                capture_output=True,
                text=True,
            )
            if run.returncode != 0:
                raise BackupError(f"pg_restore 失败（数据库未改变）：{run.stderr.strip()}")
        files = tmp / "files"
        if files.exists():
            old = settings.FILES_DIR.with_name("files.before-restore")
            shutil.rmtree(old, ignore_errors=True)
            if settings.FILES_DIR.exists():
                settings.FILES_DIR.replace(old)
            files.replace(settings.FILES_DIR)
            shutil.rmtree(old, ignore_errors=True)
    return manifest
