"""Pure computation on media: decode, detect onsets, generate audio, evaluate.

Imports only :mod:`syncfoley.core` and :mod:`syncfoley.presets`; never an adapter or the bridge.
"""
