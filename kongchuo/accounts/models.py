"""Users, each with one role bound to one node (division, school or class)."""

from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models

from kongchuo.places.models import Division, School, SchoolClass


class Role(models.TextChoices):
    COUNTY_ADMIN = "county_admin", "县控辍办管理员"
    COUNTY_STAFF = "county_staff", "县教体局工作人员"
    TOWNSHIP_STAFF = "township_staff", "乡镇（街道）工作人员"
    SCHOOL_ADMIN = "school_admin", "校长/学籍管理员"
    CLASS_TEACHER = "class_teacher", "班主任"
    DEPARTMENT_LIAISON = "department_liaison", "部门联络员"
    SUPERVISOR = "supervisor", "督学"


class Department(models.TextChoices):
    POLICE = "police", "公安"
    CIVIL_AFFAIRS = "civil_affairs", "民政"
    DISABILITY = "disability", "残联"
    RURAL_REVITALISATION = "rural_revitalisation", "乡村振兴"
    JUDICIAL = "judicial", "司法"


class User(AbstractUser):
    role = models.CharField("角色", max_length=30, choices=Role.choices)
    division = models.ForeignKey(Division, verbose_name="所属区划", null=True, blank=True, on_delete=models.PROTECT, related_name="users")
    school = models.ForeignKey(School, verbose_name="所属学校", null=True, blank=True, on_delete=models.PROTECT, related_name="users")
    school_class = models.ForeignKey(
        SchoolClass, verbose_name="所带班级", null=True, blank=True, on_delete=models.PROTECT, related_name="teachers"
    )
    department = models.CharField("所属部门", max_length=30, choices=Department.choices, blank=True)
    full_name = models.CharField("姓名", max_length=40, blank=True)
    phone = models.CharField("手机", max_length=30, blank=True)

    class Meta:
        verbose_name = "用户"
        verbose_name_plural = verbose_name
        constraints = [
            models.CheckConstraint(
                name="user_bound_to_one_node",
                condition=(
                    models.Q(
                        role__in=["county_admin", "county_staff", "township_staff", "department_liaison", "supervisor"],
                        division__isnull=False,
                        school__isnull=True,
                        school_class__isnull=True,
                    )
                    | models.Q(role="school_admin", school__isnull=False, division__isnull=True, school_class__isnull=True)
                    | models.Q(role="class_teacher", school_class__isnull=False, division__isnull=True, school__isnull=True)
                    | models.Q(role="")  # a bare superuser made by createsuperuser has no node and sees nothing
                ),
            )
        ]

    def __str__(self) -> str:
        return self.full_name or self.username

    def clean(self):
        super().clean()
        if self.role == Role.TOWNSHIP_STAFF and self.division and self.division.level != Division.Level.TOWNSHIP:
            raise ValidationError({"division": "乡镇工作人员必须绑定到乡镇（街道）"})
        if self.role == Role.DEPARTMENT_LIAISON and not self.department:
            raise ValidationError({"department": "部门联络员必须选择所属部门"})

    @property
    def node_name(self) -> str:
        node = self.school_class or self.school or self.division
        if isinstance(node, SchoolClass):
            return f"{node.school.name} {node}"
        return str(node) if node else "（未绑定）"
