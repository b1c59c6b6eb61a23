from django.apps import AppConfig


class EnrolmentsConfig(AppConfig):
    name = "kongchuo.enrolments"
    label = "enrolments"
    verbose_name = "学籍"
