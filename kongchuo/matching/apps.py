from django.apps import AppConfig


class MatchingConfig(AppConfig):
    name = "kongchuo.matching"
    label = "matching"
    verbose_name = "数据比对"
