"""The OSC engine daemon: the control path (:mod:`.server`), the job process (:mod:`.worker`),
job records (:mod:`.job_store`), the protocol (:mod:`.protocol`) and a client (:mod:`.client`)."""
