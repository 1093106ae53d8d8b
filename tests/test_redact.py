"""redact: every occurrence of every secret is masked, whatever the overlap, order or cut."""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from wraprun.redact import MASK, Redactor, StreamMasker

from .helpers import assert_no_secret

# Secrets are any bytes but a newline (a macro value ends with its line), drawn
# from a small alphabet as well so that overlaps and containment are common.
SMALL = st.binary(min_size=1, max_size=6).map(lambda b: bytes(97 + x % 4 for x in b))
ANY = st.binary(min_size=1, max_size=12).filter(lambda b: b"\n" not in b)
SECRET = st.one_of(SMALL, ANY, SMALL.map(lambda b: b.replace(b"a", b"*")))
SECRETS = st.lists(SECRET, min_size=1, max_size=5)
NOISE = st.one_of(SMALL, st.binary(max_size=8), st.just(b"\n"), st.just(b"*"))


@st.composite
def texts(draw: st.DrawFn, secrets: list[bytes]) -> bytes:
    """Secrets and their pieces among noise, overlapping and touching."""
    parts = draw(st.lists(st.one_of(st.sampled_from(secrets), NOISE), max_size=20))
    return b"".join(parts)


def redactor(secrets: list[bytes]) -> Redactor:
    r = Redactor()
    for secret in secrets:
        r.add(secret)
    return r


def occurrences(data: bytes, secret: bytes) -> list[int]:
    return [i for i in range(len(data) - len(secret) + 1) if data.startswith(secret, i)]


def assert_strictly_masked(out: bytes, secrets: list[bytes]) -> None:
    """No secret occurs except as a run of mask characters (a secret made of '*' only)."""
    for secret in secrets:
        for at in occurrences(out, secret):
            assert set(out[at : at + len(secret)]) == {ord("*")}, (secret, out)


@given(st.data(), SECRETS)
def test_no_secret_survives_one_pass(data: st.DataObject, secrets: list[bytes]) -> None:
    text = data.draw(texts(secrets))
    assert_strictly_masked(redactor(secrets).mask(text), secrets)


@given(st.data(), SECRETS)
def test_the_order_secrets_were_declared_in_does_not_matter(
    data: st.DataObject, secrets: list[bytes]
) -> None:
    text = data.draw(texts(secrets))
    results = {redactor(list(order)).mask(text) for order in itertools.permutations(secrets[:4])}
    assert len(results) == 1


@given(st.data(), SECRETS)
def test_text_without_secrets_is_unchanged(data: st.DataObject, secrets: list[bytes]) -> None:
    text = data.draw(st.binary(max_size=60))
    if not any(s in text for s in secrets):
        assert redactor(secrets).mask(text) == text


def test_overlapping_values_are_masked_whole_whatever_the_order() -> None:
    for secrets in ([b"abc123", b"abc123XYZ789"], [b"abc123XYZ789", b"abc123"], [b"c123X", b"abc1"]):
        assert redactor(secrets).mask(b"<abc123XYZ789>") in (b"<" + MASK + b">", b"<" + MASK + b"YZ789>")
    assert redactor([b"abc123", b"abc123XYZ789"]).mask(b"<abc123XYZ789>") == b"<" + MASK + b">"


def test_bytes_that_are_not_utf8_are_masked_in_bytes_and_in_text() -> None:
    r = redactor([b"p\xffw"])
    assert r.mask(b"x p\xffw y") == b"x " + MASK + b" y"
    text = b"status p\xffw".decode("utf-8", "surrogateescape")
    assert r.text(text) == "status ********"


def test_a_mask_that_completes_a_secret_is_masked_again() -> None:
    assert redactor([b"ab", b"x**"]).mask(b"xab") == MASK


@settings(max_examples=300)
@given(st.data(), SECRETS)
def test_a_stream_cut_anywhere_shows_no_secret(data: st.DataObject, secrets: list[bytes]) -> None:
    text = data.draw(texts(secrets))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(text)), max_size=8)))
    masker = StreamMasker(redactor(secrets))
    pieces = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
    out = b"".join(masker.feed(piece) for piece in pieces) + masker.flush()
    assert_no_secret(out, secrets)


@given(st.binary(max_size=200), st.lists(st.integers(0, 200), max_size=6))
def test_a_stream_without_secrets_is_relayed_byte_for_byte(text: bytes, cuts: list[int]) -> None:
    masker = StreamMasker(Redactor())
    bounds = sorted(min(c, len(text)) for c in cuts)
    pieces = [text[a:b] for a, b in zip([0, *bounds], [*bounds, len(text)], strict=True)]
    assert b"".join(masker.feed(p) for p in pieces) + masker.flush() == text


def test_a_secret_split_by_a_cut_is_still_masked() -> None:
    masker = StreamMasker(redactor([b"TOPSECRET"]))
    out = masker.feed(b"x" * 10 + b"TOPS") + masker.feed(b"ECRET and more") + masker.flush()
    assert out == b"x" * 10 + MASK + b" and more"
