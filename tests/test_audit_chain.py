"""The hash-chained audit log: how entries link, and that editing or deleting one with raw SQL
(what someone with database access could do) is found by `audit verify`."""

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import connection

from kongchuo.audit.models import AuditEntry, AuditHead
from kongchuo.audit.services import GENESIS, audit_record, audit_verify, entry_hash

ROOT = Path(__file__).resolve().parent.parent
TABLE = AuditEntry._meta.db_table


def _sql(statement: str, params=()) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def _col(name: str) -> str:
    return connection.ops.quote_name(name)


def _json_param() -> str:
    return "CAST(%s AS jsonb)" if connection.vendor == "postgresql" else "%s"


def _chain(chain: str) -> list[AuditEntry]:
    return list(AuditEntry.objects.filter(chain=chain).order_by("seq"))


def _verify_command() -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("audit", "verify", stdout=out, stderr=err)
        code = 0
    except SystemExit as exc:
        code = exc.code
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def county_chain(world):
    """The county's chain, with a few more entries so that there is a middle."""
    for i in range(3):
        audit_record(
            actor=world.users["county_staff"],
            action="update",
            chain="500229",
            summary=f"测试记录{i}",
            before={"n": i},
            after={"n": i + 1, "note": "备注"},
        )
    return _chain("500229")


def test_entries_link_each_to_the_previous_hash(county_chain):
    assert [e.seq for e in county_chain] == list(range(1, len(county_chain) + 1))
    assert county_chain[0].prev_hash == GENESIS
    for prev, entry in zip(county_chain, county_chain[1:], strict=False):
        assert entry.prev_hash == prev.hash
    head = AuditHead.objects.get(chain="500229")
    assert (head.seq, head.hash) == (county_chain[-1].seq, county_chain[-1].hash)


def test_hash_covers_the_content(county_chain):
    e = county_chain[-1]
    fields = {
        f: getattr(e, f)
        for f in (
            "chain",
            "seq",
            "at",
            "actor_id",
            "actor_name",
            "action",
            "object_type",
            "object_id",
            "summary",
            "before",
            "after",
            "prev_hash",
        )
    }
    assert entry_hash(AuditEntry(**fields)) == e.hash
    assert entry_hash(AuditEntry(**{**fields, "summary": e.summary + "。"})) != e.hash


def _forged(entry, **changes):
    """The hash a forger would compute after editing `entry`."""
    copy = AuditEntry(**{f.attname: getattr(entry, f.attname) for f in AuditEntry._meta.concrete_fields})
    for name, value in changes.items():
        setattr(copy, name, value)
    return entry_hash(copy)


def test_intact_log_verifies(county_chain):
    assert audit_verify() == (AuditEntry.objects.count(), None)


def test_empty_log_verifies(db):
    assert audit_verify() == (0, None)


def test_editing_the_summary_is_found_at_that_entry(county_chain):
    victim = county_chain[2]
    _sql(f"UPDATE {TABLE} SET summary = %s WHERE id = %s", ["篡改后的摘要", victim.pk])
    checked, broken = audit_verify()
    assert broken is not None
    assert (broken.chain, broken.seq, broken.entry_id) == ("500229", victim.seq, victim.pk)
    assert "edited" in broken.reason


def test_editing_the_after_values_is_found_at_that_entry(county_chain):
    victim = county_chain[-2]
    _sql(
        f"UPDATE {TABLE} SET {_col('after')} = {_json_param()} WHERE id = %s",
        ['{"n": 99, "note": "备注"}', victim.pk],
    )
    assert AuditEntry.objects.get(pk=victim.pk).after["n"] == 99
    _, broken = audit_verify()
    assert broken is not None and broken.entry_id == victim.pk


def test_editing_and_rehashing_an_entry_is_found_at_the_next_one(county_chain):
    victim, following = county_chain[1], county_chain[2]
    forged = _forged(victim, summary="伪造")
    _sql(f"UPDATE {TABLE} SET summary = %s, hash = %s WHERE id = %s", ["伪造", forged, victim.pk])
    _, broken = audit_verify()
    assert broken is not None
    assert (broken.seq, broken.entry_id) == (following.seq, following.pk)
    assert "prev_hash" in broken.reason


def test_rehashing_the_last_entry_is_found_via_the_head(county_chain):
    last = county_chain[-1]
    forged = _forged(last, summary="伪造")
    _sql(f"UPDATE {TABLE} SET summary = %s, hash = %s WHERE id = %s", ["伪造", forged, last.pk])
    _, broken = audit_verify()
    assert broken is not None and broken.chain == "500229" and broken.entry_id is None


def test_deleting_a_middle_entry_is_found_as_a_missing_seq(county_chain):
    victim = county_chain[3]
    _sql(f"DELETE FROM {TABLE} WHERE id = %s", [victim.pk])
    _, broken = audit_verify()
    assert broken is not None
    assert (broken.chain, broken.seq, broken.entry_id) == ("500229", victim.seq, None)
    assert "missing" in broken.reason


def test_deleting_the_first_entry_is_found(county_chain):
    _sql(f"DELETE FROM {TABLE} WHERE id = %s", [county_chain[0].pk])
    _, broken = audit_verify()
    assert broken is not None and (broken.chain, broken.seq) == ("500229", 1)


def test_deleting_the_last_entry_is_found_via_the_head(county_chain):
    last = county_chain[-1]
    _sql(f"DELETE FROM {TABLE} WHERE id = %s", [last.pk])
    _, broken = audit_verify()
    assert broken is not None
    assert (broken.chain, broken.seq, broken.entry_id) == ("500229", last.seq, None)
    assert f"head says seq {last.seq}" in broken.reason


def test_deleting_a_whole_chain_is_found_via_its_head(county_chain):
    _sql(f"DELETE FROM {TABLE} WHERE chain = %s", ["500229"])
    _, broken = audit_verify()
    assert broken is not None and broken.chain == "500229"


def test_deleting_the_head_is_found(county_chain):
    _sql(f"DELETE FROM {AuditHead._meta.db_table} WHERE chain = %s", ["500229"])
    _, broken = audit_verify()
    assert broken is not None and broken.chain == "500229" and "head missing" in broken.reason


def test_command_reports_an_intact_log(county_chain):
    code, out, err = _verify_command()
    assert code == 0
    assert f"已校验 {AuditEntry.objects.count()} 条记录" in out
    assert err == ""


def test_command_exits_1_and_prints_the_break(county_chain):
    victim = county_chain[2]
    _sql(f"UPDATE {TABLE} SET summary = %s WHERE id = %s", ["篡改", victim.pk])
    code, out, err = _verify_command()
    assert code == 1
    assert "审计日志被篡改" in err
    assert f"chain 500229 seq {victim.seq} (id {victim.pk})" in err
    assert "完整" not in out


def test_entries_cannot_be_changed_or_deleted_through_the_orm(county_chain):
    entry = county_chain[0]
    entry.summary = "改写"
    with pytest.raises(ValueError, match="只能追加"):
        entry.save()
    with pytest.raises(ValueError, match="只能追加"):
        entry.delete()
    assert AuditEntry.objects.get(pk=entry.pk).summary != "改写"
    assert audit_verify()[1] is None


def test_chains_per_county_are_independent(world):
    c1, c2 = _chain("500229"), _chain("500230")
    assert c1 and c2
    assert c1[0].prev_hash == c2[0].prev_hash == GENESIS
    assert [e.seq for e in c2] == list(range(1, len(c2) + 1))
    head1 = AuditHead.objects.get(chain="500229").hash
    audit_record(actor=None, action="update", chain="500230", summary="丰都县的记录")
    assert AuditHead.objects.get(chain="500229").hash == head1
    assert _chain("500229") == c1

    # A break in one county's chain is reported there; the other county's chain still checks out.
    _sql(f"DELETE FROM {TABLE} WHERE id = %s", [_chain("500230")[1].pk])
    checked, broken = audit_verify()
    assert broken is not None and broken.chain == "500230" and broken.seq == 2
    assert checked >= len(c1) + 1  # every 500229 entry was walked before reaching 500230


def test_cli_verifies_a_freshly_initialised_database(tmp_path):
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("DJANGO_", "KONGCHUO_")) and k != "DATABASE_URL"
    }
    env.update(KONGCHUO_DATA_DIR=str(tmp_path), KONGCHUO_PROFILE="development")
    script = Path(sys.executable).with_name("kongchuo")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "kongchuo"]
    init = subprocess.run(
        [*command, "init"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert init.returncode == 0, init.stderr
    assert (tmp_path / "kongchuo.sqlite3").exists()
    verify = subprocess.run(
        [*command, "audit", "verify"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert verify.returncode == 0, verify.stderr
    assert "审计日志完整" in verify.stdout
