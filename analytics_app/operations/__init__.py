"""One module per operation; each registers itself in analytics_app.registry."""
