"""Reading a whole sound file (a reference recording, a one-shot) as mono samples.

Both the ``--reference`` recording and the one-shots of a ``--samples`` folder are read
here, so they accept the same files and refuse the same damage with the same words;
what each then asks of the sound (a length, a level) stays with its caller.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from syncfoley.core.errors import MediaError

# What libsndfile reads; the messages name them so that a refusal says what would do.
READABLE = "a WAV, FLAC, AIFF, OGG or MP3 file"


def read_sound(path: str | Path, what: str, sample_rate: int, remedy: str) -> np.ndarray:
    """``path`` as mono float32 at ``sample_rate``.

    ``what`` names the file in messages ("reference audio", "sample"); ``remedy`` ends
    the message for damaged samples (what the user should do instead). Refused, as a
    :class:`MediaError`: a file outside the job's roots, one libsndfile cannot read, and
    one holding samples that are not numbers (float PCM can carry NaN or infinity, which
    pass every level test downstream).
    """
    import soundfile as sf

    from syncfoley.core.fence import check_read

    p = Path(path)
    # As the file resolves now: a symlink may lead anywhere.
    real = check_read(p, what)
    try:
        data, sr = sf.read(str(real), dtype="float32", always_2d=True)
    except Exception as exc:  # soundfile's error types vary by version
        raise MediaError(f"{what} {p} cannot be read ({exc}); give {READABLE}") from None
    mono = data.mean(axis=1)
    bad = np.flatnonzero(~np.isfinite(mono))
    if len(bad):
        raise MediaError(f"{what} {p} holds samples that are no numbers (NaN or infinity, first at "
                         f"{bad[0] / sr:.3f} s); {remedy}")
    if sr != sample_rate and len(mono):
        from math import gcd

        from scipy.signal import resample_poly

        g = gcd(sr, sample_rate)
        mono = resample_poly(mono, sample_rate // g, sr // g).astype(np.float32)
    return mono
