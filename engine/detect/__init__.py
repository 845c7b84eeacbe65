"""Onset detection: the request's fields (:mod:`.options`), which detector runs (:mod:`.onsets`),
and the detectors: picture motion, production sound, SyncFusion's onset network."""
