"""The database: DATABASE_URL, SQLite in MEDIA_ROOT by default."""
from .environment import MEDIA_ROOT, env

_default_sqlite = MEDIA_ROOT / "db" / "ravid.sqlite3"
_default_sqlite.parent.mkdir(parents=True, exist_ok=True)

DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{_default_sqlite}")}
_db = DATABASES["default"]
_db["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
_db["CONN_HEALTH_CHECKS"] = True

if _db["ENGINE"].endswith("sqlite3"):
    # WAL lets the web server read while a worker writes; IMMEDIATE avoids upgrade deadlocks.
    _db["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 30,
    }
    _db["CONN_MAX_AGE"] = 0
    _db["TEST"] = {"NAME": str(MEDIA_ROOT / "db" / "test_ravid.sqlite3")}
elif _db["ENGINE"].endswith("mysql"):
    _db["OPTIONS"] = {"charset": "utf8mb4", "init_command": "SET sql_mode='STRICT_TRANS_TABLES'"}
    _db["TEST"] = {"CHARSET": "utf8mb4", "COLLATION": "utf8mb4_unicode_ci"}
