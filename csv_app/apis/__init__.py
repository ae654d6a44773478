"""HTTP endpoints: validate input, call a service or selector, shape the output."""
