"""Attendance: one row per child per school day that was not a plain "present" (DESIGN.md §4, §7).

Rows arrive from attendance imports; a row whose child the registry does not know keeps the
identifiers it came with (child is empty) so that matching can find 无学籍在读 children.
"""

from django.db import models

from kongchuo.places.models import Division, School


class AttendanceRecord(models.Model):
    class Status(models.TextChoices):
        ABSENT = "absent", "缺勤"
        LEAVE = "leave", "请假"
        LATE = "late", "迟到"

    child = models.ForeignKey("people.Child", null=True, blank=True, on_delete=models.CASCADE, related_name="attendance")
    school = models.ForeignKey(School, on_delete=models.PROTECT, related_name="attendance")
    date = models.DateField("日期")
    status = models.CharField("状态", max_length=10, choices=Status.choices)
    name = models.CharField("姓名", max_length=40)
    id_number = models.CharField("身份证件号", max_length=18, blank=True)
    national_student_number = models.CharField("全国学籍号", max_length=20, blank=True)
    county = models.ForeignKey(Division, on_delete=models.PROTECT, related_name="+")
    township = models.ForeignKey(Division, on_delete=models.PROTECT, related_name="+")
    batch = models.ForeignKey("imports.ImportBatch", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = "考勤记录"
        verbose_name_plural = verbose_name
        ordering = ["-date", "school", "name"]
        constraints = [
            models.UniqueConstraint(
                fields=["school", "date", "name", "national_student_number", "id_number"], name="attendance_once_per_day"
            )
        ]
        indexes = [models.Index(fields=["child", "date"]), models.Index(fields=["school", "date"])]

    def __str__(self) -> str:
        return f"{self.date} {self.name} {self.get_status_display()}"
