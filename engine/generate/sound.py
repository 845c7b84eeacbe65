"""What a request says about the sound: the one definition of every sound field and its default.

The CLI's sound options, the daemon's JSON, the API's keywords, conform's cache
key and the DAW scripts' requests all read these fields; the engine's
:class:`~syncfoley.engine.generate.render.Timbre` and
:class:`~syncfoley.engine.generate.diffusion.DiffusionOptions` take their defaults
from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from syncfoley.core.fields import Fields, option

ENGINES = ("auto", "builtin", "diffusion")
CHANNELS = (1, 2)
SEED_MAX = 2**32 - 1


@dataclass(frozen=True)
class SoundOptions(Fields):
    """The timbre, the engine and how it samples; copied per request, never changed in place."""

    WHAT = "the sound"

    engine: str = option("auto", "str", "auto (diffusion when a diffusion checkpoint is configured, else "
                         "builtin), builtin or diffusion", choices=ENGINES, metavar="NAME")
    preset: str = option("wood", "str", "material preset (see 'syncfoley presets')")
    samples: Optional[str] = option(None, "path_in", "folder of your own one-shots to place at the onsets",
                                    metavar="DIR")
    reference: Optional[str] = option(None, "path_in", "a recording of the sound you want: its hits become "
                                      "one-shots (builtin) or its CLAP embedding sets the timbre (diffusion)",
                                      metavar="WAV")
    text: Optional[str] = option(None, "str", "describe the sound (diffusion engine, needs CLAP)", metavar="PROMPT")
    embedding: Optional[str] = option(None, "path_in", "a 512-d CLAP embedding written by 'syncfoley embed'",
                                      metavar="NPY")
    channels: int = option(1, "int", "1 (mono) or 2 (stereo)", choices=CHANNELS)
    seed: int = option(0, "int", "random seed (per-hit variation, diffusion noise)", lo=0, hi=SEED_MAX)
    diffusion_checkpoint: Optional[str] = option(
        None, "path_in", "SyncFusion diffusion checkpoint (default: $SYNCFOLEY_DIFFUSION_CHECKPOINT)",
        metavar="CKPT", group="diffusion")
    clap: Optional[str] = option(None, "path_in", "LAION-CLAP checkpoint (630k-audioset-best.pt), when the "
                                 "diffusion checkpoint has none (default: $SYNCFOLEY_CLAP_CHECKPOINT)",
                                 metavar="PT", group="clap")
    clap_tokenizer: Optional[str] = option(None, "path_in", "roberta-base's tokenizer folder (vocab.json, merges.txt) "
                                           "for --text (default: $SYNCFOLEY_CLAP_TOKENIZER, else the Hugging Face "
                                           "cache)", metavar="DIR", group="clap")
    steps: int = option(150, "int", "sampling steps (as published)", lo=1, hi=1000, group="diffusion")
    guidance: float = option(2.0, "num", "classifier-free guidance scale on the sound embedding (as published)",
                             lo=0.0, hi=20.0, group="diffusion")
    batch: int = option(8, "int", "windows of 2**18 samples sampled together", lo=1, hi=64, group="diffusion")


DEFAULT_SOUND = SoundOptions()
