"""Training: optimizers and schedules, losses, callbacks, strategies and the loops."""
