"""Batch conform: a cut (EDL, OTIO, FCP XML) in, Foley conformed to the edit out.

The pipeline, one module a step: :mod:`.options` (what a conform takes),
:mod:`.media_lookup` (each event's media), :mod:`.plan` (compute, reuse or skip,
and each event's :class:`~.jobs.EventJob`), :mod:`.render` (an event's work and
the executor seam), :mod:`.pool` (worker processes), :mod:`.cache` (finished
events), :mod:`.outputs` (stem, clips, onsets, timelines, report).
"""
