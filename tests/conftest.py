import pytest

import tiny


@pytest.fixture
def tiny_config():
    """The quick study shrunk to seconds (tests/tiny.py)."""
    return tiny.tiny_config()
