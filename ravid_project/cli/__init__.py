"""`ravid`, the command-line client of a ravid server: it speaks HTTP only (no Django, no Celery)."""
