"""Cross-matching (数据比对): runs, their findings, verification of findings, and the link review queue."""

from django.conf import settings
from django.db import models

from kongchuo.places.models import Division, School


class Category(models.TextChoices):
    OUT_OF_SCHOOL = "out_of_school", "疑似失学"
    SUSPECTED_DROPOUT = "suspected_dropout", "疑似辍学"
    DUPLICATE_ENROLMENT = "duplicate_enrolment", "重复学籍"
    GHOST_REGISTRATION = "ghost_registration", "空挂学籍（在籍不在学）"
    UNREGISTERED_ATTENDANCE = "unregistered_attendance", "无学籍在读"
    TRANSITION_GAP = "transition_gap", "升学未衔接"
    IDENTITY_CONFLICT = "identity_conflict", "身份信息不一致"
    SPECIAL_GROUP_UNPLACED = "special_group_unplaced", "重点群体未入学"


class MatchRun(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "排队中"
        RUNNING = "running", "比对中"
        DONE = "done", "已完成"
        FAILED = "failed", "失败"

    county = models.ForeignKey(Division, on_delete=models.PROTECT, related_name="+")
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField("发起时间", auto_now_add=True)
    finished_at = models.DateTimeField("完成时间", null=True, blank=True)
    as_of = models.DateField("基准日期")
    parameters = models.JSONField("参数", default=dict)
    input_counts = models.JSONField("输入数量", default=dict)
    result_counts = models.JSONField("结果数量", default=dict)
    diff = models.JSONField("与上次比较", default=dict)
    duration_seconds = models.FloatField("耗时（秒）", null=True, blank=True)
    status = models.CharField("状态", max_length=10, choices=Status.choices, default=Status.QUEUED)
    message = models.TextField("说明", blank=True)

    class Meta:
        verbose_name = "比对运行"
        verbose_name_plural = verbose_name
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"比对 #{self.pk}（{self.as_of}）"


class Finding(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", "待核查"
        CONFIRMED = "confirmed", "已确认，待建台账"
        EXCLUDED = "excluded", "已排除"
        RESOLVED = "resolved", "已消除"  # a later run no longer finds it

    county = models.ForeignKey(Division, on_delete=models.PROTECT, related_name="+")
    township = models.ForeignKey(Division, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    school = models.ForeignKey(School, null=True, blank=True, on_delete=models.PROTECT, related_name="findings")
    category = models.CharField("类别", max_length=30, choices=Category.choices)
    key = models.CharField("标识", max_length=120)  # stable across runs, so runs can be compared
    child = models.ForeignKey("people.Child", null=True, blank=True, on_delete=models.CASCADE, related_name="findings")
    other_child = models.ForeignKey("people.Child", null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    enrolment = models.ForeignKey("enrolments.Enrolment", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    attendance = models.ForeignKey("attendance.AttendanceRecord", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    detail = models.TextField("依据")
    sources = models.JSONField("涉及来源", default=list)
    confidence = models.FloatField("置信度")
    status = models.CharField("状态", max_length=12, choices=Status.choices, default=Status.OPEN)
    first_run = models.ForeignKey(MatchRun, on_delete=models.PROTECT, related_name="new_findings")
    last_run = models.ForeignKey(MatchRun, on_delete=models.PROTECT, related_name="+")
    resolved_run = models.ForeignKey(MatchRun, null=True, blank=True, on_delete=models.PROTECT, related_name="resolved_findings")

    class Meta:
        verbose_name = "比对发现"
        verbose_name_plural = verbose_name
        ordering = ["category", "township", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["county", "key"], condition=models.Q(status__in=["open", "confirmed", "excluded"]), name="finding_key_live_once"
            )
        ]
        indexes = [
            models.Index(fields=["county", "status", "category"]),
            models.Index(fields=["township", "status"]),
            models.Index(fields=["school", "status"]),
        ]

    def __str__(self) -> str:
        return f"{self.get_category_display()}：{self.child or self.detail[:20]}"


class Verification(models.Model):
    """A person's verdict on a finding: excluded with a reason and evidence, or confirmed for the ledger."""

    class Outcome(models.TextChoices):
        EXCLUDED = "excluded", "排除"
        CONFIRMED = "confirmed", "确认"

    class Reason(models.TextChoices):
        STUDYING_ELSEWHERE = "studying_elsewhere", "外地就读"
        TRANSFERRED = "transferred", "已转学"
        ABROAD = "abroad", "出国（境）"
        MOVED_OUT = "moved_out", "户籍迁出"
        DECEASED = "deceased", "死亡"
        OVER_AGE = "over_age", "超龄"
        DUPLICATE_RECORD = "duplicate_record", "重复记录"
        DATA_ERROR = "data_error", "数据错误，已更正"
        OTHER = "other", "其他"

    finding = models.ForeignKey(Finding, on_delete=models.CASCADE, related_name="verifications")
    outcome = models.CharField("结论", max_length=10, choices=Outcome.choices)
    reason = models.CharField("原因", max_length=30, choices=Reason.choices, blank=True)
    note = models.TextField("说明")
    evidence = models.CharField("证明材料", max_length=200, blank=True)  # stored name under FILES_DIR/evidence/
    evidence_name = models.CharField("材料文件名", max_length=255, blank=True)
    verified_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    verified_at = models.DateTimeField("核查时间", auto_now_add=True)

    class Meta:
        verbose_name = "核查记录"
        verbose_name_plural = verbose_name
        ordering = ["finding", "verified_at"]

    def __str__(self) -> str:
        return f"{self.get_outcome_display()} {self.get_reason_display()}"


# Findings still standing: open, or confirmed and handed to the ledger (not excluded, not resolved).
LIVE_STATUSES = (Finding.Status.OPEN, Finding.Status.CONFIRMED)


class LinkCandidate(models.Model):
    """A pair of records the model is unsure about: a person accepts (same child) or rejects; kept for later runs."""

    class Status(models.TextChoices):
        PENDING = "pending", "待确认"
        ACCEPTED = "accepted", "是同一人"
        REJECTED = "rejected", "不是同一人"

    county = models.ForeignKey(Division, on_delete=models.PROTECT, related_name="+")
    left = models.ForeignKey("people.Child", on_delete=models.CASCADE, related_name="+")
    right = models.ForeignKey("people.Child", on_delete=models.CASCADE, related_name="+")
    weight = models.FloatField("匹配权重")
    probability = models.FloatField("匹配概率")
    agreements = models.JSONField("逐项比较", default=dict)
    status = models.CharField("状态", max_length=10, choices=Status.choices, default=Status.PENDING)
    run = models.ForeignKey(MatchRun, on_delete=models.PROTECT, related_name="candidates")
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "待确认匹配"
        verbose_name_plural = verbose_name
        ordering = ["status", "-weight"]
        constraints = [models.UniqueConstraint(fields=["left", "right"], name="candidate_pair_once")]
        indexes = [models.Index(fields=["county", "status"])]

    def __str__(self) -> str:
        return f"{self.left_id}~{self.right_id} {self.weight:.1f}"
