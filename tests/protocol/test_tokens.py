"""Token format: every token we issue is recognised, nothing else is."""

import pytest

from protocol.errors import DecodeError
from protocol.tokens import new_token, token_hash, token_kind


def test_every_issued_token_is_recognised() -> None:
    # Bodies are base64url, so many contain "_" and "-": all must parse.
    for kind in ("at", "rt", "nd"):
        for _ in range(300):
            assert token_kind(new_token(kind)) == kind


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "ora_at_",
        "ora_xx_" + "A" * 43,
        "sk_at_" + "A" * 43,
        "ora_at_short",
        "ora_at_" + "A" * 44,
    ],
)
def test_malformed_tokens_are_refused(bad: str) -> None:
    with pytest.raises(DecodeError):
        token_kind(bad)


def test_only_hashes_are_kept_and_they_differ() -> None:
    a, b = new_token("at"), new_token("at")
    assert a != b and token_hash(a) != token_hash(b) and a not in token_hash(a)
