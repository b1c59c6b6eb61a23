from django.apps import AppConfig


class CasesConfig(AppConfig):
    name = "kongchuo.cases"
    label = "cases"
    verbose_name = "控辍台账"
