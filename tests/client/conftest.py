from tests.api.conftest import server  # noqa: F401 - the same real server fixture
