"""File formats in and out: onsets, MIDI, WAV/BWF, OTIO, CMX 3600, the report.

Reads and writes only; starts no work. Imports the engine's data types and :mod:`syncfoley.core`."""
