"""Request fields are defined once: the CLI, the daemon's schema, the engine's defaults and conform's
cache key are all read from the types, and every field checks its own values."""

from __future__ import annotations

import argparse
import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT

from syncfoley.bridge import cli
from syncfoley.bridge.conform.options import ConformOptions
from syncfoley.bridge.conform.plan import _sound_identity
from syncfoley.bridge.daemon.server import schema
from syncfoley.bridge.requests import REQUESTS, ConformRequest, DemoRequest, DetectRequest, GenerateRequest, RunRequest
from syncfoley.core.errors import FieldError, SyncfoleyError
from syncfoley.engine.detect.options import DetectOptions
from syncfoley.engine.generate.diffusion import DiffusionOptions
from syncfoley.engine.generate.render import GenerationRequest, Timbre
from syncfoley.engine.generate.sound import SoundOptions
from syncfoley.engine.types import OnsetTrack

SOUND = list(SoundOptions.specs())


def _subparser(name: str) -> argparse.ArgumentParser:
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sub.choices[name]


def test_the_sound_fields_are_the_ones_users_know() -> None:
    assert SOUND == ["engine", "preset", "samples", "reference", "text", "embedding", "channels", "seed",
                     "diffusion_checkpoint", "clap", "clap_tokenizer", "steps", "guidance", "batch"]


@pytest.mark.parametrize("command, request_type", [("run", RunRequest), ("generate", GenerateRequest),
                                                   ("conform", ConformRequest), ("detect", DetectRequest),
                                                   ("demo", DemoRequest)])
def test_the_cli_options_come_from_the_type(command: str, request_type: type) -> None:
    actions = {a.dest: a for a in _subparser(command)._actions}
    for name, (spec, default) in request_type.specs().items():
        if not spec.cli:
            continue
        action = actions[name]
        if action.option_strings:
            # No copy of the default on the command line: an option not given is absent, and the
            # type's own default holds. The help shows that default, read from the type.
            assert action.default is argparse.SUPPRESS, name
            if default not in (None, ()) and default is not False:
                assert f"default {default}" in action.help, (name, action.help)
    for name in SOUND if "preset" in request_type.specs() else ():
        assert name in actions, f"{command} has no option for the sound field {name}"


@pytest.mark.parametrize("name", ["run", "generate", "conform"])
def test_the_daemon_schema_comes_from_the_type(name: str) -> None:
    fields = schema(name)
    assert list(fields) == list(REQUESTS[name].specs())
    for sound_field in SOUND:
        assert fields[sound_field] == SoundOptions.specs()[sound_field][0].kind


def test_the_engine_takes_its_defaults_from_the_sound_type() -> None:
    sound = SoundOptions()
    assert Timbre().preset == sound.preset
    d = DiffusionOptions()
    assert (d.steps, d.guidance, d.batch, d.checkpoint) == (sound.steps, sound.guidance, sound.batch,
                                                            sound.diffusion_checkpoint)
    track = OnsetTrack(source="x", duration=1.0, fps=25.0, detector="check", onsets=())
    g = GenerationRequest(track, 0.0, 1.0)
    assert (g.seed, g.channels, g.engine, g.clap) == (sound.seed, sound.channels, sound.engine, sound.clap)
    assert ConformOptions().sound == sound and RunRequest(video="/v.mp4").sound == sound


def test_each_default_is_written_once() -> None:
    """The published sampling defaults and the default preset are spelled in the product's source
    once, in the sound type; everything else reads them from there."""
    sources = [p for room in ("core", "engine", "adapters", "bridge", "presets") for p in (ROOT / room).rglob("*.py")
               if "scripts" not in p.parts]
    patterns = {"steps": r"\bsteps\b[^#\n]*\b150\b", "guidance": r"\bguidance\b[^#\n]*\b2\.0\b",
                "batch": r"\bbatch\b[^#\n]*[=(]\s*8\b", "preset": r'\bpreset\b[^#\n]*"wood"',
                "handles": r"\bhandles\b[^#\n]*\b12\b"}
    # The onset network's inference batch (clips per pass) is another setting with the same name.
    elsewhere = {"batch": "engine/detect/"}
    for name, pattern in patterns.items():
        hits = [f"{p.relative_to(ROOT)}:{i}" for p in sources
                if not p.relative_to(ROOT).as_posix().startswith(elsewhere.get(name, "//"))
                for i, line in enumerate(p.read_text().splitlines(), 1) if re.search(pattern, line)]
        assert len(hits) == 1, (name, hits)


def test_conform_cache_key_holds_every_sound_field(tmp_path: Path) -> None:
    """Read from the type: every sound field the resolved engine reads is in the key (the seed is
    the key's own entry); the diffusion engine's sampling fields join it for that engine only."""
    builtin = _sound_identity(ConformOptions.from_dict({"engine": "builtin"}))
    for name, (spec, _) in SoundOptions.specs().items():
        if name == "seed" or spec.group == "diffusion":
            assert name not in builtin
        else:
            assert name in builtin, name
            if spec.kind == "path_in":
                assert name in builtin["files"]
    ckpt = tmp_path / "model.ckpt"
    ckpt.write_bytes(b"not read while planning")
    emb = tmp_path / "e.npy"
    np.save(emb, np.full(512, 0.1, np.float32))
    base = {"engine": "diffusion", "diffusion_checkpoint": str(ckpt), "embedding": str(emb)}
    first = _sound_identity(ConformOptions.from_dict(base))
    assert first["diffusion"]["checkpoint"] == str(ckpt) and "diffusion_checkpoint" in first["files"]
    # Each diffusion field changes the identity, and so the key.
    for name, value in (("steps", 20), ("guidance", 3.5), ("batch", 2)):
        assert _sound_identity(ConformOptions.from_dict({**base, name: value})) != first, name
    for name, value in (("preset", "metal"), ("channels", 2), ("text", "a door")):
        changed = {**base, name: value} if name != "text" else {**base, "embedding": None, "text": value}
        assert _sound_identity(ConformOptions.from_dict(changed)) != first, name


def test_from_dict_names_the_first_bad_field_and_the_valid_choices() -> None:
    with pytest.raises(FieldError) as err:
        RunRequest.from_dict({"video": "/v.mp4", "prest": "wood"})
    assert err.value.field == "prest" and "'prest'" in str(err.value) and "preset" in str(err.value)
    assert err.value.code == "bad_request" and isinstance(err.value, SyncfoleyError)
    cases = {
        "engine": ("magic", "'magic'", "'builtin'"), "channels": (6, "6", "1 or 2"),
        "seed": (2**70, "seed", "4294967295"), "steps": (0, "1..1000", "0"), "guidance": (float("nan"), "finite", "0..20"),
        "detector": ("ears", "'ears'", "'motion'"), "start": (10**400, "finite", "start"),
        "video": ("/a\0b", "NUL", "video"), "reference": ("/a\ud800", "surrogate", "reference"),
        "samples": ("/" + "d" * 300, "255", "samples"), "guide": ("/d" * 3000, "4096", "guide"),
        "preset": (["wood"], "string", "preset"), "overwrite": ("yes", "true or false", "overwrite"),
    }
    for name, (value, *words) in cases.items():
        with pytest.raises(FieldError) as err:
            RunRequest.from_dict({"video": "/v.mp4", name: value})
        assert err.value.field == name, (name, err.value)
        for w in words:
            assert w in str(err.value), (name, w, str(err.value))
        assert len(str(err.value)) < 400
    with pytest.raises(FieldError, match="needs 'video'"):
        RunRequest.from_dict({})


def test_round_trip_and_copies_not_mutation() -> None:
    req = ConformRequest.from_dict({"timeline": "/cut.edl", "media_root": ["/m1", "/m2"], "handles": 6,
                                    "preset": "glass", "steps": 20, "seed": 7})
    assert ConformRequest.from_dict(req.to_dict()) == req
    assert req.options.handles == 6 and req.options.sound.preset == "glass" and req.media_root == ("/m1", "/m2")
    other = req.replace(preset="metal")
    assert req.options.sound.preset == "glass" and other.options.sound.preset == "metal"
    with pytest.raises(dataclasses.FrozenInstanceError):
        req.options.sound.preset = "x"  # type: ignore[misc]
    assert DetectOptions.from_dict({"start": 1}).start == 1.0 and isinstance(DetectOptions(start=1).start, float)


def test_the_daw_scripts_send_only_fields_the_types_define() -> None:
    """The REAPER and Resolve scripts build their JSON by hand (no Python import there): every key
    they send must be a field of the request type they send it to."""
    scripts = ROOT / "bridge" / "scripts"
    sent: list[tuple[str, str, str]] = []  # (script, address, key)
    for path in scripts.rglob("*.lua"):
        for address, body in re.findall(r'sf\.run\("(\w+)",\s*\{(.*?)\}\s*,', path.read_text(), re.S):
            for key in re.findall(r'(?:\[\"(\w+)\"\]|\b(\w+))\s*=(?!=)', body):
                sent.append((path.name, address, key[0] or key[1]))
    for path in scripts.rglob("*.py"):
        text = path.read_text()
        for address in re.findall(r'daemon\.start\("(\w+)", request\)', text):
            for body in re.findall(r"request = \{(.*?)\}", text, re.S):
                sent += [(path.name, address, k) for k in re.findall(r'"(\w+)":', body)]
            sent += [(path.name, address, k) for k in re.findall(r'request\["(\w+)"\] =', text)]
    addresses = {a for _, a, _ in sent}
    assert {"detect", "generate", "conform"} <= addresses, sent
    wrong = [s for s in sent if s[2] not in REQUESTS[s[1]].specs()]
    assert wrong == []
