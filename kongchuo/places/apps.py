from django.apps import AppConfig


class PlacesConfig(AppConfig):
    name = "kongchuo.places"
    label = "places"
    verbose_name = "区划与学校"
