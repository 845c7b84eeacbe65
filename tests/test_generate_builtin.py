"""The built-in engine: real impacts, in sync, varied, judged by SyncFusion's protocol."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from syncfoley import presets
from syncfoley.bridge import api
from syncfoley.core.errors import MediaError, PresetError
from syncfoley.engine.evaluate.protocol import score_onsets
from syncfoley.engine.generate.synth import render_hit
from syncfoley.engine.types import Envelope, Onset, OnsetTrack, Region, TimeRange

GREATEST_HITS = ("wood", "metal", "glass", "plastic", "ceramic", "stone", "cloth", "paper", "gravel", "leaves")


def _track(times, strengths=None, duration=10.0, regions=(), envelope=None) -> OnsetTrack:
    strengths = strengths if strengths is not None else [0.8] * len(times)
    return OnsetTrack(
        source="test", duration=duration, fps=30.0, detector="test",
        onsets=tuple(Onset(float(t), float(s)) for t, s in zip(times, strengths)),
        range=TimeRange(0.0, duration), regions=tuple(regions), envelope=envelope,
    )


def _score(tmp_path: Path, track: OnsetTrack, **kw) -> dict:
    audio = api.generate(api.generation_request(track, **kw))
    wav = api.write_wav(tmp_path / "g.wav", audio, overwrite=True)
    return api.evaluate(wav, track).to_dict()


rng = np.random.default_rng(7)
TRACKS = {
    "regular": _track(np.arange(0.25, 9.8, 0.5)),
    "irregular": _track(np.cumsum(rng.uniform(0.18, 0.9, 18)), rng.uniform(0.35, 1.0, 18)),
    # Scrapes between hits: each region starts with its contact hit, and the texture
    # must not read as extra hits (AP counts every detection that was not asked for).
    "regions": _track([0.3, 1.0, 2.6, 3.2, 4.0, 6.1, 7.0, 8.4, 9.2], [0.9, 0.6, 0.8, 0.5, 0.9, 0.7, 0.6, 0.8, 0.9],
                      regions=[Region(1.0, 2.3, 0.7), Region(4.0, 5.7, 0.9), Region(7.0, 8.1, 0.6)]),
}


@pytest.mark.parametrize("preset", GREATEST_HITS)
@pytest.mark.parametrize("kind", sorted(TRACKS))
def test_every_material_hits_its_onsets(tmp_path: Path, preset: str, kind: str) -> None:
    scores = _score(tmp_path, TRACKS[kind], preset=preset)
    assert scores["onset_accuracy"] >= 0.95, scores
    assert scores["onset_ap"] >= 0.9, scores


DENSE_TIMES = np.arange(0.2, 9.8, 0.1)  # 10 hits per second
DENSE_STRENGTHS = np.random.default_rng(3).uniform(0.35, 1.0, len(DENSE_TIMES))


def _clicks(times, sr=22050, duration=10.5) -> np.ndarray:
    """The best-timed sound there is: 3 ms noise clicks, exactly on the onsets, equal level."""
    y = np.zeros(int(duration * sr))
    r = np.random.default_rng(0)
    n = int(0.03 * sr)
    for t in times:
        i = int(round(t * sr))
        y[i: i + n] += r.standard_normal(n) * np.exp(-np.arange(n) / (0.003 * sr))
    return (y / np.abs(y).max() * 0.9).astype(np.float32)


@pytest.fixture(scope="module")
def click_ceiling() -> float:
    """What SyncFusion's protocol gives ideal clicks at 10 hits/s: its librosa detector
    (93 ms frames, 23 ms hop, delta 0.3 of the file's largest flux) splits a hit's
    rise over two frames at some alignments and misses it."""
    return score_onsets(DENSE_TIMES, _clicks(DENSE_TIMES)).onset_accuracy


@pytest.mark.parametrize("preset", GREATEST_HITS)
def test_dense_hits_are_as_well_timed_as_ideal_clicks(tmp_path: Path, preset: str, click_ceiling: float) -> None:
    track = _track(DENSE_TIMES, DENSE_STRENGTHS, duration=10.5)
    scores = _score(tmp_path, track, preset=preset)
    assert click_ceiling < 0.8  # the protocol's own limit at this density (measured, not assumed)
    assert scores["onset_accuracy"] >= click_ceiling - 0.1, (scores, click_ceiling)
    assert scores["onset_ap"] >= 0.9, scores  # and nothing detected that was not asked for


def test_every_preset_varies_consecutive_hits() -> None:
    sr = 48000
    times = [0.5, 1.0, 1.5, 2.0, 2.5]
    for name in presets.names():
        audio = api.generate(api.generation_request(_track(times, [0.7] * 5, duration=3.0), preset=name))
        hits = [audio[int(t * sr): int(t * sr) + 2400] for t in times]
        for a, b in zip(hits, hits[1:]):
            assert not np.array_equal(a, b), name


def test_stereo_pans_each_hit_and_keeps_sync() -> None:
    times = [0.5, 1.0, 1.5, 2.0]
    track = _track(times, duration=3.0)
    stereo = api.generate(api.generation_request(track, preset="wood", channels=2))
    mono = api.generate(api.generation_request(track, preset="wood"))
    assert stereo.shape == (144000, 2) and mono.shape == (144000,)
    balance = []
    for t in times:
        i = int(t * 48000)
        seg = stereo[i: i + 4800]
        assert np.abs(stereo[i - 480: i]).max() < 1e-3  # silence just before each hit, both sides
        balance.append(float(np.abs(seg[:, 0]).max() / np.abs(seg[:, 1]).max()))
    assert max(balance) / min(balance) > 1.2, balance  # hits sit at different places


def test_regions_become_textures_that_follow_the_envelope() -> None:
    rate = 100.0
    values = tuple(0.1 if i < 150 else 1.0 for i in range(400))  # quiet first 1.5 s, loud after
    track = _track([0.2], duration=4.0, regions=[Region(0.5, 3.5, 0.9)], envelope=Envelope(rate, values))
    audio = api.generate(api.generation_request(track, preset="wood"))
    sr = 48000

    def rms(a: float, b: float) -> float:
        return float(np.sqrt(np.mean(audio[int(a * sr): int(b * sr)] ** 2)))

    assert rms(0.9, 1.4) > 10 * rms(3.7, 3.95) + 1e-6, "a sustained texture inside the region, silence after"
    assert rms(2.0, 3.0) > 2.5 * rms(0.9, 1.4), "the texture follows the intensity envelope"
    # Smooth fades: the level at the region's end falls over tens of ms, never in one step.
    frames = [rms(3.3 + k * 0.005, 3.305 + k * 0.005) for k in range(40)]
    plateau = float(np.median(frames[:20]))
    down6 = next(k for k, f in enumerate(frames) if f < 0.5 * plateau)
    down20 = next(k for k, f in enumerate(frames) if f < 0.1 * plateau)
    assert down20 - down6 >= 3, frames  # from -6 to -20 dB takes 15 ms or more: a fade, not a cut
    plain = api.generate(api.generation_request(_track([0.2], duration=4.0), preset="wood"))
    assert rms(0.9, 1.4) > 10 * float(np.sqrt(np.mean(plain[int(0.9 * sr): int(1.4 * sr)] ** 2))) + 1e-6


def test_a_region_past_any_length_sounds_to_the_end_of_the_track() -> None:
    """A file's region may run to 1e308 s: as samples that is past any float, and it ended
    the render in an OverflowError. It is the same texture as one that runs to the end."""
    far = api.generate(api.generation_request(_track([0.2], duration=2.0, regions=[Region(0.5, 1e308, 0.9)]),
                                              preset="wood"))
    to_end = api.generate(api.generation_request(_track([0.2], duration=2.0, regions=[Region(0.5, 2.0, 0.9)]),
                                                 preset="wood"))
    assert np.array_equal(far, to_end)
    assert float(np.abs(far[int(1.5 * 48000):]).max()) > 0.01


def test_reference_recording_becomes_one_shots(tmp_path: Path) -> None:
    sr = 44100
    t = np.arange(int(0.25 * sr)) / sr
    ref = np.zeros(int(2.0 * sr))
    for when, f in [(0.2, 400.0), (0.8, 900.0), (1.4, 2000.0)]:
        i = int(when * sr)
        ref[i: i + len(t)] += np.sin(2 * np.pi * f * t) * np.exp(-t * 25)
    sf.write(str(tmp_path / "ref.wav"), ref * 0.5, sr, subtype="PCM_16")
    times = [0.3, 1.0, 1.7, 2.4]
    track = _track(times, duration=3.0)
    request = api.generation_request(track, reference=tmp_path / "ref.wav", engine="builtin")
    result = api.render(request)
    assert result.info == {"timbre": "reference", "one_shots": 3}
    audio = result.audio
    found = []
    for tt in times:
        seg = audio[int(tt * 48000): int(tt * 48000) + 4096]
        spec = np.abs(np.fft.rfft(seg * np.hanning(len(seg))))
        found.append(float(np.fft.rfftfreq(len(seg), 1 / 48000)[spec.argmax()]))
        assert np.abs(audio[int(tt * 48000) - 400: int(tt * 48000) - 100]).max() < 0.01
    for f, e in zip(found, [400, 900, 2000, 400]):
        assert abs(f - e) < 0.06 * e, found
    wav = api.write_wav(tmp_path / "r.wav", audio)
    scores = api.evaluate(wav, track)
    assert scores.onset_accuracy >= 0.95 and scores.onset_ap >= 0.9


def test_a_reference_without_hits_is_refused_for_one_shots(tmp_path: Path) -> None:
    sr = 48000
    hum = 0.3 * np.sin(2 * np.pi * 220 * np.arange(2 * sr) / sr)
    sf.write(str(tmp_path / "hum.wav"), hum, sr)
    with pytest.raises(MediaError, match="no distinct hits"):
        api.check_request(api.generation_request(_track([1.0]), reference=tmp_path / "hum.wav", engine="builtin"))


def test_greatest_hits_materials_are_shipped() -> None:
    assert set(GREATEST_HITS) <= set(presets.names())
    assert presets.load("dirt").name == "gravel"


def test_repeated_hits_are_never_identical() -> None:
    preset = presets.load("wood")
    track = _track([0.5, 1.0, 1.5, 2.0], [0.7] * 4, duration=3.0)
    audio = api.generate(api.generation_request(track, preset="wood"))
    sr = 48000
    hits = [audio[int(t * sr): int(t * sr) + 4800] for t in (0.5, 1.0, 1.5, 2.0)]
    for a, b in zip(hits, hits[1:]):
        assert not np.array_equal(a, b)
        corr = float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))
        assert corr < 0.99, "consecutive hits must differ audibly, not only by rounding"
    # ...yet a render is reproducible for a seed.
    again = api.generate(api.generation_request(track, preset="wood"))
    assert np.array_equal(audio, again)
    other = api.generate(api.generation_request(track, preset="wood", seed=1))
    assert not np.array_equal(audio, other)
    assert preset.variation.pitch > 0


def test_strength_sets_loudness() -> None:
    track = _track([0.5, 1.5], [1.0, 0.2], duration=2.5)
    audio = api.generate(api.generation_request(track, preset="ceramic"))
    loud = np.abs(audio[24000:36000]).max()
    quiet = np.abs(audio[72000:84000]).max()
    assert loud > 3 * quiet


def test_hits_start_at_the_onset_sample() -> None:
    track = _track([0.25, 1.0], duration=1.5)
    audio = api.generate(api.generation_request(track, preset="wood"))
    for t in (0.25, 1.0):
        i = int(round(t * 48000))
        assert np.abs(audio[i - 480: i]).max() < 1e-3 * np.abs(audio[i: i + 480]).max() + 1e-6
        assert np.abs(audio[i: i + 48]).max() > 0.01


def test_render_hit_is_a_resonance_not_a_beep() -> None:
    preset = presets.load("metal")
    hit = render_hit(preset, 1.0, 0, 48000)
    spectrum = np.abs(np.fft.rfft(hit))
    freqs = np.fft.rfftfreq(len(hit), 1 / 48000)
    peaks = [m.freq for m in preset.modes]
    for f in peaks[:3]:
        band = spectrum[(freqs > f * 0.9) & (freqs < f * 1.1)].max()
        assert band > 5 * np.median(spectrum)
    env = np.abs(hit)
    assert env[: 4800].max() > 4 * env[-4800:].max(), "a hit decays"


def _one_shots(folder: Path, freqs=(300.0, 700.0, 1500.0)) -> None:
    folder.mkdir()
    sr = 44100
    for i, f in enumerate(freqs):
        t = np.arange(int(0.3 * sr)) / sr
        tone = np.sin(2 * np.pi * f * t) * np.exp(-t * 20)
        shot = np.concatenate([np.zeros(int(0.02 * sr)), tone])  # 20 ms of silence at the head
        sf.write(str(folder / f"shot{i}.wav"), shot, sr, subtype="PCM_16")


def test_samples_mode_round_robin_in_sync(tmp_path: Path) -> None:
    _one_shots(tmp_path / "shots")
    times = [0.3, 0.9, 1.5, 2.1, 2.7, 3.3]
    track = _track(times, duration=4.0)
    audio = api.generate(api.generation_request(track, samples=tmp_path / "shots"))
    sr = 48000
    found = []
    for t in times:
        seg = audio[int(t * sr): int(t * sr) + 4096]
        spec = np.abs(np.fft.rfft(seg * np.hanning(len(seg))))
        found.append(np.fft.rfftfreq(len(seg), 1 / sr)[spec.argmax()])
        # the attack, not the file's start, lands on the onset
        assert np.abs(audio[int(t * sr) - 200: int(t * sr) - 20]).max() < 0.01
    expected = [300, 700, 1500, 300, 700, 1500]
    for f, e in zip(found, expected):
        assert abs(f - e) < 0.06 * e, (found, expected)  # slight pitch variation only
    wav = api.write_wav(tmp_path / "s.wav", audio)
    scores = api.evaluate(wav, track)
    assert scores.onset_accuracy >= 0.95 and scores.onset_ap >= 0.9


def test_samples_folder_errors(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="does not exist"):
        api.check_timbre(api.generation_request(_track([1.0]), samples=tmp_path / "none").timbre)
    silent = tmp_path / "silent"
    silent.mkdir()
    sf.write(str(silent / "a.wav"), np.zeros(1000), 48000)
    with pytest.raises(MediaError, match="silent"):
        api.check_timbre(api.generation_request(_track([1.0]), samples=silent).timbre)
    # Float WAVs can hold NaN: its peak passed every level test and the attack search ended in an IndexError.
    broken = tmp_path / "broken"
    broken.mkdir()
    sf.write(str(broken / "a.wav"), np.array([0.0, np.nan, 0.5] * 1000, np.float32), 48000, subtype="FLOAT")
    with pytest.raises(MediaError, match=r"sample .*a.wav holds samples that are no numbers "
                       r"\(NaN or infinity, first at 0.000 s\); remove it from"):
        api.check_timbre(api.generation_request(_track([1.0]), samples=broken).timbre)
    with pytest.raises(MediaError, match=r"reference audio .*a.wav holds samples that are no numbers "
                       r"\(NaN or infinity, first at 0.000 s\); give a recording that plays"):
        api.check_request(api.generation_request(_track([1.0]), reference=broken / "a.wav", engine="builtin"))
    # A one-shot libsndfile cannot read is named with what would do, as a reference is.
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "b.wav").write_bytes(b"RIFF not really")
    with pytest.raises(MediaError, match=r"sample .*b.wav cannot be read .*; give a WAV, FLAC, AIFF, OGG or MP3 file"):
        api.check_timbre(api.generation_request(_track([1.0]), samples=junk).timbre)


def test_one_shots_and_references_are_read_alike(tmp_path: Path) -> None:
    """A one-shot and a reference recording go through one reader: the same file gives the
    same samples whichever way it comes in, resampled to the rate asked (an MP3 at 44.1 kHz,
    written by FFmpeg, among them)."""
    import subprocess

    from syncfoley.engine.generate.clap import read_reference
    from syncfoley.engine.generate.samples import load_bank

    folder = tmp_path / "bank"
    folder.mkdir()
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine=frequency=440:duration=0.4",
                    "-af", "afade=t=out:st=0.1:d=0.3", "-ar", "44100", "-c:a", "libmp3lame", str(folder / "tick.mp3")],
                   check=True)
    bank = load_bank(folder, 48000)
    reference = read_reference(folder / "tick.mp3")
    assert bank.names == ("tick.mp3",)
    # About 0.4 s at 48 kHz (MP3 pads a frame or two), normalised to its peak.
    assert 0.38 * 48000 <= len(reference) <= 0.5 * 48000
    np.testing.assert_allclose(bank.sounds[0], reference / np.abs(reference).max(), atol=1e-6)
    spectrum = np.abs(np.fft.rfft(reference[:9600]))
    assert abs(np.argmax(spectrum) * 48000 / 9600 - 440) <= 5


def test_unknown_preset_names_the_valid_ones() -> None:
    with pytest.raises(PresetError) as err:
        api.check_timbre(api.generation_request(_track([1.0]), preset="kazoo").timbre)
    assert "kazoo" in str(err.value) and "wood" in str(err.value) and "leaves" in str(err.value)


def test_stereo_puts_each_hit_where_it_was_seen() -> None:
    from syncfoley.engine.types import Onset, OnsetTrack

    places = [0.0, 1.0, 0.5, 0.1]
    onsets = tuple(Onset(0.5 + 0.5 * k, 0.8, 1.0, x=x, y=0.5) for k, x in enumerate(places))
    track = OnsetTrack("clip.mp4", 3.0, 25.0, "motion", onsets)
    stereo = api.generate(api.generation_request(track, preset="wood", channels=2))
    sides = []
    for o in onsets:
        i = int(o.time * 48000)
        left, right = (float(np.sqrt(np.mean(stereo[i: i + 4800, c] ** 2))) for c in (0, 1))
        sides.append(right / (left + right))
    assert sides[0] < 0.02 and sides[1] > 0.98 and abs(sides[2] - 0.5) < 0.02, sides  # hard left, right, centre
    assert sides[0] < sides[3] < sides[2], sides  # a little right of the left edge
