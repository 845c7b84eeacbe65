"""The picture check (engine/detect/picture_check.py): the network run in NumPy as PyTorch
trains it, the frames kept while they stream, its weights in a scorer file, and detection
looking at the picture around every candidate."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from syncfoley.core.errors import FormatError
from syncfoley.engine.detect import picture_check as pc
from syncfoley.engine.detect.motion_scorer import BUNDLED, PICTURE, load_scorer


def _random_check(seed: int = 0, combination: tuple[float, float, float] = (0.8, 0.6, 0.1)) -> pc.PictureCheck:
    torch = pytest.importorskip("torch")
    torch.manual_seed(seed)
    return pc.picture_check_from_torch(pc.torch_net().state_dict(), combination)


def _with_check(tmp_path: Path, check: pc.PictureCheck, name: str = "s4.npz") -> Path:
    """The bundled scorer with ``check`` beside its verifier, as a scorer file."""
    base = load_scorer(BUNDLED)
    arrays = dataclasses.replace(base, picture=None).to_arrays()
    arrays.update(check.to_arrays())
    arrays["format"] = np.array(PICTURE)
    out = tmp_path / name
    np.savez(out, **arrays)
    return out


def test_the_network_runs_in_numpy_as_pytorch_trains_it() -> None:
    torch = pytest.importorskip("torch")
    torch.manual_seed(1)
    net = pc.torch_net().eval()
    check = pc.picture_check_from_torch(net.state_dict(), (1.0, 1.0, 0.0))
    rng = np.random.default_rng(1)
    stacks = rng.integers(0, 256, (6, pc.DEPTH, 2 * pc.HALF, 2 * pc.HALF)).astype(np.uint8)
    stacks[0] = 90  # flat: normalised to zeros, the biases alone
    with torch.no_grad():
        want = torch.sigmoid(net(torch.from_numpy(pc.normalised(stacks)))).squeeze(1).numpy()
    got = np.array([check.probability(s) for s in stacks])
    np.testing.assert_allclose(got, want, atol=1e-6)
    assert len(set(np.round(got, 6))) == len(got)  # the pictures were told apart, not all one value


def test_the_ring_cuts_what_the_whole_clip_would() -> None:
    n, height, width = 40, 90, 120
    rng = np.random.default_rng(2)
    frames = rng.integers(0, 256, (n, height, width)).astype(np.uint8)
    ring = pc.FrameRing(pc.DEPTH + 4)
    for end in range(1, n + 1):
        ring.push(frames[end - 1])
        assert ring.end == end and len(ring.frames) <= pc.DEPTH + 4
        # Every frame the ring can still cut: past the last one pushed, the last stands in.
        for k in range(max(0, end - 5), end):
            if k - pc.BEFORE < ring.first and ring.first > 0:
                continue
            for y, x in ((45.0, 60.0), (-3.0, 500.0), (89.4, 0.2)):
                np.testing.assert_array_equal(ring.window(k, y, x), pc.cut(frames[:end], k, y, x))
    with pytest.raises(ValueError, match="left the ring"):
        ring.window(n - pc.DEPTH - 4, 10.0, 10.0)


def test_a_scorer_file_keeps_its_picture_check_and_a_broken_one_is_refused(tmp_path: Path) -> None:
    check = _random_check(combination=(0.7, 0.5, 0.2))
    path = _with_check(tmp_path, check)
    loaded = load_scorer(path)
    assert loaded.picture is not None and loaded.verifier is not None
    assert loaded.picture.combination == pytest.approx((0.7, 0.5, 0.2))
    for (w, b), (w2, b2) in zip(check.convs, loaded.picture.convs):
        np.testing.assert_array_equal(w, w2)
        np.testing.assert_array_equal(b, b2)
    # Its confidence: the verifier's and the picture's log-odds, weighed and added.
    c, q = np.array([0.2, 0.9]), np.array([0.5, 0.1])
    want = 1 / (1 + np.exp(-(0.7 * np.log(c / (1 - c)) + 0.5 * np.log(q / (1 - q)) + 0.2)))
    np.testing.assert_allclose(loaded.picture.confidence(c, q), want)
    assert dataclasses.replace(loaded, source="").to_arrays()["format"] == PICTURE

    def broken(change, name: str) -> str:
        with np.load(path) as d:
            arrays = {k: d[k] for k in d.files}
        change(arrays)
        bad = tmp_path / name
        np.savez(bad, **arrays)
        with pytest.raises(FormatError) as err:
            load_scorer(bad)
        return str(err.value)

    assert "picture_conv1_w has shape (64, 32, 3, 4)" in broken(
        lambda a: a.update(picture_conv1_w=np.zeros((64, 32, 3, 4), np.float32)), "shape.npz")
    assert "picture_out_b must hold finite numbers" in broken(
        lambda a: a.update(picture_out_b=np.array([np.nan], np.float32)), "nan.npz")
    assert "a surer verifier must not lower the confidence" in broken(
        lambda a: a.update(picture_combination=np.array([-0.5, 0.5, 0.0])), "sign.npz")
    assert "missing ['picture_combination']" in broken(lambda a: a.pop("picture_combination"), "missing.npz")
    # A /3 file with a picture check's arrays: what reads it would drop them without a word.
    assert "unexpected ['picture_combination'" in broken(
        lambda a: a.update(format=np.array("syncfoley.motion-scorer/3")), "three.npz")


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("pymunk")
    from test_physics_detector import _render

    return _render("close", 502, (640, 360), tmp_path_factory.mktemp("picture"))[0]


def test_detection_looks_at_the_picture_around_every_candidate_and_nowhere_else(clip: Path, tmp_path: Path) -> None:
    from scipy.special import expit, logit

    from syncfoley.bridge import api
    from syncfoley.engine.detect.onset_verifier import CANDIDATE
    from syncfoley.engine.detect.physics import (
        PhysicsDetectorConfig,
        analyse_physics,
        analysis_frames,
        candidate_peaks,
        onset_time,
        verify,
    )
    from syncfoley.engine.media.video import probe
    from syncfoley.engine.types import TimeRange

    check = _random_check(3, (0.8, 0.6, 0.1))
    scorer = load_scorer(_with_check(tmp_path, check))
    info = probe(clip)
    whole = TimeRange(0.0, info.duration)
    analysis = analyse_physics(clip, info, whole, scorer)
    ks = candidate_peaks(analysis, 0.05, info.fps)
    assert len(ks) >= 5 and set(ks) <= set(analysis.pictures)
    p = analysis.probability
    for k in analysis.pictures:  # looked at: peaks that may be candidates, no other frame
        assert p[k] >= CANDIDATE and (k == 0 or p[k] >= p[k - 1]) and (k == len(p) - 1 or p[k] > p[k + 1])
    # What it saw is the window the whole clip's frames give, around the frame nearest the onset.
    stack = np.stack([img for _, img in analysis_frames(clip, info, whole, PhysicsDetectorConfig())])
    times = np.array(analysis.times)
    for k in ks:
        centre = int(np.argmin(np.abs(times - onset_time(analysis, k, scorer.offset, info.fps))))
        x, y = np.clip(analysis.where[k], 0.0, 1.0)
        # On one BLAS thread, as detection runs it beside the decoder: OpenBLAS on two threads
        # rounds the same window's convolutions otherwise (2e-9 apart on an AMD EPYC).
        with threadpool_limits(limits=1, user_api="blas"):
            want = check.probability(pc.cut(stack, centre, y * stack.shape[1], x * stack.shape[2]))
        assert analysis.pictures[k] == pytest.approx(want, abs=1e-9)
    # The confidence is the combination; the verifier's own is what it was.
    _, verified = verify(analysis, dataclasses.replace(scorer, picture=None), 0.05, info.fps)
    _, combined = verify(analysis, scorer, 0.05, info.fps)
    q = np.clip([analysis.pictures[k] for k in ks], 1e-4, 1 - 1e-4)
    want = expit(0.8 * logit(np.clip(verified, 1e-4, 1 - 1e-4)) + 0.6 * logit(q) + 0.1)
    np.testing.assert_allclose(combined, want)
    track = api.detect(clip, detector="physics", motion_weights=str(scorer.source))
    assert track.extra["threshold"] == pytest.approx(scorer.threshold)
    kept = sorted(float(c) for c in combined if c >= scorer.threshold)
    from_candidates = sorted(o.confidence for o in track.onsets if any(abs(o.confidence - c) < 1e-9 for c in kept))
    assert from_candidates == pytest.approx(kept)
    # An analysis made without the frames (as training makes it from cached features) cannot be judged by it.
    with pytest.raises(ValueError, match="never looked at"):
        verify(dataclasses.replace(analysis, pictures={}), scorer, 0.05, info.fps)


def test_benches_that_read_cached_features_judge_a_scorer_without_its_picture_check(
        tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    import sys

    from conftest import ROOT

    sys.path.insert(0, str(ROOT / "bench"))
    import compare_scorers as cs

    plain = load_scorer(BUNDLED)
    assert cs.from_features(plain) is plain and capsys.readouterr().err == ""
    checked = load_scorer(_with_check(tmp_path, _random_check()))
    stripped = cs.from_features(checked)
    assert stripped.picture is None and stripped.verifier is checked.verifier
    assert "judged without its picture check" in capsys.readouterr().err
