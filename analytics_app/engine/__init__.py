"""Pure computation over files with DuckDB, pyarrow and pandas; imports nothing from Django or Celery."""
