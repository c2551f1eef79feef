"""Named API keys: how they are written, what stops a start, and a file read again on change."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.config import Settings
from app.service.keys import BadKeys, Keyring, parse

CI = "ci-0123456789abcdef"
ALICE = "alice-0123456789abcdef"


def keyring(**values: object) -> Keyring:
    return Keyring(Settings(_env_file=None, **values))  # type: ignore[arg-type]


def test_named_keys_are_matched_to_their_names() -> None:
    keys = keyring(api_keys=f"ci:{CI},alice:{ALICE}")
    found = keys.match(ALICE)
    assert found is not None and found.name == "alice"
    assert keys.match("alice-0123456789abcdeX") is None


def test_the_single_key_setting_is_the_key_named_default() -> None:
    found = keyring(api_key=CI).match(CI)
    assert found is not None and found.name == "default"
    assert found.scopes == {"retrain", "admin"}


def test_a_key_names_its_scopes_or_has_both() -> None:
    ci, alice = parse(f"ci:{CI}:retrain, alice:{ALICE}", "here")
    assert ci.scopes == {"retrain"} and alice.scopes == {"retrain", "admin"}


def test_a_key_under_16_characters_stops_the_start_naming_it() -> None:
    with pytest.raises(BadKeys, match="'ci' is 15 characters long; a key needs at least 16"):
        keyring(api_keys="ci:0123456789abcde")


def test_the_same_name_twice_stops_the_start() -> None:
    with pytest.raises(BadKeys, match="'ci' is given twice"):
        keyring(api_keys=f"ci:{CI},ci:{ALICE}")


def test_an_unknown_scope_stops_the_start() -> None:
    with pytest.raises(BadKeys, match="scope\\(s\\) deploy"):
        keyring(api_keys=f"ci:{CI}:deploy")


def test_an_error_never_shows_the_secret() -> None:
    with pytest.raises(BadKeys) as raised:
        keyring(api_keys="ci:short-secret")
    assert "short-secret" not in str(raised.value)


def write(path: Path, text: str) -> None:
    """As an operator replaces the file: a new file renamed over the old one."""
    staged = path.with_suffix(".new")
    staged.write_text(text)
    os.replace(staged, path)


def test_the_keys_file_is_read_again_when_it_changes(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    write(path, f"# the team's keys\nci:{CI}\n\n")
    keys = keyring(api_keys_file=path)
    assert keys.match(CI) is not None and keys.match(ALICE) is None
    write(path, f"ci:{CI}\nalice:{ALICE}\n")
    assert keys.match(ALICE) is not None
    write(path, f"alice:{ALICE}\n")
    assert keys.match(CI) is None and keys.match(ALICE) is not None


def test_a_keys_file_that_goes_bad_keeps_the_keys_read_before(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    write(path, f"ci:{CI}\n")
    keys = keyring(api_keys_file=path)
    write(path, f"ci:{CI}\nalice:short\n")
    assert keys.match(CI) is not None and keys.match("short") is None


def test_a_keys_file_that_is_bad_at_start_stops_it_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    write(path, f"ci:{CI}\nalice\n")
    with pytest.raises(BadKeys, match="line 2: write a key as name:secret"):
        keyring(api_keys_file=path)
