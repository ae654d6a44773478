"""`manage.py prepare_storage`: make the object store's bucket when it does not exist, and check that this host's
credentials can write, read and delete in it. A local folder needs nothing."""
from django.core.management.base import BaseCommand, CommandError

from csv_app.storage import StorageUnavailable, prepare_bucket, uses_object_store


class Command(BaseCommand):
    help = "Create the S3 bucket named by STORAGE_URL when it is missing, and check read/write access to it."

    def handle(self, *args, **options):
        if not uses_object_store():
            self.stdout.write("Files are kept in a local folder; nothing to prepare.")
            return
        try:
            self.stdout.write(prepare_bucket())
        except StorageUnavailable as exc:
            raise CommandError(f"The object store refused or did not answer ({exc}); check STORAGE_URL, "
                               "S3_ENDPOINT_URL, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.") from None
