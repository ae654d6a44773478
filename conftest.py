"""Keeps test runs' files out of the developer's media folder."""
import os
from pathlib import Path

os.environ.setdefault("MEDIA_ROOT", str(Path(__file__).resolve().parent / "media" / "test"))
os.environ.setdefault("LOG_LEVEL", "WARNING")
