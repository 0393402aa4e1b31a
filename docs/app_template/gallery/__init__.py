"""gallery: the template of a new app (an image classifier with its own config and model)."""
