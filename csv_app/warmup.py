"""Warming a process as it starts, so that no user's first request or task to it pays for what every process
needs once."""
from .storage import engine


def warm_engine() -> None:
    """Make this process's DuckDB now (about 25 ms), and import pandas, which pyarrow imports on its first
    conversion to numpy (about 0.3 s: a selection's first rows page), so the first request or task pays for
    neither."""
    import pandas  # noqa: F401

    with engine():
        pass


def warm_web() -> None:
    """Import every view (the URLconf, which Django imports on a process's first request) and the JWT token backend
    (imported on the first token checked): 0.7 s to 1.5 s here that the first request to each web process, an
    upload of 350 MB say, used to wait for."""
    from django.urls import get_resolver
    from django.utils.module_loading import import_string

    get_resolver().url_patterns  # noqa: B018  (the property imports the URLconf)
    import_string("rest_framework_simplejwt.state.token_backend")  # as each token looks it up
