"""Storage quotas over every byte kept for a user: uploads and their tables, results, export copies, saved datasets.

A user's total lives in one row (StorageUse). Keeping a file first reserves its bytes with one conditional UPDATE
(`used + n <= quota`), so two uploads or jobs racing at the edge of the quota cannot both pass; deleting gives the
bytes back. A result counts its own files, not the table it shares with its dataset (a hard link): that one
counts once, with the dataset. A dataset saved from a result counts its whole table."""
import os
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.db.models.functions import Greatest

from ..exceptions import TooLarge
from ..models import Dataset, StorageUse
from ..storage import dataset_dir


def folder_bytes(folder: Path, own_only: bool = False) -> int:
    """What the files under `folder` take; `own_only`: leave out files linked from elsewhere (more than one link)."""
    total = 0
    for root, _, files in os.walk(folder):
        for name in files:
            try:
                info = os.stat(os.path.join(root, name))
            except OSError:
                continue
            if not own_only or info.st_nlink == 1:
                total += info.st_size
    return total


def quota_bytes() -> int | None:
    return settings.USER_QUOTA_BYTES or None


def storage_used(user_id) -> int:
    return StorageUse.objects.filter(user_id=user_id).values_list("used_bytes", flat=True).first() or 0


def reserve(user_id, nbytes: int, *, force: bool = False) -> bool:
    """Count `nbytes` more for the user if the quota allows it (always when `force`); False when it does not."""
    if nbytes <= 0:
        return True
    rows = StorageUse.objects.filter(user_id=user_id)
    quota = quota_bytes()
    if quota is not None and not force:
        rows = rows.filter(used_bytes__lte=quota - nbytes)
    if rows.update(used_bytes=F("used_bytes") + nbytes) == 1:
        return True
    # No row yet (the user's first bytes, perhaps racing other first bytes) or over the quota: make sure the row
    # exists and try once more, so a racer that did not create the row is still counted from what the row holds.
    StorageUse.objects.get_or_create(user_id=user_id)
    return rows.update(used_bytes=F("used_bytes") + nbytes) == 1


def release(user_id, nbytes: int) -> None:
    if nbytes > 0:
        StorageUse.objects.filter(user_id=user_id).update(used_bytes=Greatest(F("used_bytes") - nbytes, 0))


def over_quota_sentence(what: str, nbytes: int | None, user_id) -> str:
    size = f" ({nbytes} bytes)" if nbytes is not None else ""
    return (f"{what}{size} would take you past your storage quota: you use {storage_used(user_id)} of "
            f"{quota_bytes()} bytes. Delete datasets or results you no longer need.")


def reserve_or_refuse(user_id, nbytes: int, what: str) -> None:
    """Reserve, or raise the 413 a client sees: what was refused, what is used of what is allowed."""
    if not reserve(user_id, nbytes):
        raise TooLarge(over_quota_sentence(what, nbytes, user_id),
                       {"quota": [f"used {storage_used(user_id)} of {quota_bytes()} bytes"]})


def dataset_recount(dataset: Dataset) -> None:
    """The upload was counted as it came; once ingested, its table (and later its profile) is what is kept. The
    difference is given back, or counted even past the quota: an accepted upload's ingest never fails on it."""
    now = folder_bytes(dataset_dir(dataset.id))
    with transaction.atomic():
        before = Dataset.objects.select_for_update().filter(id=dataset.id).values_list("stored_bytes", flat=True).first()
        if before is None:
            return
        Dataset.objects.filter(id=dataset.id).update(stored_bytes=now)
        if now > before:
            reserve(dataset.owner_id, now - before, force=True)
        else:
            release(dataset.owner_id, before - now)
