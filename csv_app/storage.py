"""Where a dataset's and a task's files live: one storage for every kept file (STORAGE_URL).

Every kept file has a path relative to the storage's root (`uploads/<dataset>/data.parquet`,
`results/<task>/attempt-1/result.parquet`) and is immutable once kept. On a local folder, that folder is the store
and nothing else is needed. On an S3-compatible store, the same relative path is the object's key (under the
prefix) and each host keeps a bounded read-through cache of the files it reads, at the same relative paths under
MEDIA_ROOT, so jobs and rows queries read local disk:

- `stored_path(rel)`: a local path of a kept file, fetched into the cache when it is not there (the path does not
  exist when the store has no such file);
- `keep(rel)`: the files now under `local_path(rel)` are kept (uploaded; a file that is a hard link of a cached
  file already stored is copied inside the store instead);
- `discard(rel)`: a kept folder or file goes, from the store and from this host's cache;
- `pin(paths, folder)`: a job's inputs, hard-linked into its own folder, so that the cache never evicts them under
  it."""
import logging
import os
import shutil
import threading
import time
import uuid
from pathlib import Path

from django.conf import settings

from analytics_app.engine.sql import Limits, session

logger = logging.getLogger("ravid.storage")


class StorageUnavailable(Exception):
    """The object store did not answer, or refused this host's credentials."""


def dataset_dir(dataset_id: uuid.UUID) -> Path:
    return Path(settings.UPLOADS_DIR) / str(dataset_id)


def result_dir(task_id: uuid.UUID) -> Path:
    return Path(settings.RESULTS_DIR) / str(task_id)


def local_path(rel: str) -> Path:
    """Where a kept file (or folder) is on this host, refusing anything outside the storage's root."""
    root = Path(settings.STORAGE_ROOT).resolve()
    path = (root / rel).resolve()
    if root not in path.parents:
        raise ValueError("path outside the storage root")
    return path


def relative(path: Path) -> str:
    return str(Path(path).resolve().relative_to(Path(settings.STORAGE_ROOT).resolve()))


def remove_tree(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def uses_object_store() -> bool:
    return bool(settings.S3_BUCKET)


def stored_path(rel: str) -> Path:
    """A kept file on local disk: itself on a local storage, this host's cached copy of the object otherwise."""
    path = local_path(rel)
    if uses_object_store():
        store = _object_store()
        store.fetch(rel, path)
        store.trim_if_grown(spare={path})
    return path


def stored_table_file(rel: str, profiled: bool = False) -> Path:
    """A dataset's table on local disk, with its saved profile beside it when it has one (`profiled`: the profile
    follows the table, so a cached table may be older than its profile)."""
    from analytics_app.engine.results import PROFILE_FILE

    path = local_path(rel)
    if uses_object_store():
        store = _object_store()
        if store.fetch(rel, path):
            profile = path.with_name(PROFILE_FILE)
            if profiled:
                store.fetch(relative(profile), profile)
            store.trim_if_grown(spare={path, profile})
    return path


def stored_files(rel_folder: str, names) -> Path:
    """A kept folder with these files of it on local disk (each fetched when missing); the folder's local path."""
    folder = local_path(rel_folder)
    if uses_object_store():
        store, names = _object_store(), list(names)
        for name in names:
            store.fetch(f"{rel_folder}/{name}", folder / name)
        store.trim_if_grown(spare={folder / name for name in names})
    return folder


def stored_files_exist(rel_folder: str, names) -> bool:
    """Whether each of these files of a kept folder is kept, asked of the store when there is one: nothing is
    fetched (a result checked before it is reused or chained need not come to this host)."""
    names = list(names)
    if not uses_object_store():
        folder = local_path(rel_folder)
        return all((folder / name).exists() for name in names)
    return _object_store().has(rel_folder, names)


def keep(rel: str, *, copies: dict | None = None, leave_local: bool = True) -> None:
    """The file or folder at `local_path(rel)` is kept in the store (a no-op on a local storage). `copies` maps a
    file's (device, inode) to the relative path of the stored file it is a hard link of: that one is copied inside
    the store instead of uploaded. `leave_local=False`: this host does not keep a cached copy (an upload on the web
    host)."""
    if not uses_object_store():
        return
    store, path = _object_store(), local_path(rel)
    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    for file in files:
        info = file.stat()
        key_rel = relative(file)
        source = (copies or {}).get((info.st_dev, info.st_ino))
        if source is not None:
            store.copy(source, key_rel)
        else:
            store.upload(file, key_rel)
        if not leave_local:
            file.unlink(missing_ok=True)
    store.grown = store.grown or leave_local  # the next read bounds the cache these files joined
    if not leave_local and path.parent != Path(settings.STORAGE_ROOT):
        try:  # an upload's folder on the web host, now empty
            (path if path.is_dir() else path.parent).rmdir()
        except OSError:
            pass


def discard(rel_or_path) -> None:
    """A kept folder or file goes: this host's copy, and the store's objects under it."""
    path = local_path(rel_or_path) if isinstance(rel_or_path, str) else Path(rel_or_path)
    if path.is_dir():
        remove_tree(path)
    else:
        path.unlink(missing_ok=True)
    if uses_object_store():
        _object_store().delete(relative(path))


def pin(paths, folder: Path) -> dict:
    """Hard-link a job's input files into `folder` (outside its result folder) so that the cache may evict its
    own names while the job still reads them; the job keeps using the cache paths. Returns {(device, inode):
    relative path} of the pinned files, what `keep(copies=…)` needs to copy them inside the store."""
    found = {}
    if not uses_object_store():
        return found
    folder.mkdir(parents=True, exist_ok=True)
    for path in paths:
        if path is None or not Path(path).exists():
            continue
        os.link(path, folder / f"{len(found)}-{Path(path).name}")
        info = Path(path).stat()
        found[(info.st_dev, info.st_ino)] = relative(path)
    return found


def engine_limits() -> Limits:
    spill = Path(settings.WORK_TMP_DIR) / "duckdb"
    spill.mkdir(parents=True, exist_ok=True)
    return Limits(memory_limit=settings.DUCKDB_MEMORY_LIMIT, threads=settings.DUCKDB_THREADS, temp_dir=str(spill))


def engine():
    """A DuckDB connection for a read outside a job (a preview, a rows page, an export): `with engine() as con:`."""
    return session(engine_limits())


class Cache:
    """This host's copies of stored files, under the storage root, at most `limit` bytes. The least recently read
    go first; a file read in the last `grace` seconds or held by a running job (a link outside the cache) stays, so
    the cache may pass its bound by what is in use (a file larger than the bound still works)."""

    def __init__(self, root: Path, limit: int, grace: float = 60.0):
        self.root, self.limit, self.grace = Path(root), limit, grace
        self.lock = threading.Lock()

    def touched(self, path: Path) -> None:
        info = path.stat()
        os.utime(path, ns=(time.time_ns(), info.st_mtime_ns))  # the read time only; the mtime says when it was kept

    def entries(self) -> list:
        """[(names, stat)] per cached file: a selection's source is a hard link of its dataset's table, one file."""
        found: dict = {}
        for top in ("uploads", "results"):
            for folder, dirs, files in os.walk(self.root / top):
                dirs[:] = [d for d in dirs if not d.endswith(".tmp")]  # a running attempt's folder is not cached
                for name in files:
                    if name.endswith(".tmp"):
                        continue
                    path = Path(folder) / name
                    try:
                        info = path.stat()
                    except OSError:
                        continue
                    found.setdefault((info.st_dev, info.st_ino), ([], info))[0].append(path)
        return list(found.values())

    def trim(self, spare=frozenset()) -> None:
        """Evict the least recently read files until the cache is within its bound (or only files in use remain);
        `spare`: the files the caller is about to read. A file with links outside the cache is held by a job."""
        with self.lock:
            entries = sorted(self.entries(), key=lambda e: e[1].st_atime)
            total = sum(info.st_size for _, info in entries)
            now = time.time()
            for names, info in entries:
                if total <= self.limit:
                    break
                held = info.st_nlink > len(names)
                if held or now - info.st_atime < self.grace or spare.intersection(names):
                    continue
                for path in names:
                    path.unlink(missing_ok=True)
                    self._remove_empty_parents(path)
                total -= info.st_size

    def _remove_empty_parents(self, path: Path) -> None:
        for parent in path.parents:  # an emptied result or dataset folder goes too
            if parent == self.root or parent.name in ("uploads", "results"):
                break
            try:
                parent.rmdir()
            except OSError:
                break


class ObjectStore:
    """An S3-compatible store through boto3 (multipart uploads and downloads with bounded memory)."""

    def __init__(self):
        import boto3
        from boto3.s3.transfer import TransferConfig
        from botocore.config import Config

        self.bucket, self.prefix = settings.S3_BUCKET, settings.S3_PREFIX
        self.client = boto3.client(
            "s3", endpoint_url=settings.S3_ENDPOINT_URL, region_name=settings.AWS_REGION,
            aws_access_key_id=settings.AWS_ACCESS_KEY_ID, aws_secret_access_key=settings.AWS_SECRET_ACCESS_KEY,
            config=Config(s3={"addressing_style": "path"} if settings.S3_ENDPOINT_URL else {},
                          retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=5, read_timeout=60),
        )
        self.transfer = TransferConfig(multipart_threshold=16 * 1024**2, multipart_chunksize=16 * 1024**2,
                                       max_concurrency=4)
        self.cache = Cache(Path(settings.STORAGE_ROOT), settings.WORKER_CACHE_BYTES, settings.STORAGE_CACHE_GRACE_SECONDS)
        self.grown = False

    def key(self, rel: str) -> str:
        return f"{self.prefix}/{rel}" if self.prefix else rel

    def _call(self, what: str, fn, *args, **kwargs):
        from boto3.exceptions import Boto3Error
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn(*args, **kwargs)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                raise FileNotFoundError(what) from None
            logger.error("object store refused %s: %s", what, exc)
            raise StorageUnavailable(what) from exc
        except (BotoCoreError, Boto3Error) as exc:
            logger.error("object store unreachable for %s: %s", what, exc)
            raise StorageUnavailable(what) from exc

    def fetch(self, rel: str, dest: Path) -> bool:
        """Make `dest` this host's copy of the object; False when the store has no such object."""
        if dest.exists():
            self.cache.touched(dest)
            return True
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(f".{dest.name}.{uuid.uuid4().hex}.tmp")
        try:
            self._call(f"get {rel}", self.client.download_file, self.bucket, self.key(rel), str(tmp),
                       Config=self.transfer)
            os.replace(tmp, dest)
        except FileNotFoundError:
            return False
        finally:
            tmp.unlink(missing_ok=True)
        self.grown = True
        return True

    def _keys_under(self, rel_folder: str) -> list[str]:
        """The keys of every object under the folder `rel_folder` (one listing, paged)."""
        folder = self.key(rel_folder) + "/"
        pages = self._call(f"list {rel_folder}", lambda: list(
            self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=folder)))
        return [item["Key"] for page in pages for item in page.get("Contents", [])]

    def has(self, rel_folder: str, names: list[str]) -> bool:
        """Whether the store holds every one of these files of the folder."""
        held = set(self._keys_under(rel_folder))
        return all(self.key(f"{rel_folder}/{name}") in held for name in names)

    def trim_if_grown(self, spare=frozenset()) -> None:
        """Bound the cache after a download (walking it on every read would cost a request more than the read)."""
        if self.grown:
            self.grown = False
            self.cache.trim(spare)

    def upload(self, path: Path, rel: str) -> None:
        self._call(f"put {rel}", self.client.upload_file, str(path), self.bucket, self.key(rel), Config=self.transfer)

    def copy(self, source_rel: str, rel: str) -> None:
        self._call(f"copy {source_rel}", self.client.copy, {"Bucket": self.bucket, "Key": self.key(source_rel)},
                   self.bucket, self.key(rel), Config=self.transfer)

    def delete(self, rel: str) -> None:
        """The object `rel`, or every object under the folder `rel`, and any upload to them left unfinished (a host
        that died while putting a file in the store)."""
        keys = [self.key(rel), *self._keys_under(rel)]
        folder = self.key(rel) + "/"
        for start in range(0, len(keys), 1000):
            batch = [{"Key": k} for k in keys[start:start + 1000]]
            self._call(f"delete {rel}", self.client.delete_objects, Bucket=self.bucket,
                       Delete={"Objects": batch, "Quiet": True})
        unfinished = self._call(f"list uploads {rel}", self.client.list_multipart_uploads, Bucket=self.bucket,
                                Prefix=self.key(rel))
        for upload in unfinished.get("Uploads", []):
            if upload["Key"] == self.key(rel) or upload["Key"].startswith(folder):
                self._call(f"abort {rel}", self.client.abort_multipart_upload, Bucket=self.bucket,
                           Key=upload["Key"], UploadId=upload["UploadId"])

    def check(self) -> None:
        """Raise StorageUnavailable unless the bucket answers with these credentials."""
        try:
            self._call("head bucket", self.client.head_bucket, Bucket=self.bucket)
        except FileNotFoundError:
            raise StorageUnavailable(f"the bucket {self.bucket} does not exist") from None


_stores: dict[int, ObjectStore] = {}


def _object_store() -> ObjectStore:
    """This process's client (made after a fork: a boto3 client is not shared across processes)."""
    store = _stores.get(os.getpid())
    if store is None:
        _stores.clear()
        store = _stores[os.getpid()] = ObjectStore()
    return store


def prepare_bucket() -> str:
    """Create the bucket when it is missing, then write, read and delete one object in it; what was done."""
    store = _object_store()
    try:
        store._call("head bucket", store.client.head_bucket, Bucket=store.bucket)
        made = False
    except FileNotFoundError:
        store._call(f"create bucket {store.bucket}", store.client.create_bucket, Bucket=store.bucket)
        made = True
    probe = f".ravid-probe-{uuid.uuid4().hex}"
    store._call("put probe", store.client.put_object, Bucket=store.bucket, Key=store.key(probe), Body=b"ok")
    store._call("get probe", store.client.get_object, Bucket=store.bucket, Key=store.key(probe))
    store._call("delete probe", store.client.delete_object, Bucket=store.bucket, Key=store.key(probe))
    where = f"s3://{store.bucket}/{store.prefix}"
    return f"Created the bucket for {where}; it is writable." if made else f"{where} is reachable and writable."


def storage_check() -> None:
    """For /health/ and start-up: raise StorageUnavailable when the object store does not answer."""
    if uses_object_store():
        _object_store().check()
