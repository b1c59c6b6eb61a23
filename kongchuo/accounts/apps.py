from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "kongchuo.accounts"
    label = "accounts"
    verbose_name = "账号与权限"

    def ready(self):
        from kongchuo.accounts import signals  # noqa: F401
