"""Append-only, hash-chained audit log (DESIGN.md §4)."""

from django.db import models

from kongchuo.core.services import AppendOnlyQuerySet


class AuditEntry(models.Model):
    class Action(models.TextChoices):
        CREATE = "create", "新增"
        UPDATE = "update", "修改"
        DELETE = "delete", "删除"
        TRANSITION = "transition", "状态变更"
        VIEW = "view", "查看完整档案"
        EXPORT = "export", "导出"
        LOAD = "load", "批量载入"
        LOGIN = "login", "登录"
        LOGIN_FAILED = "login_failed", "登录失败"
        LOGOUT = "logout", "退出"

    # One chain per county (its 6-digit code; "-" for system-wide entries) so that writers in
    # different counties do not queue behind one lock.
    chain = models.CharField("链", max_length=12)
    seq = models.BigIntegerField("序号")
    at = models.DateTimeField("时间")
    actor_id = models.BigIntegerField("操作人ID", null=True, blank=True)  # not a FK: the row must never change
    actor_name = models.CharField("操作人", max_length=150, blank=True)
    action = models.CharField("操作", max_length=20, choices=Action.choices)
    object_type = models.CharField("对象类型", max_length=60, blank=True)
    object_id = models.CharField("对象ID", max_length=40, blank=True)
    summary = models.CharField("摘要", max_length=300, blank=True)
    before = models.JSONField("修改前", null=True, blank=True)
    after = models.JSONField("修改后", null=True, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        verbose_name = "审计日志"
        verbose_name_plural = verbose_name
        ordering = ["-at", "-id"]
        constraints = [models.UniqueConstraint(fields=["chain", "seq"], name="audit_seq_unique_in_chain")]
        indexes = [models.Index(fields=["object_type", "object_id"]), models.Index(fields=["chain", "-at"])]

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("审计日志只能追加，不能修改")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("审计日志只能追加，不能删除")


class AuditHead(models.Model):
    """The last sequence number and hash of each chain; locked while an entry is appended."""

    chain = models.CharField(max_length=12, unique=True)
    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64, default="0" * 64)
