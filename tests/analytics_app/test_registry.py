"""The registry: every operation is found whatever was imported first; ingest is a job, not an operation."""
import subprocess
import sys
from pathlib import Path

from analytics_app.registry import all_operations, get_job, get_operation

ROOT = Path(__file__).resolve().parents[2]


def test_importing_one_operation_first_still_loads_them_all():
    """A fresh interpreter that imports the dedup module before asking the registry."""
    script = ("import django; django.setup(); import analytics_app.operations.dedup; "
              "from analytics_app.registry import all_operations, get_operation; "
              "print(sorted(all_operations())); print(get_operation('summary') is not None)")
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={"DJANGO_SETTINGS_MODULE": "ravid_project.settings", "PATH": "/usr/bin:/bin",
                               "MEDIA_ROOT": str(ROOT / "media" / "test")})
    assert done.returncode == 0, done.stderr[-2000:]
    names, summary = done.stdout.splitlines()
    assert names == str(sorted(all_operations())) and summary == "True"


def test_the_catalogue_offers_the_operations_but_not_ingest():
    assert set(all_operations()) == {"chart", "correlation", "dedup", "filter", "histogram", "pivot", "statistics",
                                     "summary", "top", "trend", "unique"}
    assert get_operation("ingest") is None
    assert get_job("ingest").reads_upload and not get_job("ingest").listed
