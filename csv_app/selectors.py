"""Reading datasets and tasks as a given user may see them; anything else is 404."""
import uuid

from django.db.models import Q, QuerySet
from django.http import Http404

from .models import Dataset, Task


def _uuid_or_404(value) -> uuid.UUID:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except (ValueError, TypeError, AttributeError):
        raise Http404 from None


def datasets_visible_to(user) -> QuerySet:
    own_or_shared = Q(owner=user) | Q(id__in=Dataset.objects.filter(shares__user=user).values("id"))
    return Dataset.objects.filter(own_or_shared).select_related("owner")


def dataset_get_for_user(user, dataset_id) -> Dataset:
    try:
        return datasets_visible_to(user).get(id=_uuid_or_404(dataset_id))
    except Dataset.DoesNotExist:
        raise Http404 from None


def tasks_of_user(user) -> QuerySet:
    return Task.objects.filter(owner=user).select_related("dataset")


def task_get_for_user(user, task_id) -> Task:
    try:
        return tasks_of_user(user).get(id=_uuid_or_404(task_id))
    except Task.DoesNotExist:
        raise Http404 from None
