"""Shared leaves every room may import: the error root, safe writes, the progress
and cancel callables, file identity, request-field specs. They import nothing of syncfoley."""
