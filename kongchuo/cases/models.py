"""The dropout ledger (台账): one case per child until it is closed (销号), with its history.

The case page is the 一生一表 (DESIGN.md §5); persuasion records (劝返记录) and the documents sent
to guardians hang off the case. States and transitions live in services.py.
"""

from django.conf import settings
from django.db import models

from kongchuo.core.services import AppendOnlyQuerySet
from kongchuo.places.models import Division, School


class State(models.TextChoices):
    SUSPECTED = "suspected", "疑似"
    VERIFYING = "verifying", "核查中"
    EXCLUDED = "excluded", "已排除"
    CONFIRMED = "confirmed", "确认失学/辍学"
    PERSUADING = "persuading", "劝返中"
    DEFERRED = "deferred", "准予延缓/休学"
    HOME_TEACHING = "home_teaching", "送教上门"
    ESCALATED = "escalated", "已升级（限期通知/司法）"
    RETURNED = "returned", "已复学"
    CLOSED = "closed", "已销号"


OPEN_STATES = [s for s in State.values if s not in (State.EXCLUDED, State.CLOSED)]


class DropoutReason(models.TextChoices):
    LEARNING = "learning", "厌学/学习困难"
    POVERTY = "poverty", "家庭经济困难"
    WORK = "work", "外出务工"
    HEALTH = "health", "身体原因/残疾"
    MARRIAGE = "marriage", "早婚早育"
    RELIGION = "religion", "宗教/入寺"
    GUARDIAN = "guardian", "监护人不重视(读书无用)"
    MIGRATION = "migration", "随父母外出/流动"
    OTHER = "other", "其他"


class Case(models.Model):
    class Kind(models.TextChoices):
        OUT_OF_SCHOOL = "out_of_school", "失学"
        DROPOUT = "dropout", "辍学"

    number = models.CharField("台账编号", max_length=30, unique=True)
    child = models.ForeignKey("people.Child", verbose_name="儿童", on_delete=models.PROTECT, related_name="cases")
    kind = models.CharField("类型", max_length=20, choices=Kind.choices)
    state = models.CharField("状态", max_length=20, choices=State.choices, default=State.SUSPECTED)
    finding = models.ForeignKey("matching.Finding", null=True, blank=True, on_delete=models.SET_NULL, related_name="cases")
    county = models.ForeignKey(Division, on_delete=models.PROTECT, related_name="+")
    township = models.ForeignKey(Division, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    school = models.ForeignKey(School, verbose_name="学籍/负责学校", null=True, blank=True, on_delete=models.PROTECT, related_name="cases")
    opened_at = models.DateTimeField("立案时间", auto_now_add=True)
    state_since = models.DateTimeField("进入当前状态时间")
    confirmed_on = models.DateField("确认日期", null=True, blank=True)
    closed_at = models.DateTimeField("销号时间", null=True, blank=True)
    # 一生一表
    dropout_reason = models.CharField("辍学原因", max_length=20, choices=DropoutReason.choices, blank=True)
    dropout_reason_note = models.CharField("原因说明", max_length=200, blank=True)
    family_situation = models.TextField("家庭情况", blank=True)
    registration_address = models.CharField("学籍地址", max_length=200, blank=True)
    reason_not_returned = models.CharField("未返校原因", max_length=200, blank=True)
    persuading_unit = models.CharField("劝返单位", max_length=100, blank=True)
    responsible_person = models.CharField("责任人", max_length=40, blank=True)
    responsible_phone = models.CharField("责任人电话", max_length=30, blank=True)
    school_contact = models.CharField("学校责任人（电话）", max_length=80, blank=True)
    township_contact = models.CharField("乡镇责任人（电话）", max_length=80, blank=True)
    village_contact = models.CharField("村（社区）责任人（电话）", max_length=80, blank=True)
    teacher_contact = models.CharField("包保教师（电话）", max_length=80, blank=True)
    # 谁核查谁负责、谁填写谁负责、谁审核谁负责 (seed 004)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="核查人", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    filled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="填写人", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="审核人", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    deferral_approved = models.BooleanField("是否批准延缓", default=False)

    class Meta:
        verbose_name = "台账"
        verbose_name_plural = verbose_name
        ordering = ["-opened_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["child"], condition=models.Q(state__in=OPEN_STATES), name="one_open_case_per_child"),
        ]
        indexes = [
            models.Index(fields=["county", "state"]),
            models.Index(fields=["township", "state"]),
            models.Index(fields=["school", "state"]),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.child}"

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES


class Transition(models.Model):
    """One row per state change: who, from, to, when, why, evidence. Never changed afterwards."""

    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="transitions")
    from_state = models.CharField("原状态", max_length=20, choices=State.choices, blank=True)
    to_state = models.CharField("新状态", max_length=20, choices=State.choices)
    at = models.DateTimeField("时间", auto_now_add=True)
    by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="操作人", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.TextField("理由")
    evidence = models.CharField("依据/材料", max_length=300, blank=True)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        verbose_name = "台账状态变更"
        verbose_name_plural = verbose_name
        ordering = ["case", "at", "id"]

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("台账状态变更只能追加，不能修改")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("台账状态变更只能追加，不能删除")


class PersuasionRecord(models.Model):
    class Method(models.TextChoices):
        HOME_VISIT = "home_visit", "入户家访"
        PHONE = "phone", "电话劝返"
        JOINT_VISIT = "joint_visit", "联合入户劝返"
        MEETING = "meeting", "约谈"
        POLICE_JUDICIAL = "police_judicial", "公安/司法人员参与"
        LETTER = "letter", "送达书面通知"

    class Unit(models.TextChoices):
        SCHOOL = "school", "学校"
        TOWNSHIP = "township", "乡镇"
        VILLAGE = "village", "村（社区）"
        POLICE = "police", "公安"
        JUDICIAL = "judicial", "司法"

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="persuasions")
    date = models.DateField("日期")
    method = models.CharField("方式", max_length=20, choices=Method.choices)
    units = models.JSONField("参与单位", default=list)
    participants = models.CharField("参与人员", max_length=200)
    place = models.CharField("地点", max_length=200)
    content = models.TextField("劝返内容（谈话要点）")
    result = models.CharField("结果", max_length=200)
    next_step = models.CharField("下一步", max_length=200, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "劝返记录"
        verbose_name_plural = verbose_name
        ordering = ["case", "-date", "-id"]

    def __str__(self) -> str:
        return f"{self.date} {self.get_method_display()}"

    @property
    def is_joint(self) -> bool:
        """联合劝返: school, township and village together (police or judicial may join)."""
        return {"school", "township", "village"} <= set(self.units)


class Attachment(models.Model):
    record = models.ForeignKey(PersuasionRecord, on_delete=models.CASCADE, related_name="attachments")
    stored_name = models.CharField(max_length=100)
    file_name = models.CharField("文件名", max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()

    def __str__(self) -> str:
        return self.file_name


class CaseDocument(models.Model):
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="documents")
    kind = models.CharField("文书", max_length=30)
    number = models.CharField("文号", max_length=60, unique=True)
    issued_on = models.DateField("日期")
    deadline = models.DateField("限期", null=True, blank=True)
    stored_name = models.CharField(max_length=100)
    pdf_stored_name = models.CharField(max_length=100, blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "文书"
        verbose_name_plural = verbose_name
        ordering = ["case", "issued_on", "id"]

    def __str__(self) -> str:
        return self.number


class CaseRules(models.Model):
    """The county's deadlines, as data (DESIGN.md §5 defaults from the seeds)."""

    county = models.OneToOneField(Division, on_delete=models.CASCADE, related_name="case_rules")
    verify_days = models.PositiveSmallIntegerField("疑似情况核查时限（天）", default=7)
    first_persuasion_days = models.PositiveSmallIntegerField("确认后首次劝返时限（天）", default=3)  # 即辍即劝 (seed 002)
    record_interval_days = models.PositiveSmallIntegerField("劝返记录间隔（天）", default=30)  # at least monthly (seed 004)
    notice_after_persuasions = models.PositiveSmallIntegerField("几次劝返未果后发入学（复学）通知书", default=2)
    deadline_notice_days = models.PositiveSmallIntegerField("限期复学期限（天）", default=7)  # seed 004
    deferral_joint_persuasions = models.PositiveSmallIntegerField("批准延缓前须联合劝返次数", default=3)  # seed 002
    closure_school_days = models.PositiveSmallIntegerField("复学后连续到校天数方可销号", default=10)

    class Meta:
        verbose_name = "台账规则"
        verbose_name_plural = verbose_name

    def __str__(self) -> str:
        return f"{self.county} 台账规则"
