"""Compressed uploads: gzip, Zstandard, or a ZIP archive holding one CSV, recognised by their first bytes (not by
their name) and decompressed as a stream into a plain file, never past a bound: a decompression bomb stops at
`limit` decompressed bytes."""
import gzip
import zipfile
from pathlib import Path

import zstandard

from .errors import EngineError
from .sniff import reject

CHUNK = 1024 * 1024
GZIP, ZSTD, ZIP = b"\x1f\x8b", b"\x28\xb5\x2f\xfd", b"PK\x03\x04"


class TooLargeDecompressed(EngineError):
    def __init__(self, limit: int):
        super().__init__(f"The upload decompresses to more than {limit} bytes, the limit for an upload "
                         "(MAX_UPLOAD_BYTES, counted decompressed).", {"file": [f"at most {limit} bytes decompressed"]})


def compression_of(path: Path) -> str | None:
    """'gzip', 'zstd' or 'zip' from the file's first bytes; None for anything else (a plain file)."""
    with open(path, "rb") as handle:
        head = handle.read(4)
    if head.startswith(GZIP):
        return "gzip"
    if head.startswith(ZSTD):
        return "zstd"
    if head.startswith(ZIP):
        return "zip"
    return None


def decompress(src: Path, dest: Path, limit: int) -> str | None:
    """Write `src` decompressed into `dest` when it is compressed, and say how it was ('gzip', 'zstd', 'zip');
    None, and nothing written, when it is not. TooLargeDecompressed past `limit` bytes (`dest` removed);
    the contract's not-a-CSV error, with the reason in its details, for a damaged stream or a ZIP that does not
    hold exactly one file."""
    kind = compression_of(src)
    if kind is None:
        return None
    try:
        with open(src, "rb") as raw, open(dest, "wb") as out:
            if kind == "gzip":
                _copy_bounded(gzip.GzipFile(fileobj=raw), out, limit)
            elif kind == "zstd":
                with zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True) as reader:
                    _copy_bounded(reader, out, limit)
            else:
                with zipfile.ZipFile(raw) as archive:
                    members = [m for m in archive.infolist() if not m.is_dir()]
                    if len(members) != 1:
                        raise reject(f"A ZIP upload must hold exactly one CSV file; this one holds {len(members)} "
                                     "files (an Excel or other Office document is a ZIP of many: save it as CSV "
                                     "first).", not_csv=True)
                    with archive.open(members[0]) as member:
                        _copy_bounded(member, out, limit)
    except EngineError:
        dest.unlink(missing_ok=True)
        raise
    except (OSError, EOFError, zipfile.BadZipFile, zstandard.ZstdError, NotImplementedError, RuntimeError):
        dest.unlink(missing_ok=True)
        raise reject(f"The {kind} archive could not be decompressed: it is damaged or incomplete.",
                     not_csv=True) from None
    return kind


def _copy_bounded(reader, out, limit: int) -> None:
    written = 0
    while True:
        chunk = reader.read(CHUNK)
        if not chunk:
            return
        written += len(chunk)
        if written > limit:
            raise TooLargeDecompressed(limit)
        out.write(chunk)


def plain_name(name: str) -> str:
    """'sales.csv.gz' -> 'sales.csv': the dataset is named after what the archive held."""
    for suffix in (".gz", ".gzip", ".zst", ".zstd", ".zip"):
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name

