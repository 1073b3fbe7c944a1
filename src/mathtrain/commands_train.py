"""`mathtrain run` and `mathtrain merge` (owned by the training work)."""
