"""Logins, failed logins and logouts go into the audit log."""

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from kongchuo.audit.services import audit_record


def _chain(user) -> str:
    if user is None:
        return "-"
    node = user.division or (user.school.county if user.school_id else None) or (
        user.school_class.school.county if user.school_class_id else None)
    return node.prefix[:6] if node is not None and len(node.prefix) >= 6 else "-"


@receiver(user_logged_in)
def _logged_in(sender, request, user, **kwargs):
    audit_record(actor=user, action="login", obj=user, chain=_chain(user), summary=f"{user.username} 登录")


@receiver(user_logged_out)
def _logged_out(sender, request, user, **kwargs):
    if user is not None:
        audit_record(actor=user, action="logout", obj=user, chain=_chain(user), summary=f"{user.username} 退出")


@receiver(user_login_failed)
def _login_failed(sender, credentials, request=None, **kwargs):
    audit_record(actor=None, action="login_failed", summary=f"登录失败：{str(credentials.get('username', ''))[:50]}")
