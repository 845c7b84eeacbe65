"""Presets: validated on load, user folders shadow built-ins, errors list valid choices."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from syncfoley import presets
from syncfoley.core.errors import PresetError


def test_every_builtin_preset_validates() -> None:
    for name in presets.names():
        p = presets.load(name)
        assert p.name == name
        assert p.modes or p.transient.gain > 0 or p.grains.count > 0


def test_presets_are_frozen_and_copied_per_request() -> None:
    wood = presets.load("wood")
    with pytest.raises(dataclasses.FrozenInstanceError):
        wood.level_db = 0  # type: ignore[misc]
    louder = dataclasses.replace(wood, level_db=0.0)
    assert presets.load("wood").level_db == wood.level_db != louder.level_db


def test_unknown_key_lists_the_known_ones(tmp_path: Path) -> None:
    f = tmp_path / "odd.yaml"
    f.write_text("name: odd\nmodes: []\nreverb: 3\n")
    with pytest.raises(PresetError, match="unknown key 'reverb'.*'brightness'"):
        presets.load_file(f)
    f.write_text("name: odd\nmodes:\n  - {freq: 100, t60: 0.1, q: 3}\n")
    with pytest.raises(PresetError, match=r"modes\[0\].*'q'"):
        presets.load_file(f)
    f.write_text("name: odd\ntransient: {low: 900, high: 100}\n")
    with pytest.raises(PresetError, match="must be below"):
        presets.load_file(f)


def test_user_folder_shadows_builtin(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "wood.yaml").write_text("name: wood\ndescription: my own wood\nmodes:\n  - {freq: 99, t60: 0.1}\n")
    (tmp_path / "bongo.yaml").write_text("modes:\n  - {freq: 200, t60: 0.2}\n")
    monkeypatch.setenv("SYNCFOLEY_PRESETS", str(tmp_path))
    assert presets.load("wood").description == "my own wood"
    assert presets.load("bongo").name == "bongo"
    assert "bongo" in presets.names()
