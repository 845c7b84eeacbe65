"""Generation: the sound fields (:mod:`.sound`), the request and the engine choice (:mod:`.render`),
the built-in engine (:mod:`.synth`, :mod:`.samples`) and SyncFusion's diffusion model with its CLAP."""
