"""Administrative divisions (GB/T 2260), schools (学校标识码) and classes."""

from django.core.validators import RegexValidator
from django.db import models


class Division(models.Model):
    """A node of the province → city → county → township → village tree.

    Codes follow GB/T 2260 and the statistics bureau's 12-digit extension:
    province 110000, city 110100, county 110101, township 110101001,
    village 110101001001. `prefix` is the code without the zero padding of
    the levels below, so a subtree is one indexed `prefix__startswith`.
    """

    class Level(models.IntegerChoices):
        PROVINCE = 1, "省"
        CITY = 2, "市"
        COUNTY = 3, "县"
        TOWNSHIP = 4, "乡镇（街道）"
        VILLAGE = 5, "村（社区）"

    PREFIX_LENGTH = {Level.PROVINCE: 2, Level.CITY: 4, Level.COUNTY: 6, Level.TOWNSHIP: 9, Level.VILLAGE: 12}

    code = models.CharField("区划代码", max_length=12, unique=True, validators=[RegexValidator(r"^\d{6}(\d{3})?(\d{3})?$")])
    name = models.CharField("名称", max_length=60)
    level = models.PositiveSmallIntegerField("级别", choices=Level.choices)
    parent = models.ForeignKey("self", verbose_name="上级", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    prefix = models.CharField(max_length=12, db_index=True, editable=False)

    class Meta:
        verbose_name = "行政区划"
        verbose_name_plural = verbose_name
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        self.prefix = self.code[: self.PREFIX_LENGTH[self.level]]
        super().save(*args, **kwargs)

    def contains(self, other: "Division | None") -> bool:
        return other is not None and other.prefix.startswith(self.prefix)

    @property
    def county_prefix(self) -> str:
        return self.prefix[:6]


class School(models.Model):
    class Type(models.TextChoices):
        PRIMARY = "primary", "小学"
        JUNIOR = "junior", "初中"
        NINE_YEAR = "nine_year", "九年一贯制学校"
        COMPLETE = "complete", "完全中学"
        TEACHING_POINT = "teaching_point", "教学点"
        SPECIAL = "special", "特殊教育学校"

    GRADES = {
        Type.PRIMARY: range(1, 7),
        Type.TEACHING_POINT: range(1, 5),
        Type.JUNIOR: range(7, 10),
        Type.NINE_YEAR: range(1, 10),
        Type.COMPLETE: range(7, 10),
        Type.SPECIAL: range(1, 10),
    }

    code = models.CharField("学校标识码", max_length=10, unique=True, validators=[RegexValidator(r"^\d{10}$", "学校标识码应为10位数字")])
    name = models.CharField("学校名称", max_length=100)
    type = models.CharField("办学类型", max_length=20, choices=Type.choices)
    county = models.ForeignKey(Division, verbose_name="所属区县", on_delete=models.PROTECT, related_name="county_schools")
    township = models.ForeignKey(Division, verbose_name="所属乡镇", on_delete=models.PROTECT, related_name="township_schools")
    village = models.ForeignKey(
        Division, verbose_name="所在村（社区）", null=True, blank=True, on_delete=models.PROTECT, related_name="village_schools"
    )
    address = models.CharField("地址", max_length=200, blank=True)
    phone = models.CharField("联系电话", max_length=30, blank=True)

    class Meta:
        verbose_name = "学校"
        verbose_name_plural = verbose_name
        ordering = ["code"]

    def __str__(self) -> str:
        return self.name

    @property
    def grades(self) -> range:
        return self.GRADES[self.type]


GRADE_NAMES = {1: "一年级", 2: "二年级", 3: "三年级", 4: "四年级", 5: "五年级", 6: "六年级", 7: "七年级", 8: "八年级", 9: "九年级"}
GRADE_CHOICES = list(GRADE_NAMES.items())


class SchoolClass(models.Model):
    school = models.ForeignKey(School, verbose_name="学校", on_delete=models.PROTECT, related_name="classes")
    grade = models.PositiveSmallIntegerField("年级", choices=GRADE_CHOICES)
    number = models.PositiveSmallIntegerField("班号")

    class Meta:
        verbose_name = "班级"
        verbose_name_plural = verbose_name
        ordering = ["school", "grade", "number"]
        constraints = [models.UniqueConstraint(fields=["school", "grade", "number"], name="class_unique_in_school")]

    def __str__(self) -> str:
        return f"{GRADE_NAMES[self.grade]}（{self.number}）班"
