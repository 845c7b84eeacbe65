"""Scoring generated audio against its onsets with SyncFusion's evaluation protocol."""
