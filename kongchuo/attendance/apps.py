from django.apps import AppConfig


class AttendanceConfig(AppConfig):
    name = "kongchuo.attendance"
    label = "attendance"
    verbose_name = "考勤"
