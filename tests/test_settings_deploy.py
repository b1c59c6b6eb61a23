"""The production profile: `check --deploy` is clean when configured, and missing or malformed
settings stop the program with a message that names them (each run in a fresh process)."""

import os
import secrets
import subprocess
import sys

import pytest


def _run(tmp_path, *args, **env_overrides) -> subprocess.CompletedProcess:
    # A clean slate: nothing from this test process (DATABASE_URL, DJANGO_ALLOW_ASYNC_UNSAFE set by
    # the browser tests, a developer's SECRET_KEY …) may leak into the configuration under test.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "KONGCHUO_", "SECURE_", "SESSION_", "CSRF_"))
        and k not in ("DATABASE_URL", "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS")
    }
    env["KONGCHUO_DATA_DIR"] = str(tmp_path)
    env.update({k: v for k, v in env_overrides.items() if v is not None})
    return subprocess.run(
        [sys.executable, "-m", "kongchuo", *args],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )


PRODUCTION = {"KONGCHUO_PROFILE": "production", "ALLOWED_HOSTS": "kongchuo.example.gov.cn"}


def test_production_profile_passes_the_deploy_check(tmp_path):
    result = _run(
        tmp_path,
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        SECRET_KEY=secrets.token_urlsafe(50),
        **PRODUCTION,
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout
    assert not (tmp_path / "secret_key").exists()  # production never writes a key of its own


def test_production_without_secret_key_fails_loudly(tmp_path):
    result = _run(tmp_path, "check", **PRODUCTION)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SECRET_KEY must be set" in result.stderr


def test_production_without_allowed_hosts_fails_loudly(tmp_path):
    result = _run(tmp_path, "check", KONGCHUO_PROFILE="production", SECRET_KEY=secrets.token_urlsafe(50))
    assert result.returncode != 0
    assert "ALLOWED_HOSTS must be set" in result.stderr


@pytest.mark.parametrize("value", ["maybe", "2"])
def test_debug_must_be_a_boolean(tmp_path, value):
    result = _run(tmp_path, "check", DEBUG=value)
    assert result.returncode != 0
    assert f"DEBUG must be a boolean (true/false), got '{value}'" in result.stderr


def test_unknown_profile_is_refused(tmp_path):
    result = _run(tmp_path, "check", KONGCHUO_PROFILE="staging")
    assert result.returncode != 0
    assert "KONGCHUO_PROFILE must be development or production" in result.stderr


def test_development_profile_generates_and_keeps_a_secret_key(tmp_path):
    first = _run(tmp_path, "check")
    assert first.returncode == 0, first.stderr
    key_file = tmp_path / "secret_key"
    key = key_file.read_text()
    assert len(key) >= 50
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert _run(tmp_path, "check").returncode == 0
    assert key_file.read_text() == key
