"""Children (whoever knows of them), their guardians, groups and provenance."""

import datetime as dt
import json

from django.conf import settings
from django.db import models

from kongchuo.core.choices import ETHNICITIES, Gender, Source
from kongchuo.places.models import Division, School, SchoolClass


class Child(models.Model):
    class IdStatus(models.TextChoices):
        VALID = "valid", "已核验"
        PENDING = "pending", "证件号待核正"  # missing or invalid; the person is kept and left to matching

    class Health(models.TextChoices):
        GOOD = "1", "健康或良好"
        FAIR = "2", "一般或较弱"
        CHRONIC = "3", "有慢性病"
        DISABLED = "6", "残疾"

    class DisabilityCategory(models.TextChoices):
        VISUAL = "visual", "视力残疾"
        HEARING = "hearing", "听力残疾"
        SPEECH = "speech", "言语残疾"
        PHYSICAL = "physical", "肢体残疾"
        INTELLECTUAL = "intellectual", "智力残疾"
        MENTAL = "mental", "精神残疾"
        MULTIPLE = "multiple", "多重残疾"

    class DisabilityGrade(models.IntegerChoices):
        ONE = 1, "一级"
        TWO = 2, "二级"
        THREE = 3, "三级"
        FOUR = 4, "四级"

    id_number = models.CharField("居民身份证号", max_length=18, null=True, blank=True)  # noqa: DJ001 -- NULL keeps the unique constraint for children without an ID
    id_number_status = models.CharField("证件号状态", max_length=10, choices=IdStatus.choices, default=IdStatus.VALID)
    id_number_raw = models.CharField("原始证件号", max_length=40, blank=True, help_text="未通过校验的原值，待核正")
    name = models.CharField("姓名", max_length=40)
    # Indexed for search by prefix (Meta.indexes): on PostgreSQL with varchar_pattern_ops only, which serves
    # LIKE 'zxm%' and equality alike (db_index=True would add a second, plain index nobody uses).
    name_pinyin = models.CharField("姓名拼音", max_length=120, blank=True)
    name_initials = models.CharField("拼音首字母", max_length=20, blank=True)
    gender = models.CharField("性别", max_length=1, choices=Gender.choices)
    birth_date = models.DateField("出生日期")
    ethnicity = models.CharField("民族", max_length=2, choices=ETHNICITIES, default="01")
    health = models.CharField("健康状况", max_length=1, choices=Health.choices, default=Health.GOOD)
    disability_category = models.CharField("残疾类别", max_length=20, choices=DisabilityCategory.choices, blank=True)
    disability_grade = models.PositiveSmallIntegerField("残疾等级", choices=DisabilityGrade.choices, null=True, blank=True)
    disability_certificate_no = models.CharField("残疾证号", max_length=30, blank=True)

    household_division = models.ForeignKey(
        Division, verbose_name="户籍地区划", null=True, blank=True, on_delete=models.PROTECT, related_name="household_children"
    )
    household_address = models.CharField("户籍地址", max_length=200, blank=True)
    current_division = models.ForeignKey(
        Division, verbose_name="现住址区划", null=True, blank=True, on_delete=models.PROTECT, related_name="resident_children",
        db_index=False,  # a partial index below
    )
    current_address = models.CharField("现住址", max_length=200, blank=True)

    # Denormalised scope columns (DESIGN.md §11): every row of children's data carries its
    # county, township, school and class so that scoping is one indexed filter.
    # No index of their own: the (column, name) indexes below lead with them (every index is paid on
    # every row an import writes).
    county = models.ForeignKey(
        Division, verbose_name="所属县", on_delete=models.PROTECT, related_name="county_children", db_index=False
    )
    township = models.ForeignKey(
        Division, verbose_name="所属乡镇", null=True, blank=True, on_delete=models.PROTECT, related_name="township_children",
        db_index=False,
    )
    current_school = models.ForeignKey(
        School, verbose_name="当前就读学校", null=True, blank=True, on_delete=models.SET_NULL, related_name="current_children",
        db_index=False,
    )
    current_class = models.ForeignKey(
        SchoolClass, verbose_name="当前班级", null=True, blank=True, on_delete=models.SET_NULL, related_name="current_children",
        db_index=False,  # a partial index below
    )

    created_at = models.DateTimeField("建档时间", auto_now_add=True)
    updated_at = models.DateTimeField("更新时间", auto_now=True)

    class Meta:
        verbose_name = "儿童"
        verbose_name_plural = verbose_name
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["id_number"], condition=models.Q(id_number__isnull=False), name="child_id_number_unique"),
            models.CheckConstraint(
                name="child_valid_id_present",
                condition=models.Q(id_number_status="pending") | models.Q(id_number__isnull=False),
            ),
        ]
        indexes = [
            models.Index(fields=["county", "name"]),
            models.Index(fields=["township", "name"]),
            # None on birth date alone (migration people 0011): no page, list or look-up asks for a child by it (the
            # imports find one by name and birth date through (county, name); matching reads the county's children whole).
            # Of the children with a school, class or current residence only: a police list, the largest a county loads,
            # leaves all three empty, and every look-up through them names one (= or IN), which implies NOT NULL.
            models.Index(fields=["current_school", "name"], condition=models.Q(current_school__isnull=False), name="child_school_name_idx"),
            models.Index(fields=["current_class"], condition=models.Q(current_class__isnull=False), name="child_class_idx"),
            models.Index(fields=["current_division"], condition=models.Q(current_division__isnull=False), name="child_residence_idx"),
        ]
        # The pinyin search (people.selectors: name_pinyin, name_initials LIKE 'q%') has two prefix indexes on PostgreSQL
        # only, made by migrations 0004 and 0008 outside the models' state: SQLite cannot use them for a LIKE (its LIKE
        # ignores case, they do not), so there they only cost every write (0008 says more).

    def __str__(self) -> str:
        return self.name


class Guardian(models.Model):
    class Relation(models.TextChoices):
        FATHER = "father", "父亲"
        MOTHER = "mother", "母亲"
        GRANDFATHER = "grandfather", "祖父"
        GRANDMOTHER = "grandmother", "祖母"
        MATERNAL_GRANDFATHER = "maternal_grandfather", "外祖父"
        MATERNAL_GRANDMOTHER = "maternal_grandmother", "外祖母"
        RELATIVE = "relative", "其他亲属"
        OTHER = "other", "其他监护人"

    child = models.ForeignKey(Child, on_delete=models.CASCADE, related_name="guardians")
    name = models.CharField("监护人姓名", max_length=40)
    relation = models.CharField("与儿童关系", max_length=30, choices=Relation.choices)
    phone = models.CharField("联系电话", max_length=30, blank=True)
    order = models.PositiveSmallIntegerField("顺序", default=1)

    class Meta:
        verbose_name = "监护人"
        verbose_name_plural = verbose_name
        ordering = ["child", "order", "id"]

    def __str__(self) -> str:
        return f"{self.name}（{self.get_relation_display()}）"


class SpecialGroup(models.TextChoices):
    LEFT_BEHIND = "left_behind", "留守儿童"
    MIGRANT = "migrant", "随迁子女"
    RETURNED = "returned", "返乡儿童"
    SINGLE_PARENT = "single_parent", "单亲家庭"
    POVERTY_REGISTERED = "poverty_registered", "脱贫户（建档立卡）"
    MONITORED_HOUSEHOLD = "monitored_household", "监测户/边缘户"
    MINIMUM_LIVING_ALLOWANCE = "minimum_living_allowance", "低保"
    EXTREME_POVERTY_SUPPORT = "extreme_poverty_support", "特困供养"
    ORPHAN = "orphan", "孤儿"
    DE_FACTO_UNSUPPORTED = "de_facto_unsupported", "事实无人抚养儿童"
    CHILD_IN_DIFFICULTY = "child_in_difficulty", "困境儿童"
    DISABLED = "disabled", "残疾儿童"


class GroupMembership(models.Model):
    child = models.ForeignKey(Child, on_delete=models.CASCADE, related_name="groups")
    group = models.CharField("重点群体", max_length=40, choices=SpecialGroup.choices)
    source = models.CharField("来源", max_length=30, choices=Source.choices)
    recorded_on = models.DateField("认定日期")
    valid_until = models.DateField("有效期至", null=True, blank=True)
    note = models.CharField("备注", max_length=200, blank=True)

    class Meta:
        verbose_name = "重点群体身份"
        verbose_name_plural = verbose_name
        ordering = ["child", "group"]
        constraints = [models.UniqueConstraint(fields=["child", "group", "source"], name="membership_once_per_source")]
        indexes = [models.Index(fields=["group", "child"])]

    def __str__(self) -> str:
        return self.get_group_display()


# The fields of a child whose source is remembered (FieldProvenance.fields), each a bit of the mask that stores a set
# of them: only ever appended to, for a stored mask keeps the bits it was written with.
SUPPLIED_FIELDS = (
    "name", "gender", "birth_date", "ethnicity", "household_address", "current_address", "household_division",
    "current_division", "health", "disability_category", "disability_grade", "disability_certificate_no", "id_number",
)
_BIT = {name: 1 << i for i, name in enumerate(SUPPLIED_FIELDS)}


def field_mask(names) -> int:
    """The bit mask of a set of SUPPLIED_FIELDS; a name not among them is an error."""
    mask = 0
    for name in names:
        if name not in _BIT:
            raise ValueError(f"{name!r} is not a field whose source is remembered (people.models.SUPPLIED_FIELDS)")
        mask |= _BIT[name]
    return mask


def field_names(mask: int) -> list[str]:
    """The names a mask of field_mask holds, sorted as the list of them was when it was kept as JSON."""
    if mask >> len(SUPPLIED_FIELDS):
        raise ValueError(f"the mask {mask} has bits beyond SUPPLIED_FIELDS")
    return sorted(name for name, bit in _BIT.items() if mask & bit)


class FieldNamesField(models.Field):
    """A set of a child's field names, a list of them in Python (sorted) and a bit mask in the database (field_mask).

    A county's first police list writes a provenance row for each of its 200,000 children: the same names as a JSON
    list were 90 of the row's 164 bytes, written, logged and checkpointed with every row (migration people 0012)."""

    description = "a set of a child's field names"

    def get_internal_type(self) -> str:
        return "BigIntegerField"

    def from_db_value(self, value, expression, connection):
        return None if value is None else field_names(value)

    def to_python(self, value):
        """Names from a mask, a collection of names, or either as text (a serialised mask, a JSON list)."""
        if value is None:
            return None
        if isinstance(value, str):
            value = int(value) if value.strip().isdigit() else json.loads(value)
        return field_names(value if isinstance(value, int) else field_mask(value))

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or isinstance(value, int):
            return value
        return field_mask(value)

    def value_to_string(self, obj):
        # The mask, as the database has it: Django's serialisers write it as a number and to_python reads it back.
        return self.get_prep_value(self.value_from_object(obj))


class FieldProvenance(models.Model):
    """Which fields of a child one source supplied, and from which import (one row per child and source).

    The value a field holds is the one of its highest-precedence supplier (kongchuo/imports/apply.py);
    a source that disagreed left an IdentityConflict behind, and its value is in `refused` until it agrees.
    """

    # No index of its own: the provenance_per_source constraint's index leads with it.
    child = models.ForeignKey(Child, on_delete=models.CASCADE, related_name="provenance", db_index=False)
    source = models.CharField("来源", max_length=30, choices=Source.choices)
    fields = FieldNamesField("提供的字段", default=list)
    # Field → the import batch it came with from this source, so that a later list of the source changing one
    # field leaves the others with the import that supplied them. A field not here came with `batch` (rows
    # written before this map, manual edits).
    batches = models.JSONField("各字段的导入批次", default=dict, blank=True)
    # Field → the value this source last gave for it that precedence did not keep (as IdentityConflict shows a
    # value); a field leaves it when the source's value is the one held again, or is taken.
    refused = models.JSONField("未采用的值", default=dict, blank=True)
    # Neither `batch` nor `recorded_by` is looked up by (nothing asks which children an import or a user supplied): no
    # index of their own, which every provenance row would keep up (a county's first police list writes 200,000) for
    # the rare deletion of a batch or user, which then sets them to NULL through a scan of the table.
    batch = models.ForeignKey(
        "imports.ImportBatch", verbose_name="导入批次", null=True, blank=True, on_delete=models.SET_NULL, related_name="+",
        db_index=False,
    )
    reference = models.CharField("来源批次", max_length=100, blank=True)
    recorded_at = models.DateTimeField("记录时间")
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+", db_index=False
    )

    class Meta:
        verbose_name = "字段来源"
        verbose_name_plural = verbose_name
        constraints = [models.UniqueConstraint(fields=["child", "source"], name="provenance_per_source")]
        indexes = [models.Index(fields=["source", "child"])]


def conflict_value(value) -> str:
    """A field's value as an IdentityConflict keeps it (kept_value, other_value): a village with its township, for
    two townships may each have a 新村."""
    if isinstance(value, Division):
        return value.parent.name + value.name if value.level == Division.Level.VILLAGE and value.parent_id else value.name
    if isinstance(value, dt.date):
        return value.isoformat()
    return "" if value is None else str(value)
