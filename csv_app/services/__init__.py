"""Services: the functions that change state and enqueue work."""
