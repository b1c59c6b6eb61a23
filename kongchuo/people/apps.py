from django.apps import AppConfig


class PeopleConfig(AppConfig):
    name = "kongchuo.people"
    label = "people"
    verbose_name = "儿童档案"
