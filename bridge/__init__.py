"""What faces the outside: the Python API (:mod:`.api`), the requests (:mod:`.requests`), the CLI,
conform, the OSC daemon and the DAW scripts."""
