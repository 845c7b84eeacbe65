"""Decoding and encoding media: video frames, probe and range checks (:mod:`.video`), audio (:mod:`.audio`)."""
