"""`mathtrain eval` and `mathtrain score ...` (owned by the evaluation work)."""
