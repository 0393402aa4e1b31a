"""Image generation with a DCGAN."""
