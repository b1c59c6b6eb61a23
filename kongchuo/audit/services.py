"""Writing and verifying the audit chain. Every domain write calls `audit_record`."""

import datetime as dt
import hashlib
import json
from dataclasses import dataclass

from django.db import models, transaction
from django.utils import timezone

from kongchuo.audit.models import AuditEntry, AuditHead
from kongchuo.core.masking import mask_in_text, masked_snapshot

GENESIS = "0" * 64
SYSTEM_CHAIN = "-"


HASHED_FIELDS = ("chain", "seq", "at", "actor_id", "actor_name", "action", "object_type", "object_id", "summary", "before", "after",
                 "prev_hash")


def entry_hash(entry: AuditEntry) -> str:
    """SHA-256 of the entry's content and the previous entry's hash, in a canonical JSON form."""
    payload = {name: getattr(entry, name) for name in HASHED_FIELDS}
    payload["at"] = entry.at.astimezone(dt.UTC).isoformat()
    payload["object_id"] = str(entry.object_id)
    canonical = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def chain_for_user(user) -> str:
    """The chain of the county a user works in (school and class accounts have no division of their own)."""
    node = None
    if getattr(user, "division_id", None):
        node = user.division
    elif getattr(user, "school_id", None):
        node = user.school.county
    elif getattr(user, "school_class_id", None):
        node = user.school_class.school.county
    return node.prefix[:6] if node is not None and len(node.prefix) >= 6 else SYSTEM_CHAIN


def _label(obj) -> tuple[str, str]:
    if obj is None:
        return "", ""
    if isinstance(obj, models.Model):
        return obj._meta.label_lower, str(obj.pk)
    return str(type(obj).__name__), str(obj)


def audit_record(
    *,
    actor,
    action: str,
    obj=None,
    chain: str = SYSTEM_CHAIN,
    summary: str = "",
    before: dict | None = None,
    after: dict | None = None,
) -> AuditEntry:
    """Append one entry to `chain`, in the caller's transaction.

    ID numbers in before/after and in the summary are masked here, so no caller can
    leak one into the log by forgetting.
    """
    object_type, object_id = _label(obj)
    before = json.loads(json.dumps(masked_snapshot(before), default=str)) if before is not None else None
    after = json.loads(json.dumps(masked_snapshot(after), default=str)) if after is not None else None
    summary = mask_in_text(summary)[:300]
    actor_id = getattr(actor, "pk", None)
    actor_name = actor.get_username() if actor is not None and actor_id is not None else "system"
    with transaction.atomic():
        head, _ = AuditHead.objects.select_for_update().get_or_create(chain=chain)
        seq = head.seq + 1
        entry = AuditEntry(
            chain=chain, seq=seq, at=timezone.now(), actor_id=actor_id, actor_name=actor_name, action=action,
            object_type=object_type, object_id=object_id, summary=summary, before=before, after=after, prev_hash=head.hash,
        )
        entry.hash = digest = entry_hash(entry)
        entry.save()
        head.seq, head.hash = seq, digest
        head.save(update_fields=["seq", "hash"])
    return entry


@dataclass(frozen=True)
class Break:
    chain: str
    seq: int
    entry_id: int | None
    reason: str

    def __str__(self) -> str:
        where = f"id {self.entry_id}" if self.entry_id is not None else "missing"
        return f"chain {self.chain} seq {self.seq} ({where}): {self.reason}"


def audit_verify() -> tuple[int, Break | None]:
    """Walk every chain; return (entries checked, first break or None)."""
    checked = 0
    heads = {h.chain: h for h in AuditHead.objects.all()}
    chains = set(heads) | set(AuditEntry.objects.values_list("chain", flat=True).distinct())
    for chain in sorted(chains):
        expected_seq, prev = 1, GENESIS
        for e in AuditEntry.objects.filter(chain=chain).order_by("seq").iterator(chunk_size=2000):
            if e.seq != expected_seq:
                return checked, Break(chain, expected_seq, None, f"entry missing (deleted?); next present is seq {e.seq}")
            if e.prev_hash != prev:
                return checked, Break(chain, e.seq, e.pk, "prev_hash does not match the previous entry")
            digest = entry_hash(e)
            if digest != e.hash:
                return checked, Break(chain, e.seq, e.pk, "content does not match its hash (entry edited)")
            prev, expected_seq = e.hash, expected_seq + 1
            checked += 1
        head = heads.get(chain)
        last_seq = expected_seq - 1
        if head is None:
            return checked, Break(chain, last_seq, None, "chain head missing")
        if head.seq != last_seq or head.hash != prev:
            return checked, Break(chain, last_seq + 1, None, f"head says seq {head.seq}: entries after seq {last_seq} were deleted")
    return checked, None
