"""FieldProvenance.refused kept true when a child's value changes: by an import or by hand."""

from kongchuo.people.models import Child, FieldProvenance, conflict_value


def settle_refused(rows, child: Child, replaced: dict[str, str], *, source: str | None = None) -> list[FieldProvenance]:
    """The provenance rows (of `rows`) whose `refused` changes now that the child's fields in `replaced` ({field: the
    value before, as conflict_value shows it}) have new values, given by `source`; their `refused` is set, not saved.

    `source`'s own values are the ones held. A source that gave the value replaced (it lists the field, with no
    value of its own refused) is not kept now; one whose refused value is the new one agrees again."""
    changed = []
    for row in rows:
        refused = dict(row.refused)
        for name, was in replaced.items():
            now = conflict_value(getattr(child, name))
            if row.source == source or refused.get(name) == now:
                refused.pop(name, None)
            elif name in row.fields and name not in refused and was not in ("", now):
                refused[name] = was
        if refused != row.refused:
            row.refused = refused
            changed.append(row)
    return changed
