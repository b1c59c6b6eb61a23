"""Logins, failed logins and logouts go into the audit log."""

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from kongchuo.audit.services import audit_record, chain_for_user


@receiver(user_logged_in)
def _logged_in(sender, request, user, **kwargs):
    audit_record(actor=user, action="login", obj=user, chain=chain_for_user(user), summary=f"{user.username} 登录")


@receiver(user_logged_out)
def _logged_out(sender, request, user, **kwargs):
    if user is not None:
        audit_record(actor=user, action="logout", obj=user, chain=chain_for_user(user), summary=f"{user.username} 退出")


@receiver(user_login_failed)
def _login_failed(sender, credentials, request=None, **kwargs):
    audit_record(actor=None, action="login_failed", summary=f"登录失败：{str(credentials.get('username', ''))[:50]}")
