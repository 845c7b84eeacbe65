"""What every model shares: torch, devices, where weights come from and strict key checks,
and the warm-model cache."""
