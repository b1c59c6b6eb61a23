"""How reminders reach people. A notifier is any class with `send(user, title, body, url)`; the ones in
use are listed in settings.KONGCHUO_NOTIFIERS (dotted paths), so an SMS gateway or enterprise
messaging (企业微信/钉钉/政务微信) is one class away, e.g.:

    class SmsNotifier:
        def send(self, user, title, body, url):
            if user.phone:
                gateway.send(user.phone, f"{title}：{body}")

`send` runs inside the reminder's transaction: raising rolls back the claim, so the reminder is tried
again on the next run (notifiers that cannot take part in a transaction should queue, not raise).
"""

from typing import Protocol

from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string

from kongchuo.audit.services import audit_record, chain_for_user
from kongchuo.cases.models import Notification

DEFAULT_NOTIFIERS = ["kongchuo.cases.notify.InAppNotifier"]


class Notifier(Protocol):
    def send(self, user, title: str, body: str, url: str) -> None: ...


class InAppNotifier:
    """A row in the user's 提醒 list, counted in the top bar until read."""

    def send(self, user, title: str, body: str, url: str) -> None:
        Notification.objects.create(user=user, title=title[:100], body=body, url=url[:200])


def notifiers() -> list[Notifier]:
    return [import_string(path)() for path in getattr(settings, "KONGCHUO_NOTIFIERS", DEFAULT_NOTIFIERS)]


def notification_mark_read(*, user, notification: Notification | None = None) -> int:
    """Mark one (or, without `notification`, all) of the user's unread notifications read."""
    unread = Notification.objects.filter(user=user, read_at__isnull=True)
    if notification is not None:
        unread = unread.filter(pk=notification.pk)
    count = unread.update(read_at=timezone.now())
    if count:
        audit_record(
            actor=user,
            action="update",
            obj=notification,
            chain=chain_for_user(user),
            summary=f"提醒标为已读：{notification.title}" if notification is not None else f"全部提醒标为已读（{count} 条）",
        )
    return count
