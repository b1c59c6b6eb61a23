"""The dropout ledger (台账): one case per child until it is closed (销号), with its history.

The case page is the 一生一表 (DESIGN.md §5); persuasion records (劝返记录) and the documents sent
to guardians hang off the case. States and transitions live in services.py. 送教上门 plans and
一人一案 support measures belong to the child (they outlive a case); reminders and in-app
notifications come from the deadlines (reminders.py, notify.py).
"""

import datetime as dt
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
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
    def unit_labels(self) -> list[str]:
        return [self.Unit(u).label for u in self.units if u in self.Unit.values]

    @property
    def is_joint(self) -> bool:
        """联合劝返: school, township and village together (police or judicial may join)."""
        return {"school", "township", "village"} <= set(self.units)


def joint_count(records) -> int:
    """How many of a case's persuasion records were joint persuasions (the rule before a deferral counts them)."""
    return sum(1 for r in records if r.is_joint)


class Attachment(models.Model):
    """A photo or PDF scan, stored by services._store_attachment; it belongs to exactly one record."""

    record = models.ForeignKey(PersuasionRecord, null=True, blank=True, on_delete=models.CASCADE, related_name="attachments")
    session = models.ForeignKey("HomeTeachingSession", null=True, blank=True, on_delete=models.CASCADE, related_name="photos")
    plan = models.ForeignKey("HomeTeachingPlan", null=True, blank=True, on_delete=models.CASCADE, related_name="certificate_scans")
    stored_name = models.CharField(max_length=100)
    file_name = models.CharField("文件名", max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.CheckConstraint(
                name="attachment_belongs_to_one_record",
                condition=(
                    models.Q(record__isnull=False, session__isnull=True, plan__isnull=True)
                    | models.Q(record__isnull=True, session__isnull=False, plan__isnull=True)
                    | models.Q(record__isnull=True, session__isnull=True, plan__isnull=False)
                ),
            )
        ]

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


HOLIDAYS_HELP = "每项为 [起, 止]：MM-DD 表示每年的同一日期（可跨年，如 12-30 至 01-03），YYYY-MM-DD 表示仅当年"


def default_holidays() -> list[list[str]]:
    """Winter and summer breaks of a typical Chongqing school year; counties set their own calendar
    (and may add 国庆 or other breaks: those weeks then need a contact record instead of a session)."""
    return [["01-20", "02-20"], ["07-10", "08-31"]]


def _holiday_bound(text: str) -> tuple[int | None, int, int]:
    parts = [int(p) for p in str(text).split("-")]
    if len(parts) == 2:
        year, (month, day) = None, parts
    elif len(parts) == 3:
        year, month, day = parts
    else:
        raise ValueError(text)
    dt.date(year or 2024, month, day)  # raises on 02-30 and the like
    return year, month, day


def is_holiday(day: dt.date, ranges) -> bool:
    """Whether `day` falls in one of the county's holiday ranges (see HOLIDAYS_HELP)."""
    for start, end in ranges:
        (y1, m1, d1), (y2, m2, d2) = _holiday_bound(start), _holiday_bound(end)
        if y1 is not None and y2 is not None:
            if dt.date(y1, m1, d1) <= day <= dt.date(y2, m2, d2):
                return True
            continue
        key, lo, hi = (day.month, day.day), (m1, d1), (m2, d2)
        if (lo <= key <= hi) if lo <= hi else (key >= lo or key <= hi):
            return True
    return False


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
    # 送教上门: 行课期间每周送教1次，每次不少于2学时，寒暑假保持联系 (seed 002); 每周不少于1次 (seed 004)
    home_teaching_sessions_per_week = models.PositiveSmallIntegerField("送教上门每个教学周至少次数", default=1)
    home_teaching_min_hours = models.DecimalField("送教上门每次至少学时", max_digits=3, decimal_places=1, default=Decimal("2"))
    home_teaching_plan_days = models.PositiveSmallIntegerField("转为送教上门后制定方案时限（天）", default=7)
    holidays = models.JSONField("寒暑假（起止日期）", default=default_holidays, help_text=HOLIDAYS_HELP)
    remind_days_before = models.PositiveSmallIntegerField("到期前几天开始提醒", default=3)

    class Meta:
        verbose_name = "台账规则"
        verbose_name_plural = verbose_name

    def __str__(self) -> str:
        return f"{self.county} 台账规则"

    def clean(self):
        super().clean()
        try:
            for start, end in self.holidays:
                _holiday_bound(start), _holiday_bound(end)
        except (TypeError, ValueError) as exc:
            raise ValidationError({"holidays": HOLIDAYS_HELP}) from exc



def rules_by_county(county_ids) -> dict:
    """Each county's rules without writing a row (unsaved defaults where a county has none)."""
    county_ids = set(county_ids)
    found = {r.county_id: r for r in CaseRules.objects.filter(county_id__in=county_ids)}
    return {cid: found.get(cid) or CaseRules(county_id=cid) for cid in county_ids}


def county_rules(county_id: int) -> CaseRules:
    return rules_by_county([county_id])[county_id]


class _Dated:
    """A plan or measure that runs from start_date to end_date (open-ended when there is none)."""

    def is_active(self, day: dt.date) -> bool:
        return self.start_date <= day and (self.end_date is None or day <= self.end_date)


class HomeTeachingPlan(_Dated, models.Model):
    """送教上门方案 for one child: who teaches, what, and when (seed 002 三; seed 004 送教上户).

    The plan follows the child, not the case: a case may end in 送教上门 and be closed while the
    teaching goes on for years. `case` links the plan to the ledger entry it came from, if any.
    """

    child = models.ForeignKey("people.Child", verbose_name="儿童", on_delete=models.PROTECT, related_name="home_teaching_plans")
    case = models.ForeignKey(
        Case, verbose_name="台账", null=True, blank=True, on_delete=models.SET_NULL, related_name="home_teaching_plans"
    )
    county = models.ForeignKey(Division, on_delete=models.PROTECT, related_name="+")
    township = models.ForeignKey(Division, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    school = models.ForeignKey(
        School, verbose_name="送教学校", null=True, blank=True, on_delete=models.PROTECT, related_name="home_teaching_plans"
    )
    teachers = models.CharField("送教教师（姓名、电话）", max_length=200)
    teacher_users = models.ManyToManyField(
        settings.AUTH_USER_MODEL, verbose_name="送教教师（系统用户）", blank=True, related_name="home_teaching_plans"
    )
    content = models.TextField("送教内容")
    weekdays = models.JSONField("每周送教日", default=list)  # 1 = Monday … 7 = Sunday
    class_hours = models.DecimalField("每次学时", max_digits=3, decimal_places=1, default=Decimal("2"))
    schedule_note = models.CharField("时间安排", max_length=100, blank=True)
    start_date = models.DateField("开始日期")
    end_date = models.DateField("结束日期", null=True, blank=True)
    certificate_no = models.CharField("残疾证号（或诊断证明编号）", max_length=40)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "送教上门方案"
        verbose_name_plural = verbose_name
        ordering = ["-start_date", "-id"]
        indexes = [models.Index(fields=["county", "end_date"]), models.Index(fields=["school"]), models.Index(fields=["township"])]

    def __str__(self) -> str:
        return f"{self.child} 送教上门方案（{self.start_date:%Y-%m-%d} 起）"

    def clean(self):
        super().clean()
        if self.end_date and self.start_date and self.end_date < self.start_date:
            raise ValidationError({"end_date": "结束日期不能早于开始日期"})
        if not self.weekdays or not all(isinstance(d, int) and 1 <= d <= 7 for d in self.weekdays):
            raise ValidationError({"weekdays": "请选择每周送教日"})
        if self.class_hours is not None and not Decimal("0") < self.class_hours <= Decimal("8"):
            raise ValidationError({"class_hours": "每次学时应在0.5到8之间"})


    @property
    def weekday_labels(self) -> str:
        return "、".join(WEEKDAY_LABELS[d - 1] for d in sorted(self.weekdays))


WEEKDAY_LABELS = ["周一", "周二", "周三", "周四", "周五", "周六", "周日"]


class HomeTeachingSession(models.Model):
    """One visit (or online lesson): the 《残疾学生送教上门记录卡》 line."""

    class Mode(models.TextChoices):
        HOME = "home", "上门送教"
        ONLINE = "online", "网络送教"

    plan = models.ForeignKey(HomeTeachingPlan, on_delete=models.CASCADE, related_name="sessions")
    date = models.DateField("日期")
    class_hours = models.DecimalField("学时", max_digits=3, decimal_places=1)
    mode = models.CharField("形式", max_length=10, choices=Mode.choices, default=Mode.HOME)
    teachers = models.CharField("送教教师", max_length=200)
    content = models.TextField("送教内容")
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "送教上门记录"
        verbose_name_plural = verbose_name
        ordering = ["plan", "-date", "-id"]
        indexes = [models.Index(fields=["plan", "date"])]

    def __str__(self) -> str:
        return f"{self.date} 送教 {self.class_hours} 学时"


class HolidayContact(models.Model):
    """寒暑假保持与送教对象的对接和联系 (seed 002)."""

    class Method(models.TextChoices):
        PHONE = "phone", "电话"
        VIDEO = "video", "视频"
        VISIT = "visit", "入户"
        MESSAGE = "message", "微信/短信"

    plan = models.ForeignKey(HomeTeachingPlan, on_delete=models.CASCADE, related_name="contacts")
    date = models.DateField("日期")
    method = models.CharField("方式", max_length=10, choices=Method.choices)
    notes = models.TextField("情况记录")
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = "假期联系记录"
        verbose_name_plural = verbose_name
        ordering = ["plan", "-date", "-id"]
        indexes = [models.Index(fields=["plan", "date"])]

    def __str__(self) -> str:
        return f"{self.date} {self.get_method_display()}联系"


class SupportMeasure(_Dated, models.Model):
    """一人一案: one measure applied to a confirmed or at-risk child, with who answers for it and when."""

    class Kind(models.TextChoices):
        FEE_WAIVER_SUBSIDY = "fee_waiver_subsidy", "两免一补"
        NUTRITION_PROGRAMME = "nutrition_programme", "营养改善计划"
        LIVING_SUBSIDY = "living_subsidy", "生活补助"
        PAIRED_TEACHER = "paired_teacher", "结对帮扶"
        COUNSELLING = "counselling", "心理辅导"
        OTHER = "other", "其他"

    child = models.ForeignKey("people.Child", verbose_name="儿童", on_delete=models.PROTECT, related_name="support_measures")
    case = models.ForeignKey(Case, verbose_name="台账", null=True, blank=True, on_delete=models.SET_NULL, related_name="support_measures")
    kind = models.CharField("措施", max_length=30, choices=Kind.choices)
    responsible = models.CharField("责任人（单位、电话）", max_length=100)
    start_date = models.DateField("开始日期")
    end_date = models.DateField("结束日期", null=True, blank=True)
    notes = models.CharField("说明", max_length=300, blank=True)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(auto_now_add=True)
    ended_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = "帮扶措施"
        verbose_name_plural = verbose_name
        ordering = ["child", "end_date", "-start_date", "-id"]
        constraints = [
            models.CheckConstraint(
                name="support_ends_after_it_starts",
                condition=models.Q(end_date__isnull=True) | models.Q(end_date__gte=models.F("start_date")),
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}（{self.responsible}）"



class Notification(models.Model):
    """An in-app message (notify.InAppNotifier): shown as a count in the top bar until read."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    title = models.CharField("标题", max_length=100)
    body = models.TextField("内容")
    url = models.CharField("链接", max_length=200, blank=True)
    created_at = models.DateTimeField("时间", auto_now_add=True)
    read_at = models.DateTimeField("已读时间", null=True, blank=True)

    class Meta:
        verbose_name = "提醒"
        verbose_name_plural = verbose_name
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "read_at"])]

    def __str__(self) -> str:
        return self.title


class Reminder(models.Model):
    """The claim that a reminder went out: one per user, case, kind and due date, whatever the notifiers."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="reminders")
    kind = models.CharField(max_length=30)
    due = models.DateField()
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "case", "kind", "due"], name="one_reminder_per_user_case_kind_due")]
