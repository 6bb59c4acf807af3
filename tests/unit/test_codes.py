"""R3 codes and link tokens, and the keyed hashes that are all storage ever holds."""

from __future__ import annotations

import hashlib
import re
import secrets
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.codes import SecretHasher, SecretSource, SystemSecrets

KEY = b"k" * 32
URL_SAFE = re.compile(r"[A-Za-z0-9_-]+")


class TestSystemSecrets:
    def test_it_is_a_secret_source(self) -> None:
        source: SecretSource = SystemSecrets()
        assert source.code() and source.token()

    def test_codes_are_always_six_ascii_digits(self) -> None:
        source = SystemSecrets()
        for _ in range(2000):
            code = source.code()
            assert re.fullmatch(r"[0-9]{6}", code), code

    def test_leading_zeros_are_kept(self) -> None:
        source = SystemSecrets()
        drawn = [source.code() for _ in range(3000)]
        # One code in ten starts with 0; with 3000 draws, missing every one is ~1e-137.
        assert any(code.startswith("0") for code in drawn)
        assert all(len(code) == 6 for code in drawn)

    @pytest.mark.parametrize(("drawn", "code"), [(0, "000000"), (42, "000042"), (999999, "999999")])
    def test_the_extremes_of_the_range_are_six_digits(
        self, monkeypatch: pytest.MonkeyPatch, drawn: int, code: str
    ) -> None:
        monkeypatch.setattr(secrets, "randbelow", lambda _n: drawn)
        assert SystemSecrets().code() == code

    def test_codes_are_spread_over_the_whole_range(self) -> None:
        source = SystemSecrets()
        assert len({source.code() for _ in range(500)}) > 450

    def test_tokens_are_url_safe_long_and_distinct(self) -> None:
        source = SystemSecrets()
        tokens = [source.token() for _ in range(1000)]
        for token in tokens:
            assert len(token) >= 10
            assert URL_SAFE.fullmatch(token), token
        assert len(set(tokens)) == len(tokens)


class TestSecretHasher:
    def test_a_key_shorter_than_16_bytes_is_refused(self) -> None:
        with pytest.raises(ValueError, match="16 bytes"):
            SecretHasher(b"k" * 15)
        with pytest.raises(ValueError):
            SecretHasher(b"")

    def test_a_16_byte_key_is_enough(self) -> None:
        SecretHasher(b"k" * 16)

    def test_the_hash_does_not_contain_the_code(self) -> None:
        hasher = SecretHasher(KEY)
        for code in ("123456", "000000", "999999", "480213"):
            stored = hasher.code_hash("req-1", code)
            assert code not in stored
            assert re.fullmatch(r"[0-9a-f]{64}", stored)

    def test_the_hash_is_not_an_unkeyed_digest(self) -> None:
        # Without the key, a leaked hash cannot be checked against all 10**6 codes.
        stored = SecretHasher(KEY).code_hash("req-1", "123456")
        for text in ("123456", "req-1:123456", "code:req-1:123456"):
            assert stored != hashlib.sha256(text.encode()).hexdigest()

    def test_the_same_code_on_two_requests_hashes_differently(self) -> None:
        hasher = SecretHasher(KEY)
        assert hasher.code_hash("req-1", "123456") != hasher.code_hash("req-2", "123456")

    def test_different_keys_give_different_hashes(self) -> None:
        one, two = SecretHasher(b"a" * 32), SecretHasher(b"b" * 32)
        assert one.code_hash("req-1", "123456") != two.code_hash("req-1", "123456")
        assert one.token_hash("tok") != two.token_hash("tok")

    def test_the_same_key_gives_the_same_hash_after_a_restart(self) -> None:
        # Storage looks a link token up by its hash, so hashing must be deterministic.
        assert SecretHasher(KEY).token_hash("AbC-123_xyz") == SecretHasher(KEY).token_hash(
            "AbC-123_xyz"
        )
        assert SecretHasher(KEY).code_hash("r", "123456") == SecretHasher(KEY).code_hash(
            "r", "123456"
        )

    def test_a_token_hash_never_equals_a_code_hash(self) -> None:
        hasher = SecretHasher(KEY)
        assert hasher.token_hash("123456") != hasher.code_hash("", "123456")
        assert hasher.token_hash("req-1:123456") != hasher.code_hash("req-1", "123456")

    def test_the_right_code_matches(self) -> None:
        hasher = SecretHasher(KEY)
        stored = hasher.code_hash("req-1", "012345")
        assert hasher.code_matches("req-1", "012345", stored) is True

    @pytest.mark.parametrize(
        ("request_id", "code"),
        [
            ("req-1", "012346"),  # one digit off
            ("req-1", "12345"),  # the leading zero dropped
            ("req-1", "0123450"),
            ("req-1", ""),
            ("req-2", "012345"),  # the right code, but for another request
        ],
    )
    def test_anything_else_does_not_match(self, request_id: str, code: str) -> None:
        hasher = SecretHasher(KEY)
        stored = hasher.code_hash("req-1", "012345")
        assert hasher.code_matches(request_id, code, stored) is False

    def test_a_hash_made_under_another_key_does_not_match(self) -> None:
        stored = SecretHasher(b"a" * 32).code_hash("req-1", "012345")
        assert SecretHasher(b"b" * 32).code_matches("req-1", "012345", stored) is False

    @given(
        request_id=st.text(alphabet=string.ascii_letters + string.digits + "-", max_size=36),
        code=st.text(alphabet=string.digits, min_size=6, max_size=6),
        guess=st.text(alphabet=string.digits, min_size=6, max_size=6),
    )
    def test_a_code_matches_its_own_hash_and_only_it(
        self, request_id: str, code: str, guess: str
    ) -> None:
        hasher = SecretHasher(KEY)
        stored = hasher.code_hash(request_id, code)
        assert hasher.code_matches(request_id, code, stored)
        assert hasher.code_matches(request_id, guess, stored) is (guess == code)

    def test_the_key_does_not_show_in_repr(self) -> None:
        secret = b"do-not-log-this-key-0123456789"
        assert "do-not-log" not in repr(SecretHasher(secret))
