"""Helpers shared by the services of every app."""

from django.db import models


def snapshot(obj: models.Model, fields) -> dict:
    """Plain values of `fields` for the audit log (foreign keys by id, dates as strings)."""
    out = {}
    for name in fields:
        field = obj._meta.get_field(name)
        value = getattr(obj, field.attname)
        out[name] = value.isoformat() if hasattr(value, "isoformat") else value
    return out


class AppendOnlyQuerySet(models.QuerySet):
    """For history and audit rows: bulk update and delete are refused like single-row ones."""

    def update(self, **kwargs):
        raise ValueError(f"{self.model._meta.verbose_name}只能追加，不能修改")

    def delete(self):
        raise ValueError(f"{self.model._meta.verbose_name}只能追加，不能删除")
