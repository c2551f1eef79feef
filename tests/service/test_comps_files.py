"""A machine's packed comps: written once, mapped by the next worker, packed again if damaged."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np

from app.domain import comps_pack
from app.service.comps_files import CompsFiles
from tests.domain.test_comps_pack import packed, sales

CHECKSUM = "ab" * 32


class Packer:
    """`make` for CompsFiles.get, counting its calls."""

    def __init__(self) -> None:
        self.calls = 0
        self.bytes = packed(sales())

    def __call__(self) -> bytes:
        self.calls += 1
        return self.bytes


def test_the_next_worker_maps_the_pack_the_first_wrote(tmp_path: Path) -> None:
    make = Packer()
    first = CompsFiles(tmp_path / "comps").get(CHECKSUM, make)
    second = CompsFiles(tmp_path / "comps").get(CHECKSUM, make)
    assert make.calls == 1
    assert bytes(first) == bytes(second) == make.bytes
    assert isinstance(second, memoryview) and second.readonly


def test_each_version_has_its_own_file(tmp_path: Path) -> None:
    files = CompsFiles(tmp_path)
    files.get(CHECKSUM, Packer())
    files.get("cd" * 32, Packer())
    assert len(list(tmp_path.glob("*.comps"))) == 2


def test_a_damaged_file_is_packed_again(tmp_path: Path) -> None:
    files, make = CompsFiles(tmp_path), Packer()
    files.get(CHECKSUM, make)
    path = files.path(CHECKSUM)
    assert path is not None
    damaged = bytearray(path.read_bytes())
    damaged[300] ^= 1
    path.write_bytes(bytes(damaged))
    found = files.get(CHECKSUM, make)
    assert make.calls == 2 and bytes(found) == make.bytes
    comps_pack.read(path.read_bytes())  # whole again


def test_an_empty_file_is_packed_again(tmp_path: Path) -> None:
    files, make = CompsFiles(tmp_path), Packer()
    path = files.path(CHECKSUM)
    assert path is not None
    path.write_bytes(b"")
    assert bytes(files.get(CHECKSUM, make)) == make.bytes and make.calls == 1


def test_a_directory_other_users_may_write_is_not_used(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    files, make = CompsFiles(shared), Packer()
    assert files.directory is None
    assert files.get(CHECKSUM, make) == make.bytes
    assert list(shared.iterdir()) == []


def test_without_a_directory_each_worker_packs_its_own(tmp_path: Path) -> None:
    make = Packer()
    files = CompsFiles(None)
    assert files.get(CHECKSUM, make) is make.bytes and files.get(CHECKSUM, make) is make.bytes
    assert make.calls == 2


def test_a_new_directory_is_made_for_this_user_alone(tmp_path: Path) -> None:
    CompsFiles(tmp_path / "a" / "comps")
    assert (tmp_path / "a" / "comps").stat().st_mode & 0o777 == 0o700


def test_packs_not_opened_for_days_are_pruned_and_the_rest_kept(tmp_path: Path) -> None:
    files = CompsFiles(tmp_path)
    files.get(CHECKSUM, Packer())
    files.get("cd" * 32, Packer())
    old, kept = files.path(CHECKSUM), files.path("cd" * 32)
    assert old is not None and kept is not None
    week_ago = time.time() - 8 * 86400
    os.utime(old, (week_ago, week_ago))
    assert files.prune() == 1
    assert not old.exists() and kept.exists()


def test_a_pack_mapped_again_is_kept_from_pruning(tmp_path: Path) -> None:
    files = CompsFiles(tmp_path)
    files.get(CHECKSUM, Packer())
    path = files.path(CHECKSUM)
    assert path is not None
    week_ago = time.time() - 8 * 86400
    os.utime(path, (week_ago, week_ago))
    files.get(CHECKSUM, Packer())
    assert files.prune() == 0 and path.exists()


def test_a_worker_still_reads_a_pack_pruned_under_it(tmp_path: Path) -> None:
    files, make = CompsFiles(tmp_path), Packer()
    mapped = files.get(CHECKSUM, make)
    path = files.path(CHECKSUM)
    assert path is not None
    path.unlink()
    found = comps_pack.read(mapped)
    np.testing.assert_array_equal(found.records, comps_pack.read(make.bytes).records)
