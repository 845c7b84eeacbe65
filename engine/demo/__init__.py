"""Scenes with known impact times, rendered by ``syncfoley demo`` (and by the tests and benches)."""
