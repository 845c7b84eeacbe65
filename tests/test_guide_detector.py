"""The guide-track detector: onsets from production sound, to the millisecond."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from conftest import EXAMPLE, f1_score, production_sound

from syncfoley.bridge import api
from syncfoley.core.errors import MediaError
from syncfoley.engine.demo.scenes import demo_scene
from syncfoley.engine.media.video import write_video


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
    assert track.detector == "physics" and track.extra["detector_requested"] == "auto"
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


def test_a_guide_whose_samples_are_no_numbers_is_refused(tmp_path: Path) -> None:
    """Float PCM can carry NaN or infinity: the levels were NaN from there on."""
    sr = 48000
    y = 0.1 * np.sin(2 * np.pi * 440 * np.arange(2 * sr) / sr)
    y[sr] = np.inf
    sf.write(str(tmp_path / "inf.wav"), y.astype(np.float32), sr, subtype="FLOAT")
    with pytest.raises(MediaError, match=r"inf.wav: its audio holds samples that are no numbers .* at 1.000 s"):
        api.detect(EXAMPLE, guide=tmp_path / "inf.wav")


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


def test_hits_alone_make_no_contact_regions(guide_wav) -> None:
    """Ringing metal and glass, hits 80 ms apart, hum and a gliding tone: none of it
    is continuous contact."""
    wav, _ = guide_wav
    assert api.detect(EXAMPLE, detector="audio", guide=wav).regions == ()


def test_a_scrape_between_hits_is_a_region_with_its_start_and_end(tmp_path: Path) -> None:
    from scipy.signal import butter, sosfilt

    sr, start, end = 48000, 3.0, 5.0
    # Hits before and after; a 2 s scrape between them: band-passed noise whose
    # level wanders by a few dB, 20 ms fades, over the same room tone.
    y, times = production_sound(seed=13, duration=8.0, quiet=(start - 0.8, end + 0.1))
    n = int((end - start) * sr)
    rng = np.random.default_rng(1)
    noise = sosfilt(butter(4, [600, 5000], btype="band", fs=sr, output="sos"), rng.standard_normal(n))
    wander = 10 ** (3 * np.sin(2 * np.pi * 1.3 * np.arange(n) / sr) / 20)
    fade = np.minimum(1.0, np.minimum(np.arange(n), n - 1 - np.arange(n)) / (0.02 * sr))
    y[int(start * sr) : int(start * sr) + n] += (0.15 * noise / np.abs(noise).max() * wander * fade).astype(np.float32)
    path = tmp_path / "scrape.wav"
    sf.write(str(path), y, sr, subtype="PCM_24")
    track = api.detect(EXAMPLE, detector="audio", guide=path)
    assert len(track.regions) == 1, track.regions
    region = track.regions[0]
    assert abs(region.start - start) < 0.05 and abs(region.end - end) < 0.05, region
    outside = [t for t in track.times() if not start - 0.05 < t < end + 0.05]
    f1, _, _ = f1_score(outside, [t for t in times if t < track.span.end], tol=0.02)  # the clip is 6 s
    assert f1 >= 0.9, "the hits around the scrape are still found"


@pytest.fixture(scope="module")
def room_tone_clips(tmp_path_factory: pytest.TempPathFactory):
    from room_tones import TONES, guide_clip

    out = tmp_path_factory.mktemp("rooms")
    return [guide_clip(out, tone, seed, container) for tone in TONES for seed, container in ((1, "mp4"), (2, "mov"))]


def test_room_tone_is_not_an_onset_and_every_hit_is_found(room_tone_clips) -> None:
    """White, pink and brown noise, hum, babble and a reverberant room, starting with the
    file, in AAC/MP4 and PCM/MOV; quiet hits in loud ones' tails among the hits."""
    hits = found = matched = matched20 = 0
    for clip in room_tone_clips:
        times = api.detect(clip.path, detector="audio").times()
        assert not [t for t in times if t < 0.05], (clip.path.name, times)  # where the room tone starts
        _, p, r = f1_score(times, clip.hits)
        _, p20, r20 = f1_score(times, clip.hits, tol=0.02)
        hits, found = hits + len(clip.hits), found + len(times)
        matched, matched20 = matched + round(r * len(clip.hits)), matched20 + round(r20 * len(clip.hits))
    precision, recall = matched / found, matched / hits
    f1_20 = 2 * matched20 / (found + hits)
    assert precision >= 0.97 and recall >= 0.97 and f1_20 >= 0.95, (precision, recall, f1_20)


@pytest.mark.parametrize("tone,seed,container", [("white", 1020, "mp4"), ("white", 1001, "mov"),
                                                  ("pink", 1040, "mp4"), ("babble", 1040, "mp4")])
def test_the_room_tones_own_flux_between_hits_is_no_onset(tmp_path: Path, tone: str, seed: int,
                                                          container: str) -> None:
    """A few quiet hits over noise: the flux is scaled by min_flux, not by the hits, and the
    noise's own excursions cleared the local mean by delta (2, 2, 1 and 4 false onsets here
    before RULE50: one before the first hit, the rest 40 ms to 0.9 s after one); a faint peak
    must now be new sound."""
    from room_tones import guide_clip

    clip = guide_clip(tmp_path, tone, seed, container)
    times = api.detect(clip.path, detector="audio").times()
    assert [t for t in times if min(abs(t - h) for h in clip.hits) > 0.1] == [], (clip.hits, times)
    assert all(min(abs(t - h) for t in times) <= 0.02 for h in clip.hits), (clip.hits, times)


def test_a_quiet_hit_in_a_loud_ones_ringing_tail_is_placed_where_it_starts(tmp_path: Path) -> None:
    """The quiet hit may not rise above the tail in amplitude at all (the spectral flux finds
    it by its new partials); placing it on the waveform's steepest rise used to land on the
    tail, 30 ms early."""
    from room_tones import SR

    t = np.arange(int(1.5 * SR)) / SR
    rng = np.random.default_rng(4)
    y = rng.standard_normal(len(t)) * 10 ** (-55 / 20)
    loud = 0.5 * np.sin(2 * np.pi * 900 * t) * np.exp(-t / 0.25)  # rings for a second
    start, quiet_at = int(0.3 * SR), int(0.55 * SR)
    y[start:] += loud[: len(y) - start]
    q = np.arange(int(0.15 * SR)) / SR
    quiet = 0.012 * (np.sin(2 * np.pi * 3700 * q) + np.sin(2 * np.pi * 5300 * q)) * np.exp(-q / 0.03)
    y[quiet_at:quiet_at + len(q)] += quiet
    path = tmp_path / "tail.wav"
    sf.write(str(path), y.astype(np.float32), SR, subtype="PCM_24")
    times = api.detect(EXAMPLE, detector="audio", guide=path).times()
    near = [x for x in times if abs(x - 0.55) < 0.1]
    assert near and abs(near[0] - 0.55) <= 0.005, times
    assert any(abs(x - 0.3) <= 0.005 for x in times), times
