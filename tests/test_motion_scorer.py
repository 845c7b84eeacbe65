"""The motion scorer's weights: shipped, resolved in a fixed order, checked strictly."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from syncfoley.core.errors import CheckpointError, FormatError
from syncfoley.engine.detect.motion_features import FEATURES, NAMES, pool3
from syncfoley.engine.detect.motion_field import magnitude
from syncfoley.engine.detect.motion_scorer import BUNDLED, MotionScorer, committee, load_scorer, resolve_scorer


def _scorer(hidden: int = 8, seed: int = 0) -> MotionScorer:
    rng = np.random.default_rng(seed)
    dims = [FEATURES, hidden, hidden, 1]
    layers = tuple((rng.standard_normal((dims[i], dims[i + 1])).astype(np.float32),
                    rng.standard_normal(dims[i + 1]).astype(np.float32)) for i in range(3))
    return MotionScorer(np.zeros(FEATURES, np.float32), np.ones(FEATURES, np.float32), layers, (1.5, -0.5), 0.4, 0.5, 1.0)


def _committee(members: int = 3, hidden: int = 8) -> tuple[MotionScorer, list[MotionScorer]]:
    """A committee of ``members`` networks and each of them on its own."""
    nets = [_scorer(hidden, seed) for seed in range(members)]
    return MotionScorer(**{**nets[0].__dict__, "layers": committee([n.layers for n in nets])}), nets


def _write(path: Path, arrays: dict) -> Path:
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)
    return path


def test_bundled_weights_load_and_are_small() -> None:
    scorer = load_scorer(BUNDLED)
    assert BUNDLED.stat().st_size < 400_000
    assert 0 < scorer.threshold < 1 and scorer.full_strength > 0
    a, _ = scorer.calibration
    assert a > 0  # a higher score means a likelier impact


def test_round_trip_and_forward_pass(tmp_path: Path) -> None:
    scorer = _scorer()
    path = _write(tmp_path / "s.npz", scorer.to_arrays())
    back = load_scorer(path)
    x = np.random.default_rng(1).standard_normal((5, FEATURES)).astype(np.float32)
    assert np.allclose(back.block_logits(x), scorer.block_logits(x), atol=1e-5)
    assert back.threshold == pytest.approx(0.4) and back.calibration == pytest.approx((1.5, -0.5))


def test_a_committee_scores_the_mean_of_its_networks_and_round_trips(tmp_path: Path) -> None:
    committee, nets = _committee()
    x = np.random.default_rng(3).standard_normal((4, 6, FEATURES)).astype(np.float32)  # frames x blocks
    want = np.mean([n.block_logits(x) for n in nets], axis=0)
    assert committee.members == 3 and committee.block_logits(x).shape == (4, 6)
    assert np.allclose(committee.block_logits(x), want, atol=1e-5)
    arrays = committee.to_arrays()
    assert str(arrays["format"]) == "syncfoley.motion-scorer/2" and arrays["w0"].shape == (3, FEATURES, 8)
    back = load_scorer(_write(tmp_path / "c.npz", arrays))
    assert back.members == 3 and np.allclose(back.block_logits(x), want, atol=1e-5)
    # One network keeps the first format, which earlier versions read.
    assert str(nets[0].to_arrays()["format"]) == "syncfoley.motion-scorer/1"


@pytest.mark.parametrize("change,message", [
    (lambda a: a.update(b1=a["b1"][:2]), r"b1 has shape \(2, 8\), expected \(3, 8\)"),  # a member short
    (lambda a: a.update(w0=a["w0"][0]), "w0 has shape"),  # one network's weights in a committee's file
    (lambda a: a.update(format=np.array("syncfoley.motion-scorer/5")), "reads syncfoley.motion-scorer/1, /2, /3 and /4"),
    # A /4 file adds a picture check to the verifier: a committee alone is two parts short.
    (lambda a: a.update(format=np.array("syncfoley.motion-scorer/4")), "missing .'picture_combination'"),
    # A /3 file is a committee with an onset verifier: one without it is incomplete.
    (lambda a: a.update(format=np.array("syncfoley.motion-scorer/3")), "missing .'verifier_calibration'"),
])
def test_a_committee_file_that_does_not_fit_is_refused(tmp_path: Path, change, message: str) -> None:
    arrays = _committee()[0].to_arrays()
    change(arrays)
    with pytest.raises(FormatError, match=message):
        load_scorer(_write(tmp_path / "bad.npz", arrays))


def test_sensitivity_moves_the_threshold_monotonically() -> None:
    scorer = _scorer()
    values = [scorer.threshold_for(s) for s in (0.0, 0.25, 0.5, 0.75, 1.0)]
    assert values == sorted(values, reverse=True)
    assert values[2] == scorer.threshold == 0.4  # the operating point exactly: what compare_scorers applies
    assert 0 < values[-1] < values[0] < 1


@pytest.mark.parametrize("change,message", [
    (lambda a: a.pop("w2"), "missing"),
    (lambda a: a.update(extra=np.zeros(1)), "unexpected"),
    (lambda a: a.update(b0=np.zeros(3, np.float32)), "shape"),
    (lambda a: a.update(mean=np.full(FEATURES, np.nan, np.float32)), "not finite"),
    (lambda a: a.update(format=np.array("something/else")), "is not a"),
    # Numbers a file may hold but training never writes: each would detect nothing or everything.
    (lambda a: a.update(threshold=np.array(7.0)), r"threshold 7 is not a probability \(valid: between 0 and 1\)"),
    (lambda a: a.update(offset=np.array(-3.0)), r"offset -3 is not a place within a frame"),
    (lambda a: a.update(calibration=np.array([-1.5, 0.0])), r"calibration slope -1.5 .*\(valid: above 0\)"),
    (lambda a: a.update(full_strength=np.array(0.0)), "full_strength 0 must be a speed above 0"),
    (lambda a: a.update(names=np.array(list(reversed(NAMES)))), "other motion features"),
    # Weights trained on an earlier, shorter feature set: told to retrain, not which shape is off.
    (lambda a: a.update(names=np.array(NAMES[:33]), mean=a["mean"][:33], scale=a["scale"][:33],
                        w0=a["w0"][:33]), fr"other motion features .33, these are {FEATURES}.; retrain"),
])
def test_a_file_that_does_not_fit_is_refused_by_name(tmp_path: Path, change, message: str) -> None:
    arrays = _scorer().to_arrays()
    change(arrays)
    with pytest.raises(FormatError, match=message):
        load_scorer(_write(tmp_path / "bad.npz", arrays))


def test_not_an_npz_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "junk.npz"
    path.write_bytes(b"not a zip at all")
    with pytest.raises(FormatError, match="not a motion-scorer weights file: .* zip archive"):
        load_scorer(path)


def test_a_cut_short_or_swollen_npz_is_refused_before_it_is_read(tmp_path: Path) -> None:
    """A copy that stopped part-way still starts like a zip; one that promises gigabytes of
    zeros (a few kilobytes compressed) would fill memory if it were read first."""
    whole = _write(tmp_path / "whole.npz", _scorer().to_arrays()).read_bytes()
    cut = tmp_path / "cut.npz"
    cut.write_bytes(whole[: len(whole) // 3])
    with pytest.raises(FormatError, match="cut.npz is not a motion-scorer weights file"):
        load_scorer(cut)
    swollen = tmp_path / "swollen.npz"
    with zipfile.ZipFile(swollen, "w", zipfile.ZIP_DEFLATED) as archive:
        with archive.open("mean.npy", "w", force_zip64=True) as member:
            np.lib.format.write_array_header_1_0(member, {"descr": "<f4", "fortran_order": False, "shape": (2**27,)})
            zeros = bytes(2**20)
            for _ in range(2**9):
                member.write(zeros)
    assert swollen.stat().st_size < 2**20
    with pytest.raises(FormatError, match=r"swollen.npz unpacks to 512 MB; a motion scorer is under 64 MB"):
        load_scorer(swollen)
    # A member that unpacks to a few bytes but whose .npy header declares 512 GB: NumPy
    # allocates what the header says before reading (a MemoryError).
    liar = tmp_path / "liar.npz"
    with zipfile.ZipFile(liar, "w") as archive:
        with archive.open("mean.npy", "w") as member:
            np.lib.format.write_array_header_1_0(member, {"descr": "<f4", "fortran_order": False, "shape": (2**37,)})
    with pytest.raises(FormatError, match=r"liar.npz unpacks to 524288 MB"):
        load_scorer(liar)


def test_weights_resolve_explicit_then_environment_then_bundled(tmp_path: Path, monkeypatch) -> None:
    mine = _write(tmp_path / "mine.npz", _scorer().to_arrays())
    env = _write(tmp_path / "env.npz", _scorer(hidden=4).to_arrays())
    monkeypatch.delenv("SYNCFOLEY_MOTION_WEIGHTS", raising=False)
    assert resolve_scorer().source == str(BUNDLED)
    monkeypatch.setenv("SYNCFOLEY_MOTION_WEIGHTS", str(env))
    assert resolve_scorer().source == str(env)
    assert resolve_scorer(mine).source == str(mine)
    with pytest.raises(CheckpointError, match="not there"):
        resolve_scorer(tmp_path / "typo.npz")  # a named file that is missing is an error, not a fallback


def test_pool3_is_the_neighbourhood_maximum() -> None:
    a = np.random.default_rng(2).random((5, 7)).astype(np.float32)
    padded = np.pad(a, 1, mode="edge")
    want = np.max([padded[dy:dy + 5, dx:dx + 7] for dy in range(3) for dx in range(3)], axis=0)
    assert np.array_equal(pool3(a), want)


def test_magnitude_is_numpys_norm_to_the_bit() -> None:
    # The shipped networks were trained on features computed with np.linalg.norm.
    rng = np.random.default_rng(3)
    for dtype, scale in ((np.float32, 1.0), (np.float32, 1e-20), (np.float32, 1e18), (np.float64, 37.0)):
        v = (rng.standard_normal((9, 11, 2)) * scale).astype(dtype)
        got, want = magnitude(v), np.linalg.norm(v, axis=-1)
        assert got.dtype == want.dtype
        assert np.array_equal(got, want)


def _verifier(seed: int = 0):
    """Trees fitted by scikit-learn on random candidates whose label depends on two features."""
    from sklearn.ensemble import GradientBoostingClassifier

    from syncfoley.engine.detect.motion_training import VERIFIER_TREES, verifier_of
    from syncfoley.engine.detect.onset_verifier import FEATURES as VFEATURES

    rng = np.random.default_rng(seed)
    x = rng.standard_normal((400, VFEATURES))
    y = (x[:, 0] + 0.5 * x[:, 70] + 0.3 * rng.standard_normal(400) > 0).astype(int)
    model = GradientBoostingClassifier(**{**VERIFIER_TREES, "n_estimators": 40}, init="zero", random_state=0)
    return model.fit(x, y), verifier_of(model.fit(x, y)), x


def test_the_verifier_scores_candidates_as_scikit_learn_does() -> None:
    model, verifier, x = _verifier()
    test = np.random.default_rng(9).standard_normal((200, x.shape[1]))
    # The NumPy walk down the exported trees is scikit-learn's own prediction, to rounding.
    np.testing.assert_allclose(verifier.raw(test), model.decision_function(test), atol=1e-9)
    assert len(verifier.roots) == 40 and (verifier.feature[verifier.roots] >= 0).all()


def test_a_scorer_with_a_verifier_round_trips(tmp_path: Path) -> None:
    from dataclasses import replace

    _, verifier, x = _verifier()
    scorer = replace(_committee()[0], verifier=replace(verifier, calibration=(0.8, -0.2)))
    arrays = scorer.to_arrays()
    assert str(arrays["format"]) == "syncfoley.motion-scorer/3"
    back = load_scorer(_write(tmp_path / "v.npz", arrays))
    assert back.verifier is not None and back.verifier.calibration == (0.8, -0.2)
    np.testing.assert_allclose(back.verifier.probability(x), scorer.verifier.probability(x), atol=1e-12)


def _break_a_tree(a: dict) -> None:
    left = a["verifier_left"].copy()
    inner = np.flatnonzero(a["verifier_feature"] >= 0)
    left[inner[3]] = inner[3]  # a node that is its own child: a walk down it would never end
    a["verifier_left"] = left


@pytest.mark.parametrize("change,message", [
    (_break_a_tree, "malformed"),
    (lambda a: a.update(verifier_feature=np.where(a["verifier_feature"] >= 0, 999, -1).astype(np.int32)),
     "outside 0"),
    (lambda a: a.update(verifier_names=a["verifier_names"][::-1]), "fitted on other features; refit"),
    (lambda a: a.update(verifier_value=np.full_like(a["verifier_value"], np.nan)), "finite"),
    (lambda a: a.update(verifier_split=a["verifier_split"][:5]), "verifier_split has shape"),
    (lambda a: a.update(verifier_roots=a["verifier_roots"] + 10**6), "outside the"),
    (lambda a: a.pop("verifier_roots"), "missing .'verifier_roots'"),
    (lambda a: a.update(verifier_calibration=np.array([-0.9, 0.1])), r"slope -0.9 .*\(valid: above 0\)"),
])
def test_a_verifier_that_does_not_fit_is_refused_by_name(tmp_path: Path, change, message: str) -> None:
    from dataclasses import replace

    arrays = replace(_committee()[0], verifier=_verifier()[1]).to_arrays()
    change(arrays)
    with pytest.raises(FormatError, match=message):
        load_scorer(_write(tmp_path / "bad.npz", arrays))
