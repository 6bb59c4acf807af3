"""The link page's anti-forgery tag: an HMAC of the token for another purpose than the
token's stored hash, so neither can stand in for the other."""

from __future__ import annotations

from core.codes import SecretHasher

KEY = b"k" * 32


def test_the_tag_depends_on_token_and_key() -> None:
    hasher = SecretHasher(KEY)
    tag = hasher.form_tag("AbCdEfGhIjKl")
    assert tag == hasher.form_tag("AbCdEfGhIjKl")
    assert tag != hasher.form_tag("AbCdEfGhIjKm")
    assert tag != SecretHasher(b"q" * 32).form_tag("AbCdEfGhIjKl")


def test_the_tag_is_not_the_stored_token_hash() -> None:
    hasher = SecretHasher(KEY)
    assert hasher.form_tag("AbCdEfGhIjKl") != hasher.token_hash("AbCdEfGhIjKl")


def test_matching_takes_any_text_without_raising() -> None:
    hasher = SecretHasher(KEY)
    tag = hasher.form_tag("AbCdEfGhIjKl")
    assert hasher.form_tag_matches("AbCdEfGhIjKl", tag)
    for wrong in ("", tag[:-1], tag.upper(), "é" * 64, tag + "0"):
        assert not hasher.form_tag_matches("AbCdEfGhIjKl", wrong)
