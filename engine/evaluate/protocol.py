"""SyncFusion's evaluation protocol: does generated audio hit the onsets it was asked for?

Follows the published evaluation (shared/syncfusion/README.md, and
``script/evaluate_onset.py`` in the SyncFusion repository):

1. load the audio at 22050 Hz and detect onsets with
   ``librosa.onset.onset_detect(y, sr=22050, units="samples", delta=0.3)``;
2. a detection's confidence is the maximum of the min-max normalised |waveform|
   within +-0.05 s of it; non-maximum suppression keeps the most confident
   detection in any 0.05 s;
3. each requested onset, in time order, takes the unused detection within 0.1 s
   whose normalised |waveform| at its own sample is largest;
4. onset accuracy = matched / requested; onset AP = scikit-learn's average
   precision over matched (1, confidence), unmatched requested (1, 0) and unused
   detections (0, confidence).

Two places where the reference code is unsafe are made safe without changing any
result it computes correctly: windows near the file's start are clipped at
sample 0 (the reference slices with a negative start, which is empty and raises),
and the suppression loop does not drop list items while iterating over them.
Like the reference, requested onsets left once every detection is used are not
scored in AP (they still count against accuracy).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from syncfoley.core.errors import DependencyError, MediaError

EVAL_SR = 22050
NMS_WINDOW = 0.05
CONF_WINDOW = 0.05


@dataclass(frozen=True)
class OnsetScores:
    """The protocol's figures for one file."""

    onset_accuracy: float
    onset_ap: float
    requested: int
    detected: int
    matched: int
    tolerance: float
    spectral_distance: Optional[float] = None

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _librosa():
    try:
        import librosa
    except ImportError:
        raise DependencyError("evaluation needs librosa and scikit-learn: pip install 'syncfoley[eval]'") from None
    return librosa


def load_eval_audio(path: str | Path) -> np.ndarray:
    """Mono audio at 22050 Hz, as the protocol loads it."""
    librosa = _librosa()
    p = Path(path)
    if not p.is_file():
        raise MediaError(f"no such audio file: {p}")
    try:
        y, _ = librosa.load(str(p), sr=EVAL_SR, mono=True)
    except Exception as exc:  # librosa wraps many backends' errors
        raise MediaError(f"{p} is not an audio file that can be read ({exc})") from None
    if not y.size:
        # Scoring nothing would end in NumPy's "zero-size array" traceback.
        raise MediaError(f"{p} holds no samples; give the rendered audio to score")
    return y


def detect_audio_onsets(y: np.ndarray) -> np.ndarray:
    librosa = _librosa()
    return np.asarray(librosa.onset.onset_detect(y=y, sr=EVAL_SR, units="samples", delta=0.3), dtype=np.int64)


def _window_max(env: np.ndarray, centre: int, half: int) -> float:
    lo = max(0, centre - half)
    hi = min(len(env), centre + half)
    return float(env[lo:hi].max()) if hi > lo else 0.0


def _nms(onsets: np.ndarray, confidence: Sequence[float], window: int) -> np.ndarray:
    remaining = [int(o) for o in onsets]
    kept = []
    for idx in np.argsort(confidence, kind="stable")[::-1]:
        cur = int(onsets[idx])
        if cur not in remaining:
            continue
        kept.append(cur)
        remaining = [o for o in remaining if o != cur and abs(cur - o) >= window]
    return np.array(sorted(kept), dtype=np.int64)


def score_onsets(
    requested_s: Sequence[float],
    y: np.ndarray,
    tolerance: float = 0.1,
) -> OnsetScores:
    """Score audio ``y`` (22050 Hz) against requested onset times in seconds."""
    from sklearn.metrics import average_precision_score

    requested = np.round(np.asarray(sorted(requested_s), dtype=np.float64) * EVAL_SR).astype(np.int64)
    detected = detect_audio_onsets(y)
    env = np.abs(y).astype(np.float64)
    span = env.max() - env.min()
    env = (env - env.min()) / span if span > 0 else np.zeros_like(env)
    half = int(CONF_WINDOW * EVAL_SR)
    conf = [_window_max(env, int(o), half) for o in detected]
    kept = _nms(detected, conf, int(NMS_WINDOW * EVAL_SR))
    unused = kept.tolist()
    y_true: list[int] = []
    y_score: list[float] = []
    matched = 0
    for o in requested:
        if not unused:
            break
        near = [d for d in unused if abs(d - o) < tolerance * EVAL_SR]
        if not near:
            y_true.append(1)
            y_score.append(0.0)
            continue
        best = max(near, key=lambda d: env[min(d, len(env) - 1)])
        matched += 1
        y_true.append(1)
        y_score.append(_window_max(env, best, half))
        unused.remove(best)
    for d in unused:
        y_true.append(0)
        y_score.append(_window_max(env, d, half))
    n_req = len(requested)
    accuracy = matched / n_req if n_req else 0.0
    if n_req == 0 or not y_true or sum(y_true) == 0:
        ap = 0.0
    else:
        ap = float(average_precision_score(y_true, y_score))
    return OnsetScores(
        onset_accuracy=float(accuracy),
        onset_ap=ap,
        requested=n_req,
        detected=len(kept),
        matched=matched,
        tolerance=tolerance,
    )


def spectral_distance(y: np.ndarray, ref: np.ndarray) -> float:
    """Mean absolute difference of log-mel spectra (dB), over the shorter length.

    A quick timbre check against a real recording; the protocol's FAD needs VGGish
    weights and a corpus, which this tool does not download.
    """
    librosa = _librosa()
    n = min(len(y), len(ref))
    if n == 0:
        return float("nan")
    a = librosa.power_to_db(librosa.feature.melspectrogram(y=y[:n], sr=EVAL_SR, n_mels=64), ref=1.0)
    b = librosa.power_to_db(librosa.feature.melspectrogram(y=ref[:n], sr=EVAL_SR, n_mels=64), ref=1.0)
    return float(np.mean(np.abs(a - b)))
