from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "kongchuo.core"
    label = "core"
    verbose_name = "公共"
