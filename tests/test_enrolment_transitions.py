"""The enrolment (学籍) state machine: every (from, to) pair, the checks around a move, and the
append-only history it leaves."""

import datetime as dt
import itertools

import pytest
from django.core.exceptions import ValidationError

from kongchuo.audit.models import AuditEntry
from kongchuo.enrolments.models import ACTIVE_STATUSES, Enrolment, Status, StatusChange
from kongchuo.enrolments.services import (
    TRANSITIONS,
    IllegalTransition,
    enrolment_create,
    enrolment_transition,
)
from kongchuo.people.identity import compose_id_number
from kongchuo.people.services import child_create
from kongchuo.places.models import Division, School
from kongchuo.places.services import division_create, school_create

S = Status
ENTRY = dt.date(2024, 9, 1)
SINCE = dt.date(2025, 2, 17)
TODAY = dt.date.today()


class Place:
    """One county, one township, two schools and a disabled child: enough for every move."""

    def __init__(self):
        L = Division.Level
        province = division_create(actor=None, code="500000", name="重庆市", level=L.PROVINCE)
        city = division_create(actor=None, code="500200", name="县", level=L.CITY, parent=province)
        self.county = division_create(actor=None, code="500229", name="城口县", level=L.COUNTY, parent=city)
        self.township = division_create(
            actor=None, code="500229101", name="巴山镇", level=L.TOWNSHIP, parent=self.county
        )
        self.village = division_create(
            actor=None, code="500229101001", name="巴山村", level=L.VILLAGE, parent=self.township
        )
        self.school = school_create(
            actor=None,
            code="5002290001",
            name="巴山镇中心小学",
            type=School.Type.PRIMARY,
            township=self.township,
        )
        self.other_school = school_create(
            actor=None,
            code="5002290003",
            name="巴山镇第二小学",
            type=School.Type.PRIMARY,
            township=self.township,
        )
        self.order = 10

    def child(self, *, disability: str = "physical"):
        self.order += 1
        birth = dt.date(2016, 5, 4)
        return child_create(
            actor=None,
            name="周小平",
            gender="M",
            birth_date=birth,
            id_number=compose_id_number("500229", birth, self.order * 2 + 1),
            household_division=self.village,
            disability_category=disability,
        )

    def enrolment_in(self, status: str, *, child=None) -> Enrolment:
        """An enrolment already in `status` (set directly: setup only, no history for that step)."""
        enrolment = enrolment_create(
            actor=None, child=child or self.child(), school=self.school, grade=3, entry_date=ENTRY
        )
        Enrolment.objects.filter(pk=enrolment.pk).update(status=status, status_since=SINCE)
        enrolment.refresh_from_db()
        return enrolment


@pytest.fixture
def place(db):
    return Place()


def _counts(enrolment):
    return StatusChange.objects.filter(enrolment=enrolment).count(), AuditEntry.objects.count()


PAIRS = list(itertools.product(Status.values, Status.values))
LEGAL = [(a, b) for a, b in PAIRS if b in TRANSITIONS[a]]
ILLEGAL = [(a, b) for a, b in PAIRS if b not in TRANSITIONS[a]]


def test_every_status_has_a_transition_row():
    assert set(TRANSITIONS) == set(Status.values)
    assert len(LEGAL) + len(ILLEGAL) == 144
    assert all(a not in TRANSITIONS[a] for a in Status.values)  # no move to the same status


@pytest.mark.parametrize("from_status, to_status", LEGAL)
def test_legal_transition_records_history_and_audit(place, from_status, to_status):
    enrolment = place.enrolment_in(from_status)
    history, audit = _counts(enrolment)
    result = enrolment_transition(
        actor=None, enrolment=enrolment, to_status=to_status, effective_date=TODAY, reason="县教体局批复"
    )
    enrolment.refresh_from_db()
    assert (result.status, enrolment.status, enrolment.status_since) == (to_status, to_status, TODAY)
    assert _counts(enrolment) == (history + 1, audit + 1)
    change = StatusChange.objects.filter(enrolment=enrolment).latest("id")
    assert (change.from_status, change.to_status, change.effective_date, change.reason) == (
        from_status,
        to_status,
        TODAY,
        "县教体局批复",
    )
    entry = AuditEntry.objects.latest("id")
    assert (entry.action, entry.object_type, entry.object_id) == (
        "transition",
        "enrolments.enrolment",
        str(enrolment.pk),
    )
    assert entry.before == {"status": from_status} and entry.after["status"] == to_status
    assert f"{S(from_status).label} → {S(to_status).label}" in entry.summary


@pytest.mark.parametrize("from_status, to_status", ILLEGAL)
def test_illegal_transition_is_refused_and_writes_nothing(place, from_status, to_status):
    enrolment = place.enrolment_in(from_status)
    history, audit = _counts(enrolment)
    with pytest.raises(IllegalTransition) as exc:
        enrolment_transition(
            actor=None, enrolment=enrolment, to_status=to_status, effective_date=TODAY, reason="试图变更"
        )
    message = exc.value.message_dict["to_status"][0]
    assert f"不能从“{S(from_status).label}”变更为“{S(to_status).label}”" in message
    enrolment.refresh_from_db()
    assert (enrolment.status, enrolment.status_since) == (from_status, SINCE)
    assert _counts(enrolment) == (history, audit)


def test_illegal_transition_lists_the_allowed_moves(place):
    with pytest.raises(IllegalTransition) as exc:
        enrolment_transition(
            actor=None, enrolment=place.enrolment_in(S.SUSPENDED), to_status=S.ENROLLED, effective_date=TODAY
        )
    assert "可办理的变动：转出、复学、辍学、死亡" in exc.value.messages[0]
    with pytest.raises(IllegalTransition) as exc:
        enrolment_transition(
            actor=None, enrolment=place.enrolment_in(S.GRADUATED), to_status=S.ENROLLED, effective_date=TODAY
        )
    assert "无（该学籍已终结）" in exc.value.messages[0]


def test_unknown_status_is_refused(place):
    with pytest.raises(IllegalTransition):
        enrolment_transition(
            actor=None, enrolment=place.enrolment_in(S.ENROLLED), to_status="vanished", effective_date=TODAY
        )


@pytest.mark.parametrize("to_status", [S.SUSPENDED, S.DROPPED_OUT, S.TRANSFERRED_OUT, S.DECEASED])
def test_reason_is_required(place, to_status):
    enrolment = place.enrolment_in(S.ENROLLED)
    history, audit = _counts(enrolment)
    with pytest.raises(ValidationError) as exc:
        enrolment_transition(
            actor=None, enrolment=enrolment, to_status=to_status, effective_date=TODAY, reason="  "
        )
    assert exc.value.message_dict["reason"] == [f"办理“{S(to_status).label}”须填写原因或依据"]
    assert _counts(enrolment) == (history, audit)
    assert Enrolment.objects.get(pk=enrolment.pk).status == S.ENROLLED


@pytest.mark.parametrize("status", [S.DEFERRED, S.EXEMPTED])
def test_reason_is_required_for_an_initial_approved_absence(place, status):
    with pytest.raises(ValidationError) as exc:
        enrolment_create(
            actor=None, child=place.child(), school=place.school, grade=1, entry_date=ENTRY, status=status
        )
    assert "reason" in exc.value.message_dict
    enrolment = enrolment_create(
        actor=None,
        child=place.child(),
        school=place.school,
        grade=1,
        entry_date=ENTRY,
        status=status,
        reason="县控辍办批准",
    )
    assert enrolment.status == status


def test_reason_is_optional_for_resuming(place):
    enrolment = place.enrolment_in(S.SUSPENDED)
    assert (
        enrolment_transition(
            actor=None, enrolment=enrolment, to_status=S.RESUMED, effective_date=TODAY
        ).status
        == S.RESUMED
    )


def test_effective_date_before_the_current_status_is_refused(place):
    enrolment = place.enrolment_in(S.ENROLLED)
    history, audit = _counts(enrolment)
    with pytest.raises(ValidationError) as exc:
        enrolment_transition(
            actor=None,
            enrolment=enrolment,
            to_status=S.SUSPENDED,
            effective_date=SINCE - dt.timedelta(days=1),
            reason="生病",
        )
    assert "不能早于当前状态的起始日期2025-02-17" in exc.value.message_dict["effective_date"][0]
    assert _counts(enrolment) == (history, audit)


def test_effective_date_on_the_status_date_is_allowed(place):
    enrolment = place.enrolment_in(S.ENROLLED)
    enrolment_transition(
        actor=None, enrolment=enrolment, to_status=S.SUSPENDED, effective_date=SINCE, reason="生病"
    )
    assert Enrolment.objects.get(pk=enrolment.pk).status_since == SINCE


def test_effective_date_in_the_future_is_refused(place):
    enrolment = place.enrolment_in(S.ENROLLED)
    with pytest.raises(ValidationError) as exc:
        enrolment_transition(
            actor=None,
            enrolment=enrolment,
            to_status=S.SUSPENDED,
            effective_date=TODAY + dt.timedelta(days=1),
            reason="生病",
        )
    assert exc.value.message_dict["effective_date"] == ["生效日期不能晚于今天"]
    with pytest.raises(ValidationError):
        enrolment_create(
            actor=None,
            child=place.child(),
            school=place.school,
            grade=3,
            entry_date=TODAY + dt.timedelta(days=1),
        )


@pytest.mark.parametrize("to_status", [S.HOME_TEACHING, S.INCLUSIVE])
def test_home_teaching_and_inclusive_need_a_disability_category(place, to_status):
    child = place.child(disability="")
    enrolment = place.enrolment_in(S.ENROLLED, child=child)
    history, audit = _counts(enrolment)
    with pytest.raises(ValidationError) as exc:
        enrolment_transition(
            actor=None, enrolment=enrolment, to_status=to_status, effective_date=TODAY, reason="评估"
        )
    assert "仅适用于登记了残疾类别的儿童" in exc.value.message_dict["to_status"][0]
    assert _counts(enrolment) == (history, audit)
    with pytest.raises(ValidationError):
        enrolment_create(
            actor=None,
            child=place.child(disability=""),
            school=place.school,
            grade=3,
            entry_date=ENTRY,
            status=to_status,
        )


@pytest.mark.parametrize(
    "status", [S.TRANSFERRED_OUT, S.SUSPENDED, S.RESUMED, S.GRADUATED, S.DROPPED_OUT, S.DECEASED]
)
def test_enrolment_cannot_start_in_a_non_initial_status(place, status):
    with pytest.raises(IllegalTransition):
        enrolment_create(
            actor=None,
            child=place.child(),
            school=place.school,
            grade=3,
            entry_date=ENTRY,
            status=status,
            reason="x",
        )


def test_second_open_enrolment_at_the_same_school_is_refused(place):
    enrolment = place.enrolment_in(S.SUSPENDED)
    with pytest.raises(ValidationError) as exc:
        enrolment_create(actor=None, child=enrolment.child, school=place.school, grade=3, entry_date=TODAY)
    assert "已有学籍（休学），请在原学籍上办理变动" in exc.value.messages[0]
    assert enrolment.child.enrolments.count() == 1


def test_new_active_enrolment_elsewhere_needs_a_transfer_out_first(place):
    child = place.child()
    first = enrolment_create(actor=None, child=child, school=place.school, grade=3, entry_date=ENTRY)
    n = StatusChange.objects.count()
    with pytest.raises(ValidationError) as exc:
        enrolment_create(
            actor=None,
            child=child,
            school=place.other_school,
            grade=3,
            entry_date=TODAY,
            status=S.TRANSFERRED_IN,
        )
    assert "请先由原学校办理转出" in exc.value.messages[0]
    assert "巴山镇中心小学" in exc.value.messages[0]
    assert StatusChange.objects.count() == n

    enrolment_transition(
        actor=None, enrolment=first, to_status=S.TRANSFERRED_OUT, effective_date=TODAY, reason="随父母迁居"
    )
    second = enrolment_create(
        actor=None, child=child, school=place.other_school, grade=3, entry_date=TODAY, status=S.TRANSFERRED_IN
    )
    assert second.status == S.TRANSFERRED_IN
    assert set(child.enrolments.values_list("status", flat=True)) == {S.TRANSFERRED_OUT, S.TRANSFERRED_IN}


def test_resuming_a_dropout_is_refused_while_studying_elsewhere(place):
    child = place.child()
    old = place.enrolment_in(S.DROPPED_OUT, child=child)
    enrolment_create(actor=None, child=child, school=place.other_school, grade=3, entry_date=TODAY)
    with pytest.raises(ValidationError) as exc:
        enrolment_transition(actor=None, enrolment=old, to_status=S.RESUMED, effective_date=TODAY)
    assert "已在巴山镇第二小学就读" in exc.value.messages[0]
    assert Enrolment.objects.get(pk=old.pk).status == S.DROPPED_OUT


def test_only_one_active_enrolment_after_any_legal_chain(place):
    child = place.child()
    e = enrolment_create(actor=None, child=child, school=place.school, grade=3, entry_date=ENTRY)
    for to_status in [S.SUSPENDED, S.RESUMED, S.INCLUSIVE, S.ENROLLED, S.DROPPED_OUT, S.RESUMED]:
        enrolment_transition(
            actor=None, enrolment=e, to_status=to_status, effective_date=TODAY, reason="依据"
        )
    assert child.enrolments.filter(status__in=ACTIVE_STATUSES).count() == 1
    moves = list(
        StatusChange.objects.filter(enrolment=e).order_by("id").values_list("from_status", "to_status")
    )
    assert moves == [
        ("", S.ENROLLED),
        (S.ENROLLED, S.SUSPENDED),
        (S.SUSPENDED, S.RESUMED),
        (S.RESUMED, S.INCLUSIVE),
        (S.INCLUSIVE, S.ENROLLED),
        (S.ENROLLED, S.DROPPED_OUT),
        (S.DROPPED_OUT, S.RESUMED),
    ]


def test_status_change_rows_cannot_be_updated_or_deleted(place):
    enrolment = place.enrolment_in(S.ENROLLED)
    enrolment_transition(
        actor=None, enrolment=enrolment, to_status=S.SUSPENDED, effective_date=TODAY, reason="生病"
    )
    change = StatusChange.objects.filter(enrolment=enrolment).latest("id")
    change.reason = "改写历史"
    with pytest.raises(ValueError, match="只能追加"):
        change.save()
    with pytest.raises(ValueError, match="只能追加"):
        change.delete()
    assert StatusChange.objects.get(pk=change.pk).reason == "生病"


def test_current_school_follows_the_open_enrolment(place):
    child = place.child()
    assert child.current_school_id is None
    first = enrolment_create(actor=None, child=child, school=place.school, grade=3, entry_date=ENTRY)
    child.refresh_from_db()
    assert child.current_school == place.school

    enrolment_transition(
        actor=None, enrolment=first, to_status=S.SUSPENDED, effective_date=TODAY, reason="生病"
    )
    child.refresh_from_db()
    assert child.current_school == place.school  # suspension keeps the place

    enrolment_transition(
        actor=None, enrolment=first, to_status=S.TRANSFERRED_OUT, effective_date=TODAY, reason="迁居"
    )
    child.refresh_from_db()
    assert child.current_school is None

    second = enrolment_create(
        actor=None, child=child, school=place.other_school, grade=3, entry_date=TODAY, status=S.TRANSFERRED_IN
    )
    child.refresh_from_db()
    assert child.current_school == place.other_school

    Enrolment.objects.filter(pk=second.pk).update(grade=6)
    enrolment_transition(
        actor=None, enrolment=second, to_status=S.GRADUATED, effective_date=TODAY, reason="小学毕业"
    )
    child.refresh_from_db()
    assert child.current_school is None


def test_a_full_id_in_a_reason_is_masked_in_the_audit_but_kept_in_history(place):
    enrolment = place.enrolment_in(S.ENROLLED)
    full = enrolment.child.id_number
    reason = f"转入外县，学生身份证号{full}"
    enrolment_transition(
        actor=None, enrolment=enrolment, to_status=S.TRANSFERRED_OUT, effective_date=TODAY, reason=reason
    )
    entry = AuditEntry.objects.latest("id")
    assert full not in entry.after["reason"]
    assert entry.after["reason"] == f"转入外县，学生身份证号{full[:6]}********{full[-4:]}"


@pytest.mark.django_db
def test_history_cannot_be_rewritten_in_bulk(world):
    from kongchuo.audit.models import AuditEntry

    with pytest.raises(ValueError):
        StatusChange.objects.all().update(reason="改写")
    with pytest.raises(ValueError):
        StatusChange.objects.all().delete()
    with pytest.raises(ValueError):
        AuditEntry.objects.filter(action="create").update(summary="改写")
    with pytest.raises(ValueError):
        AuditEntry.objects.all().delete()
    assert StatusChange.objects.exclude(reason="改写").count() == StatusChange.objects.count() > 0
