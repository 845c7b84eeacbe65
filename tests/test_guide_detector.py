"""The guide-track detector: onsets from production sound, to the millisecond."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from syncfoley.bridge import api
from syncfoley.engine.errors import MediaError
from syncfoley.engine.media import write_video
from syncfoley.engine.scenes import demo_scene

from conftest import EXAMPLE, f1_score, production_sound


@pytest.fixture(scope="module")
def guide_wav(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[float]]:
    y, times = production_sound(seed=11, duration=6.0)
    path = tmp_path_factory.mktemp("guide") / "production.wav"
    sf.write(str(path), y, 48000, subtype="PCM_24")
    return path, times


@pytest.fixture(scope="module")
def video_with_sound(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[float]]:
    y, times = production_sound(seed=12, duration=4.0)
    scene = demo_scene(duration=4.0)
    path = tmp_path_factory.mktemp("av") / "take.mp4"
    write_video(path, scene.frames(), scene.fps, audio=(y, 48000))  # AAC, with encoder priming
    return path, times


def test_guide_wav_onsets_within_20ms(guide_wav) -> None:
    wav, times = guide_wav
    track = api.detect(EXAMPLE, detector="audio", guide=wav)
    assert track.detector == "audio"
    f1, p, r = f1_score(track.times(), times, tol=0.02)
    assert f1 >= 0.97, (p, r, len(track.onsets), len(times))
    errors = [min(abs(d - t) for d in track.times()) for t in times]
    assert np.median(errors) < 0.002


def test_auto_uses_the_videos_own_sound(video_with_sound) -> None:
    video, times = video_with_sound
    track = api.detect(video)
    assert track.detector == "audio" and track.extra["detector_requested"] == "auto"
    f1, p, r = f1_score(track.times(), times, tol=0.02)
    assert f1 >= 0.97, (p, r)


def test_auto_falls_back_to_the_picture_when_the_sound_is_silent(tmp_path: Path) -> None:
    scene = demo_scene(duration=3.0)
    path = tmp_path / "silent_track.mp4"
    write_video(path, scene.frames(), scene.fps, audio=(np.zeros(3 * 48000, dtype=np.float32), 48000))
    track = api.detect(path)
    assert track.detector == "motion"
    assert track.extra["guide_silent_db"] < -50
    f1, _, _ = f1_score(track.times(), scene.impacts())
    assert f1 >= 0.9


def test_range_keeps_sound_times_absolute(video_with_sound) -> None:
    video, times = video_with_sound
    track = api.detect(video, start=1.0, end=3.0)
    inside = [t for t in times if 1.0 <= t < 3.0]
    assert all(1.0 <= t < 3.0 for t in track.times())
    f1, _, _ = f1_score(track.times(), inside, tol=0.02)
    assert f1 >= 0.97


def test_audio_detector_needs_sound(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="--guide"):
        api.detect(EXAMPLE, detector="audio")
    with pytest.raises(MediaError, match="no such guide"):
        api.detect(EXAMPLE, guide=tmp_path / "missing.wav")


def test_sustained_sound_alone_gives_no_onsets(tmp_path: Path) -> None:
    sr = 48000
    t = np.arange(4 * sr) / sr
    hum = 0.2 * np.sin(2 * np.pi * (220 * t + 30 * np.sin(2 * np.pi * 0.3 * t)))
    fade = np.minimum(1.0, t / 0.5)  # a slow fade-in is not an onset either
    sf.write(str(tmp_path / "hum.wav"), (hum * fade).astype(np.float32), sr)
    track = api.detect(EXAMPLE, detector="audio", guide=tmp_path / "hum.wav")
    assert track.onsets == ()


def test_loudness_envelope_peaks_at_the_hits(guide_wav) -> None:
    wav, times = guide_wav
    env = api.detect(EXAMPLE, detector="audio", guide=wav).envelope
    assert env is not None and env.rate == 100.0
    at_hits = np.mean([env.at(t + 0.005) for t in times])
    between = np.mean([env.at(t - 0.03) for t in times[1:] if min(abs(t - 0.03 - u) for u in times) > 0.025])
    assert at_hits > between
