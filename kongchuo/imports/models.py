"""Imports of department lists and registry exports: each file is one batch, applied all-or-nothing."""

from django.conf import settings
from django.db import models

from kongchuo.core.choices import Source
from kongchuo.places.models import Division


class ImportSource(models.TextChoices):
    SCHOOLS = "schools", "学校名单"
    HOUSEHOLD = "household", "公安户籍适龄儿童名单"
    REGISTRY = "registry", "学籍系统导出"
    ATTENDANCE = "attendance", "考勤记录"
    DISABILITY = "disability", "残联残疾儿童名单"
    CIVIL_AFFAIRS = "civil-affairs", "民政困难儿童名单"
    RURAL_REVITALISATION = "rural-revitalisation", "乡村振兴脱贫（监测）户名单"
    STUDY_ELSEWHERE = "study-elsewhere", "外地就读证明"


# The provenance source each import writes (schools have no child data).
PROVENANCE_SOURCE = {
    ImportSource.HOUSEHOLD: Source.HOUSEHOLD,
    ImportSource.REGISTRY: Source.REGISTRY,
    ImportSource.ATTENDANCE: Source.ATTENDANCE,
    ImportSource.DISABILITY: Source.DISABILITY,
    ImportSource.CIVIL_AFFAIRS: Source.CIVIL_AFFAIRS,
    ImportSource.RURAL_REVITALISATION: Source.RURAL_REVITALISATION,
    ImportSource.STUDY_ELSEWHERE: Source.STUDY_ELSEWHERE,
}


class ImportBatch(models.Model):
    class Status(models.TextChoices):
        UPLOADED = "uploaded", "已上传"
        PREVIEWED = "previewed", "已预检"
        QUEUED = "queued", "排队中"
        APPLYING = "applying", "导入中"
        APPLIED = "applied", "已导入"
        REJECTED = "rejected", "未通过，未写入"
        FAILED = "failed", "出错，未写入"

    source = models.CharField("数据来源", max_length=30, choices=ImportSource.choices)
    county = models.ForeignKey(Division, verbose_name="所属县", on_delete=models.PROTECT, related_name="imports")
    file_name = models.CharField("文件名", max_length=255)
    file_hash = models.CharField("文件SHA-256", max_length=64, db_index=True)
    file_size = models.BigIntegerField("文件大小")
    file_type = models.CharField("文件类型", max_length=10)
    stored_name = models.CharField("存储名", max_length=100, help_text="数据目录下的生成文件名，不在网站根目录")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="上传人", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField("上传时间", auto_now_add=True)
    mapping = models.JSONField("列对应", default=dict, blank=True)
    header_rows = models.JSONField("表头行", default=list, blank=True)
    # Each sheet's merged cells, found while checking the upload (readers.check_safe): {sheet index: ranges}; None for
    # a batch stored before they were kept, whose file is searched for them again when it is read.
    merged_cells = models.JSONField("合并单元格", null=True, blank=True, default=None)
    status = models.CharField("状态", max_length=20, choices=Status.choices, default=Status.UPLOADED)
    progress = models.PositiveIntegerField("已处理行数", default=0)
    total_rows = models.PositiveIntegerField("总行数", default=0)
    summary = models.JSONField("结果摘要", default=dict, blank=True)
    message = models.TextField("说明", blank=True)
    applied_at = models.DateTimeField("导入时间", null=True, blank=True)
    applied_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name="确认导入人", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        verbose_name = "导入批次"
        verbose_name_plural = verbose_name
        ordering = ["-uploaded_at", "-id"]
        indexes = [models.Index(fields=["county", "-uploaded_at"])]

    def __str__(self) -> str:
        return f"{self.get_source_display()} {self.file_name}"


class RowIssue(models.Model):
    """A rejected row, a repaired value or a flag, with the original row for the error report."""

    class Kind(models.TextChoices):
        REJECTED = "rejected", "拒收"
        REPAIRED = "repaired", "已修正"
        FLAGGED = "flagged", "待核实"  # 证件号待核正 among others: a place not found, a repeated person …

    batch = models.ForeignKey(ImportBatch, on_delete=models.CASCADE, related_name="issues")
    sheet = models.CharField("工作表", max_length=100, blank=True, default="")  # "" for a CSV file
    row = models.PositiveIntegerField("行号")  # as the user sees it in Excel (1-based)
    column = models.CharField("列", max_length=60, blank=True)
    kind = models.CharField("类型", max_length=10, choices=Kind.choices)
    message = models.CharField("原因", max_length=300)
    raw = models.JSONField("原始行", default=list, blank=True)

    class Meta:
        verbose_name = "行问题"
        verbose_name_plural = verbose_name
        ordering = ["batch", "row", "id"]
        indexes = [models.Index(fields=["batch", "kind", "row"])]


class ColumnMapping(models.Model):
    """A manual column mapping saved per source and county, reused by later imports."""

    source = models.CharField(max_length=30, choices=ImportSource.choices)
    county = models.ForeignKey(Division, on_delete=models.CASCADE, related_name="+")
    mapping = models.JSONField(default=dict)  # field → header label
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["source", "county"], name="mapping_per_source_county")]


class IdentityConflict(models.Model):
    """Two sources disagree on a child's field; the kept value follows the field's precedence."""

    class Status(models.TextChoices):
        OPEN = "open", "待核实"
        RESOLVED = "resolved", "已处理"

    child = models.ForeignKey("people.Child", on_delete=models.CASCADE, related_name="conflicts")
    field = models.CharField("字段", max_length=40)
    kept_value = models.CharField("采用值", max_length=200)
    kept_source = models.CharField("采用值来源", max_length=30, choices=Source.choices)
    other_value = models.CharField("另一值", max_length=200)
    other_source = models.CharField("另一值来源", max_length=30, choices=Source.choices)
    batch = models.ForeignKey(ImportBatch, null=True, on_delete=models.SET_NULL, related_name="conflicts")
    status = models.CharField("状态", max_length=10, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)
    county = models.ForeignKey(Division, on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = "身份信息冲突"
        verbose_name_plural = verbose_name
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["child", "field", "other_source", "other_value"], name="conflict_once")]
        indexes = [models.Index(fields=["county", "status"])]

    @property
    def field_label(self) -> str:
        from kongchuo.people.models import Child

        return str(Child._meta.get_field(self.field).verbose_name)
