"""What OpenTimelineIO's AAF writer needs from a timeline, in ``metadata["AAF"]``.

The writer (otio-aaf-adapter, on pyaaf2) joins each clip to its media by a MobID and
builds a cross-fade from a Transition's operation, level curve and cut point; without
them it refuses the timeline. Both outputs that are timelines (``run``'s ``.otio`` and
conform's ``foley.otio``) carry them, so that ``otioconvert -o x.aaf`` works.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any


def mob_id(path: Path) -> str:
    """A SMPTE UMID for a media file, the same for the same path (AAF readers join clips to
    their media by it): the AAF material number is a UUID derived from the path."""
    import uuid

    h = uuid.uuid5(uuid.NAMESPACE_URL, Path(path).resolve().as_uri()).hex
    return f"urn:smpte:umid:060a2b34.01010105.01010f20.13000000.{h[:8]}.{h[8:16]}.{h[16:24]}.{h[24:]}"


def audio_dissolve(cut_point: int) -> dict[str, Any]:
    """What an AAF writer needs to make a cross-fade of a Transition: AAF's mono audio
    dissolve operation, a linear level from 0 to 1, and where the cut lies in it."""
    return {
        "CutPoint": int(cut_point),
        "PointList": [{"Time": 0.0, "Value": 0.0}, {"Time": 1.0, "Value": 1.0}],
        "OperationGroup": {"Operation": {
            # AAF's built-in effect: OperationDef_MonoAudioDissolve.
            "Identification": "0c864774-e428-3b2d-8115-1c736806191a",
            "Name": "Mono Audio Dissolve", "Description": "Cross-fade", "IsTimeWarp": False, "Bypass": 1,
            "NumberInputs": 2, "OperationCategory": "OperationCategory_Effect",
            "DataDefinition": {"Name": "Sound"},
        }},
    }
