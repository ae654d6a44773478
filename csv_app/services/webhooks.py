"""Completion webhooks: when a task with a `callback_url` ends, its body is POSTed there, signed with its owner's
secret (`X-Ravid-Signature: sha256=<HMAC-SHA256 of the body>`), retried with a growing pause for about a day.

Only https (http when WEBHOOK_ALLOW_HTTP), never to a loopback, private, link-local (cloud metadata) or other
non-public address after DNS resolution unless WEBHOOK_ALLOW_PRIVATE: the address is checked when the URL is
given and again at each delivery, and the connection goes to the address that was checked (no second lookup
for a rebinding DNS server to answer differently). Redirects are not followed; the timeouts are short."""
import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import socket
from datetime import timedelta
from urllib.parse import urlsplit

import certifi
import urllib3
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from ..exceptions import Invalid
from ..models import Task, WebhookDelivery, WebhookSecret

logger = logging.getLogger("ravid.webhooks")
S = Task.Status
FIELD = "callback_url"


class Unsafe(Exception):
    """The URL may not be called: the sentence says why."""


def _addresses(url: str) -> tuple[str, int, list[str]]:
    """The host, port and every address the URL's host resolves to, checked; Unsafe otherwise."""
    try:
        parts = urlsplit(url)
    except ValueError:  # a malformed bracketed host: 'https://[::1'
        raise Unsafe("The callback URL is not a valid URL (its host is malformed).") from None
    allowed = ("https", "http") if settings.WEBHOOK_ALLOW_HTTP else ("https",)
    if parts.scheme not in allowed:
        raise Unsafe(f"A callback URL must use {' or '.join(allowed)}; '{parts.scheme or url}' is not allowed.")
    if not parts.hostname:
        raise Unsafe("The callback URL has no host.")
    if parts.username or parts.password:
        raise Unsafe("The callback URL may not carry a user name or password.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise Unsafe("The callback URL's port is not a number from 1 to 65535.") from None
    try:
        found = {info[4][0] for info in socket.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM)}
    except (socket.gaierror, UnicodeError):
        raise Unsafe(f"The callback URL's host '{parts.hostname}' cannot be resolved.") from None
    if not settings.WEBHOOK_ALLOW_PRIVATE:
        for address in found:
            ip = ipaddress.ip_address(address.split("%")[0])
            if not ip.is_global or ip.is_multicast:
                raise Unsafe(f"The callback URL's host '{parts.hostname}' is a private, loopback, link-local or "
                             "otherwise non-public address; webhooks go to public addresses only.")
    return parts.hostname, port, sorted(found)


def callback_check(url: str) -> str:
    """A callback URL that may be called, or Invalid naming `callback_url` and why."""
    if len(url) > 2000:
        raise Invalid("The callback URL is longer than 2000 characters.", {FIELD: ["at most 2000 characters"]})
    try:
        _addresses(url)
    except Unsafe as exc:
        raise Invalid(str(exc), {FIELD: [str(exc)]}) from None
    return url


def webhook_secret(user, rotate: bool = False) -> str:
    """The user's signing secret, made on first use; a new one when `rotate`."""
    with transaction.atomic():
        row = WebhookSecret.objects.select_for_update().filter(user=user).first()
        if row is None or rotate:
            row, _ = WebhookSecret.objects.update_or_create(user=user, defaults={"secret": secrets.token_hex(32)})
    return row.secret


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def retry_delays() -> list[int]:
    return [int(x) for x in settings.WEBHOOK_RETRY_DELAYS.split(",") if x.strip()]


def webhook_due_ids(now=None) -> list:
    now = now or timezone.now()
    return list(Task.objects.filter(webhook_status="pending", webhook_next_at__lte=now)
                .values_list("id", flat=True)[:100])


def webhook_deliver(task_id, body_for) -> str | None:
    """One delivery attempt for a task whose webhook is due: claimed first (one deliverer at a time), sent, recorded;
    the next attempt scheduled, or the webhook marked failed after the last. `body_for(task)` makes the JSON body.
    Returns 'delivered', 'pending' (retry due later), 'failed', or None when it was not due."""
    now = timezone.now()
    lease = now + timedelta(seconds=settings.WEBHOOK_TIMEOUT_SECONDS * 3 + 30)
    if not Task.objects.filter(id=task_id, webhook_status="pending", webhook_next_at__lte=now).update(
            webhook_next_at=lease):
        return None
    task = Task.objects.select_related("owner").get(id=task_id)
    attempt = task.webhook_deliveries.count() + 1
    body = json.dumps(body_for(task), sort_keys=True, default=str).encode()
    status_code, error = None, ""
    try:
        status_code = _post(task.callback_url, body, {
            "Content-Type": "application/json", "User-Agent": "ravid-webhook",
            "X-Ravid-Event": "task.finished", "X-Ravid-Delivery": f"{task.id}:{attempt}",
            "X-Ravid-Signature": signature(webhook_secret(task.owner), body),
        })
        if not 200 <= status_code < 300:
            error = f"the receiver answered {status_code}"
    except Unsafe as exc:
        error = str(exc)
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        error = f"could not be delivered ({exc.__class__.__name__})"
    WebhookDelivery.objects.create(task=task, attempt=attempt, status_code=status_code, error=error[:255])
    delays = retry_delays()
    if not error:
        outcome, next_at = "delivered", None
    elif attempt > len(delays):
        outcome, next_at = "failed", None
    else:
        outcome, next_at = "pending", timezone.now() + timedelta(seconds=delays[attempt - 1])
    Task.objects.filter(id=task_id).update(webhook_status=outcome, webhook_next_at=next_at)
    if outcome != "delivered":
        logger.warning("webhook not delivered", extra={"ravid_task_id": str(task_id), "attempt": attempt,
                                                       "error": error, "outcome": outcome})
    return outcome


def _post(url: str, body: bytes, headers: dict) -> int:
    """POST to the address that was checked (pinned), with the URL's host for TLS and the Host header."""
    host, port, addresses = _addresses(url)
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    timeout = urllib3.Timeout(connect=settings.WEBHOOK_TIMEOUT_SECONDS, read=settings.WEBHOOK_TIMEOUT_SECONDS)
    if parts.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(addresses[0], port, timeout=timeout, retries=False,
                                           server_hostname=host, assert_hostname=host,
                                           cert_reqs="CERT_REQUIRED", ca_certs=certifi.where())
    else:
        pool = urllib3.HTTPConnectionPool(addresses[0], port, timeout=timeout, retries=False)
    host_header = host if port in (80, 443) else f"{host}:{port}"
    try:
        response = pool.urlopen("POST", path, body=body, headers={**headers, "Host": host_header},
                                redirect=False, preload_content=False)
        response.drain_conn()
        return response.status
    finally:
        pool.close()


def webhook_arm(task_id) -> bool:
    """A task with a callback has ended: its first delivery is due now. True when there is one to send."""
    return bool(Task.objects.filter(id=task_id, webhook_status="").exclude(callback_url="").update(
        webhook_status="pending", webhook_next_at=timezone.now()))
