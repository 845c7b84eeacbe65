"""SyncFusion's onset accuracy / AP protocol, on audio whose onsets are known exactly."""

from __future__ import annotations

import numpy as np
import pytest

from syncfoley.engine.evaluate.protocol import EVAL_SR, score_onsets


def clicks(times, length=4.0, sr=EVAL_SR, amps=None):
    y = np.zeros(int(length * sr), dtype=np.float32)
    rng = np.random.default_rng(0)
    for i, t in enumerate(times):
        n = int(0.08 * sr)
        burst = rng.standard_normal(n) * np.exp(-np.arange(n) / (0.01 * sr))
        a = 0.8 if amps is None else amps[i]
        s = int(t * sr)
        y[s: s + n] += a * burst[: len(y) - s]
    return y


def test_perfect_audio_scores_one():
    times = [0.5, 1.2, 2.0, 3.1]
    s = score_onsets(times, clicks(times))
    assert s.onset_accuracy == 1.0 and s.onset_ap == pytest.approx(1.0)
    assert s.matched == 4 and s.requested == 4


def test_a_missing_hit_lowers_accuracy():
    times = [0.5, 1.2, 2.0, 3.1]
    s = score_onsets(times, clicks(times[:3]))
    assert s.onset_accuracy == pytest.approx(0.75)


def test_a_late_hit_is_a_miss():
    times = [0.5, 1.2, 2.0, 3.1]
    s = score_onsets(times, clicks([0.5, 1.2, 2.0, 3.25]))
    assert s.onset_accuracy == pytest.approx(0.75)
    s = score_onsets(times, clicks([0.5, 1.2, 2.0, 3.15]))
    assert s.onset_accuracy == 1.0


def test_loud_extra_hits_lower_ap():
    times = [0.5, 2.0, 3.1]
    y = clicks([0.5, 1.2, 2.0, 3.1], amps=[0.3, 0.9, 0.3, 0.3])
    s = score_onsets(times, y)
    assert s.onset_accuracy == 1.0
    assert s.onset_ap < 0.9


def test_audio_with_no_samples_is_refused_by_name(tmp_path) -> None:
    """An empty WAV (a render that wrote only its header) ended `syncfoley eval` in NumPy's
    zero-size-array traceback."""
    import soundfile as sf
    from conftest import run_cli

    sf.write(tmp_path / "empty.wav", np.zeros(0, dtype=np.float32), 48000)
    (tmp_path / "o.json").write_text('{"onsets": [{"time": 0.2}], "duration": 1}')
    done = run_cli("eval", str(tmp_path / "empty.wav"), "--onsets", str(tmp_path / "o.json"))
    assert done.returncode == 2 and "empty.wav holds no samples" in done.stderr, done.stderr
