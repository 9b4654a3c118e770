import pytest

from index.errors import ConfigError
from index.tokens import count_tokens, get_encoding


def test_cl100k_loads_offline_from_the_package_and_matches_tiktoken():
    enc = get_encoding("cl100k_base")
    assert enc.encode("hello world") == [15339, 1917]  # tiktoken's published example
    assert count_tokens("The ATACMS missile") == len(enc.encode("The ATACMS missile"))


def test_unknown_encoding_lists_the_known_ones():
    with pytest.raises(ConfigError, match="cl100k_base"):
        get_encoding("p50k_nope")
