from django.apps import AppConfig


class WebConfig(AppConfig):
    name = "kongchuo.web"
    label = "web"
    verbose_name = "界面"
