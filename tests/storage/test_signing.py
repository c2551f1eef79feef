"""Signed versions: the key signs each new version, and a missing or wrong signature is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

from app.storage.signing import SIGNATURE, UNSIGNED, BadSigningKey, Signer, signer_of
from tests.support import make_settings

KEY = b"k" * 32
NAMED = ("default", "v20261205-120000-abcdef")
ARTIFACT = b"\x80\x04the artifact's bytes"
CARD = {"artifact_format": 6, "intercept": 58481.75, "training": {"rows": 932}}


def test_a_signed_version_is_accepted_under_its_key() -> None:
    signer = Signer(KEY)
    card = signer.sign(NAMED, ARTIFACT, CARD)
    assert len(card[SIGNATURE]) == 64 and signer.refusal(NAMED, ARTIFACT, card) is None


def test_the_signature_does_not_depend_on_the_order_of_the_cards_fields() -> None:
    signer = Signer(KEY)
    card = signer.sign(NAMED, ARTIFACT, CARD)
    reordered = dict(reversed(list(card.items())))
    assert signer.refusal(NAMED, ARTIFACT, reordered) is None


def test_an_unsigned_version_is_refused_where_versions_are_signed() -> None:
    refusal = Signer(KEY).refusal(NAMED, ARTIFACT, CARD)
    assert refusal is not None and "not signed" in refusal


def test_a_version_signed_with_another_key_is_refused() -> None:
    card = Signer(b"o" * 32).sign(NAMED, ARTIFACT, CARD)
    refusal = Signer(KEY).refusal(NAMED, ARTIFACT, card)
    assert refusal is not None and "does not match the signing key" in refusal


@pytest.mark.parametrize(
    ("named", "artifact", "change"),
    [
        (NAMED, ARTIFACT + b"!", {}),
        (NAMED, ARTIFACT, {"intercept": 1.0}),
        (NAMED, ARTIFACT, {"training": {"rows": 933}}),
        (("ames", NAMED[1]), ARTIFACT, {}),
        (("default", "v20261205-120000-abcde0"), ARTIFACT, {}),
    ],
    ids=["artifact", "card number", "nested card field", "another market", "another name"],
)
def test_a_signed_version_changed_or_moved_is_refused(
    named: tuple[str, str], artifact: bytes, change: dict[str, object]
) -> None:
    signer = Signer(KEY)
    card = {**signer.sign(NAMED, ARTIFACT, CARD), **change}
    assert signer.refusal(named, artifact, card) is not None


def test_without_a_key_nothing_is_signed_or_checked() -> None:
    assert UNSIGNED.sign(NAMED, ARTIFACT, CARD) == CARD
    assert UNSIGNED.refusal(NAMED, ARTIFACT, {**CARD, SIGNATURE: "forged"}) is None


def test_the_key_is_read_from_the_first_line_of_its_file(tmp_path: Path) -> None:
    path = tmp_path / "signing-key"
    path.write_text("# made on host-1\n" + KEY.decode() + "\n")
    signer = signer_of(make_settings(tmp_path, tmp_path, signing_key_file=path))
    assert signer.refusal(NAMED, ARTIFACT, Signer(KEY).sign(NAMED, ARTIFACT, CARD)) is None


def test_a_short_key_stops_with_the_setting_named_and_not_the_key(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, tmp_path, signing_key=SecretStr("short-secret"))
    with pytest.raises(BadSigningKey) as bad:
        signer_of(settings)
    assert "HOUSE_PRICE_SIGNING_KEY: a signing key has at least 32 characters" in bad.value.message
    assert "short-secret" not in bad.value.message


def test_an_unreadable_key_file_stops_with_the_setting_named(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, tmp_path, signing_key_file=tmp_path / "missing")
    with pytest.raises(BadSigningKey, match="HOUSE_PRICE_SIGNING_KEY_FILE: cannot read"):
        signer_of(settings)


def test_a_key_and_a_key_file_together_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "signing-key"
    path.write_text(KEY.decode())
    settings = make_settings(
        tmp_path, tmp_path, signing_key=SecretStr(KEY.decode()), signing_key_file=path
    )
    with pytest.raises(BadSigningKey, match="both set"):
        signer_of(settings)
