import pytest

from tests.world import build_world


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # PBKDF2's deliberate slowness would dominate a suite that logs in personas thousands of times.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _tasks_run_immediately(settings):
    # Background tasks run in-line in tests; views enqueue on commit (use django_capture_on_commit_callbacks).
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


@pytest.fixture(autouse=True)
def _no_pdf_conversion(settings):
    # LibreOffice takes seconds per document; tests/test_documents.py checks the conversion itself.
    settings.KONGCHUO_MAKE_PDF = False


@pytest.fixture
def world(db):
    return build_world()


@pytest.fixture
def login(client):
    """login(user) → the test client, logged in as that persona."""

    def _login(user):
        client.force_login(user)
        return client

    return _login


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    """PBKDF2 costs ~0.25 s per user; the world makes nine. Tests do not measure hashing strength."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session", autouse=True)
def _no_stray_postgres_sessions(django_db_setup, django_db_blocker):
    """Live-server threads can leave a PostgreSQL session open; end them so the test database can be dropped."""
    yield
    from django.db import connection

    if connection.vendor == "postgresql":
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
