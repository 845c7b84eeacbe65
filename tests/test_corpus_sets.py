"""bench/corpus_sets.py: the named clip sets, their seeds kept apart, their commands."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

import corpus_sets as cs  # noqa: E402


def test_training_choosing_and_testing_share_no_seed() -> None:
    assert cs.overlaps() == []
    roles = {s.role for s in cs.SETS.values()}
    assert roles == {"train", "select", "test"}


def test_a_set_drawn_from_another_sets_seeds_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    sets = dict(cs.SETS)
    # Validation index 230 lies inside val3's second run (228-299).
    sets["oops"] = cs.ClipSet("select", "", (cs.Run("physics", 230, 5, "val"),))
    monkeypatch.setattr(cs, "SETS", sets)
    assert cs.overlaps() == ["val3 and oops share 5 seeds"]


def test_debugdraw_seeds_kept_for_testing_are_refused_to_other_roles(monkeypatch: pytest.MonkeyPatch) -> None:
    assert {s for r in cs.SETS["ddfit"].runs for s in r.seeds()} == set(range(60000, 60042))
    assert [r.extra for r in cs.SETS["ddjudge"].runs][2] == ("--kind", "drops25")
    sets = dict(cs.SETS)
    sets["oops"] = cs.ClipSet("train", "", (cs.Run("debugdraw", 9990, 5),))  # seeds 59990-59994
    monkeypatch.setattr(cs, "SETS", sets)
    assert cs.overlaps() == ["oops takes debugdraw seeds 50000-59999, kept for test sets"]
    sets["oops"] = cs.ClipSet("test", "", (cs.Run("debugdraw", 9990, 5),))
    assert cs.overlaps() == []


def test_a_part_shares_seeds_with_its_whole_only(monkeypatch: pytest.MonkeyPatch) -> None:
    a, b = cs.SETS["mjfit"].runs[0].seeds(), cs.SETS["mjjudge"].runs[0].seeds()
    assert set(a) | set(b) == set(cs.SETS["mjval"].runs[0].seeds()) and not set(a) & set(b)
    sets = dict(cs.SETS)
    sets["mjfit"] = cs.ClipSet("select", "", (cs.Run("mujoco", 1040, 24),))  # runs past mjval's end, into mjval2
    monkeypatch.setattr(cs, "SETS", sets)
    assert cs.overlaps() == ["mjfit and mjjudge share 8 seeds", "mjfit and mjval2 share 16 seeds",
                             "mjfit and mjval2h share 16 seeds", "mjfit is not a part of mjval"]
    sets["mjfit"] = cs.ClipSet("test", "", (cs.Run("mujoco", 1000, 24),))  # a test set inside a choosing one
    assert cs.overlaps() == ["mjfit is not a part of mjval"]


def test_the_seeds_are_the_ones_the_generators_draw() -> None:
    import mujoco_corpus as mc
    import physics_corpus as pc

    for split, first in (("train", 7), ("val", 228), ("test", 47)):
        run = cs.Run("physics", first, 2, split)
        assert list(run.seeds()) == [pc.make_spec(split, i).seed for i in (first, first + 1)]
    run = cs.SETS["mjval"].runs[0]
    assert run.seeds()[0] == mc.make_spec(run.first).seed == 31000
    assert cs.SETS["mujoco"].runs[0].seeds()[0] == mc.make_spec(0).seed


def test_print_gives_the_generator_commands_and_renders_nothing(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert cs.main([str(tmp_path), "valhd", "mjval", "--print", "--jobs", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    assert lines[0].endswith(f"physics_corpus.py {tmp_path / 'valhd'} --split val --first 200 --count 16 --jobs 3 "
                             "--size 1280x720")
    assert lines[2].endswith(f"mujoco_corpus.py {tmp_path / 'mjval'} --first 1000 --count 48 --jobs 3")
    assert list(tmp_path.iterdir()) == []


def test_list_names_every_set(capsys: pytest.CaptureFixture) -> None:
    assert cs.main(["C", "--list"]) == 0
    out = capsys.readouterr().out
    assert [line.split()[0] for line in out.splitlines()] == list(cs.SETS)
    assert "physics 20000-20047" in out


@pytest.mark.parametrize("args", [["nope"], [], ["test", "--jobs", "0"]])
def test_bad_arguments_are_refused_by_name(tmp_path: Path, capsys: pytest.CaptureFixture, args: list[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        cs.main([str(tmp_path), *args])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    if "--jobs" in args:
        assert "--jobs 0" in err
    else:  # the choices name every set, in the table's order
        assert "choose from " + ", ".join(cs.SETS) in err
    assert list(tmp_path.iterdir()) == []


def test_a_set_renders_through_its_generator_and_a_failing_one_stops(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                    capsys: pytest.CaptureFixture) -> None:
    sets = {"tiny": cs.ClipSet("select", "", (cs.Run("physics", 5, 1, "val", ("--size", "320x180")),)),
            "bad": cs.ClipSet("select", "", (cs.Run("physics", 6, 1, "val", ("--floor", "0.9", "0.1")),))}
    monkeypatch.setattr(cs, "SETS", sets)
    assert cs.main([str(tmp_path), "tiny", "--jobs", "1"]) == 0
    assert sorted(p.name for p in (tmp_path / "tiny").iterdir()) == [
        "val_0005_setdown.ignore.csv", "val_0005_setdown.mp4", "val_0005_setdown.times.csv",
        "val_0005_setdown.truth.json"]
    assert cs.main([str(tmp_path), "bad", "tiny", "--jobs", "1"]) == 2
    assert "error: bad: the generator stopped with exit status 2" in capsys.readouterr().err


def test_a_file_where_a_folder_should_be_is_refused_by_the_sets_and_the_generators(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    import mujoco_corpus as mc
    import physics_corpus as pc

    root = tmp_path / "clips"
    root.write_text("not a folder")
    with pytest.raises(SystemExit) as stop:
        cs.main([str(root), "test"])
    assert stop.value.code == 2 and "is a file: give a folder" in capsys.readouterr().err
    # Below a file: each generator says it cannot make the folder (was a traceback).
    for gen in (lambda: pc.main([str(root / "test"), "--split", "test", "--count", "1"]),
                lambda: mc.main([str(root / "mujoco"), "--count", "1"])):
        with pytest.raises(SystemExit) as stop:
            gen()
        assert stop.value.code == 2 and "cannot make the folder for the clips" in capsys.readouterr().err
    assert root.read_text() == "not a folder"
