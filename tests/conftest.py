import pytest

from tests.world import build_world


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
