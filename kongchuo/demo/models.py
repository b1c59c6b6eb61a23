"""What the demo loader leaves behind besides the county itself: a marker and the children's keys."""

from django.db import models

from kongchuo.people.models import Child


class DemoLoad(models.Model):
    """One row per database that holds the demo county; loading again checks it first."""

    county_code = models.CharField("区县代码", max_length=6, unique=True)  # one demo county per database
    seed = models.BigIntegerField("种子")
    scale = models.FloatField("规模")
    as_of = models.DateField("数据基准日")
    loaded_at = models.DateTimeField("载入时间", auto_now_add=True)
    counts = models.JSONField("载入行数", default=dict)

    class Meta:
        verbose_name = "演示数据载入记录"
        verbose_name_plural = verbose_name

    def __str__(self) -> str:
        return f"演示县 {self.county_code}（种子 {self.seed}）"


class DemoChildKey(models.Model):
    """The generator's key of each loaded child, so the known truth (DemoCounty.anomalies) can be
    matched against what the matching finds."""

    key = models.CharField("演示编号", max_length=10, unique=True)
    child = models.OneToOneField(Child, on_delete=models.CASCADE, related_name="+")

    class Meta:
        verbose_name = "演示儿童编号"
        verbose_name_plural = verbose_name

    def __str__(self) -> str:
        return self.key
