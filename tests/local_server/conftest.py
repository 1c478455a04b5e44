from tests.support.fixtures import fake_openai  # noqa: F401
