"""Enrolments (学籍) with an append-only, dated status history."""

from django.conf import settings
from django.db import models

from kongchuo.core.services import AppendOnlyQuerySet
from kongchuo.people.models import Child
from kongchuo.places.models import GRADE_CHOICES, Division, School, SchoolClass


class Status(models.TextChoices):
    ENROLLED = "enrolled", "在读"
    TRANSFERRED_IN = "transferred_in", "转入"
    TRANSFERRED_OUT = "transferred_out", "转出"
    SUSPENDED = "suspended", "休学"
    RESUMED = "resumed", "复学"
    DEFERRED = "deferred", "延缓入学"
    EXEMPTED = "exempted", "免学"
    HOME_TEACHING = "home_teaching", "送教上门"
    INCLUSIVE = "inclusive", "随班就读"
    GRADUATED = "graduated", "毕业"
    DROPPED_OUT = "dropped_out", "辍学"
    DECEASED = "deceased", "死亡"


# In school (counted on the roll and expected in class or taught at home).
ACTIVE_STATUSES = frozenset({Status.ENROLLED, Status.TRANSFERRED_IN, Status.RESUMED, Status.HOME_TEACHING, Status.INCLUSIVE})
# Approved non-attendance: the registration stays, the child is not expected in class.
APPROVED_ABSENCE_STATUSES = frozenset({Status.SUSPENDED, Status.DEFERRED, Status.EXEMPTED})
# Holding the child's place at this school: one such enrolment per child and school.
OPEN_STATUSES = ACTIVE_STATUSES | APPROVED_ABSENCE_STATUSES | {Status.DROPPED_OUT}


class Enrolment(models.Model):
    child = models.ForeignKey(Child, verbose_name="儿童", on_delete=models.PROTECT, related_name="enrolments")
    school = models.ForeignKey(School, verbose_name="学校", on_delete=models.PROTECT, related_name="enrolments")
    school_class = models.ForeignKey(
        SchoolClass, verbose_name="班级", null=True, blank=True, on_delete=models.PROTECT, related_name="enrolments"
    )
    grade = models.PositiveSmallIntegerField("年级", choices=GRADE_CHOICES)
    national_student_number = models.CharField("全国学籍号", max_length=20, blank=True, db_index=True)
    status = models.CharField("学籍状态", max_length=20, choices=Status.choices)
    status_since = models.DateField("状态起始日期")
    entry_date = models.DateField("入学（转入）日期")
    # Scope columns copied from the school (DESIGN.md §11).
    county = models.ForeignKey(Division, on_delete=models.PROTECT, related_name="county_enrolments")
    township = models.ForeignKey(Division, on_delete=models.PROTECT, related_name="township_enrolments")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "学籍"
        verbose_name_plural = verbose_name
        ordering = ["-entry_date", "-id"]
        indexes = [
            models.Index(fields=["school", "status"]),
            models.Index(fields=["county", "status"]),
            models.Index(fields=["child", "status"]),
        ]

    def __str__(self) -> str:
        return f"{self.school.name} {self.get_grade_display()} {self.get_status_display()}"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES


class StatusChange(models.Model):
    """One row per status transition; never updated or deleted."""

    enrolment = models.ForeignKey(Enrolment, on_delete=models.PROTECT, related_name="history")
    from_status = models.CharField("原状态", max_length=20, choices=Status.choices, blank=True)
    to_status = models.CharField("新状态", max_length=20, choices=Status.choices)
    effective_date = models.DateField("生效日期")
    reason = models.CharField("原因/说明", max_length=200, blank=True)
    recorded_at = models.DateTimeField("登记时间", auto_now_add=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="登记人", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        verbose_name = "学籍变动"
        verbose_name_plural = verbose_name
        ordering = ["enrolment", "effective_date", "id"]

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("学籍变动记录只能追加，不能修改")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("学籍变动记录只能追加，不能删除")


class ExternalStudy(models.Model):
    """Verified study outside the county (外地就读证明): excludes a child from 疑似失学 with evidence."""

    child = models.ForeignKey(Child, on_delete=models.CASCADE, related_name="external_studies")
    school_name = models.CharField("就读学校", max_length=100)
    place = models.CharField("就读地", max_length=100, blank=True)
    national_student_number = models.CharField("全国学籍号", max_length=20, blank=True)
    recorded_on = models.DateField("登记日期")
    batch = models.ForeignKey("imports.ImportBatch", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = "外地就读证明"
        verbose_name_plural = verbose_name
        constraints = [models.UniqueConstraint(fields=["child", "school_name"], name="external_study_once")]

    def __str__(self) -> str:
        return f"{self.place}{self.school_name}"
