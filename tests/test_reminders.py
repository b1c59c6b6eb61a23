"""Reminders: `kongchuo remind` sends each due or overdue ledger item to the people who answer for it,
once, through every configured notifier; the in-app notifier feeds the top bar's 提醒 count."""

import datetime as dt
import io

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from kongchuo.audit.models import AuditEntry
from kongchuo.cases import services as C
from kongchuo.cases.models import Notification, Reminder
from kongchuo.cases.notify import InAppNotifier
from kongchuo.cases.reminders import remind

SENT: list[tuple] = []


class RecordingNotifier:
    """Stands in for an SMS gateway."""

    def send(self, user, title, body, url):
        SENT.append((user.username, title, body, url))


class BrokenNotifier:
    def send(self, user, title, body, url):
        raise ConnectionError("短信网关不可用")


@pytest.fixture
def case(world):
    """A suspected dropout at school A (township A): to be verified within 7 days of opening."""
    return C.case_open(actor=world.users["school_a"], child=world.children["a"], kind="dropout", reason="连续缺勤10天")


def users_reminded():
    return sorted(Reminder.objects.values_list("user__username", flat=True))


def test_due_soon_goes_to_school_and_township_overdue_also_to_the_county(world, case):
    today = timezone.localdate()
    assert remind(today=today).sent == []  # due in 7 days: not yet (rule: 3 days ahead)
    result = remind(today=today + dt.timedelta(days=5))
    assert sorted(u.username for u, _ in result.sent) == ["school_a", "township_a"]
    assert Notification.objects.filter(user=world.users["school_a"]).get().title == "【待办】核查疑似情况（确认或排除）"
    body = Notification.objects.get(user=world.users["township_a"]).body
    assert "张小明" in body and case.number in body and "还有2天" in body
    assert Notification.objects.get(user=world.users["school_a"]).url == reverse("case_detail", args=[case.pk])
    result = remind(today=today + dt.timedelta(days=9))  # overdue: the county staff join; the others had theirs
    assert [u.username for u, _ in result.sent] == ["county_staff"] and result.already == 2
    assert "已逾期2天" in Notification.objects.get(user=world.users["county_staff"]).body
    assert users_reminded() == ["county_staff", "school_a", "township_a"]
    assert not Notification.objects.filter(user__username__in=["township_b", "teacher_a", "county_admin", "supervisor", "county2_admin"])
    summaries = list(AuditEntry.objects.filter(chain="500229", summary__startswith="到期提醒").values_list("summary", flat=True))
    assert sorted(summaries) == ["到期提醒：发送 1 条，1 人", "到期提醒：发送 2 条，2 人"]


def test_reruns_send_nothing_twice_and_a_new_due_date_is_a_new_reminder(world, case):
    later = timezone.localdate() + dt.timedelta(days=10)
    assert len(remind(today=later).sent) == 3
    again = remind(today=later)
    assert again.sent == [] and again.already == 3 and Notification.objects.count() == 3
    case = C.case_confirm(actor=world.users["township_a"], case=case, reason="家访核实已辍学")  # next item: first persuasion
    assert {item.kind for _, item in remind(today=later).sent} == {"first_persuasion"}


def test_dry_run_writes_nothing(world, case):
    result = remind(today=timezone.localdate() + dt.timedelta(days=10), dry_run=True)
    assert len(result.sent) == 3 and not Reminder.objects.exists() and not Notification.objects.exists()


def test_notifiers_are_pluggable_and_a_failure_is_retried(world, case, settings):
    later = timezone.localdate() + dt.timedelta(days=10)
    SENT.clear()
    settings.KONGCHUO_NOTIFIERS = ["kongchuo.cases.notify.InAppNotifier", "tests.test_reminders.BrokenNotifier"]
    result = remind(today=later)
    assert len(result.failed) == 3 and result.sent == []
    assert not Reminder.objects.exists() and not Notification.objects.exists()  # rolled back: nothing half-sent
    settings.KONGCHUO_NOTIFIERS = ["kongchuo.cases.notify.InAppNotifier", "tests.test_reminders.RecordingNotifier"]
    assert len(remind(today=later).sent) == 3
    assert sorted(s[0] for s in SENT) == ["county_staff", "school_a", "township_a"] and Notification.objects.count() == 3
    assert all(s[3] == reverse("case_detail", args=[case.pk]) and s[1].startswith("【已逾期】") for s in SENT)


def test_county_admins_stand_in_when_the_county_has_no_staff(world, case):
    world.users["county_staff"].is_active = False
    world.users["county_staff"].save()
    result = remind(today=timezone.localdate() + dt.timedelta(days=10), notifiers=[InAppNotifier()])
    assert sorted(u.username for u, _ in result.sent) == ["county_admin", "school_a", "township_a"]


def test_the_command(world, case, settings):
    later = (timezone.localdate() + dt.timedelta(days=10)).isoformat()
    out = io.StringIO()
    call_command("remind", "--dry-run", "--as-of", later, stdout=out)
    assert "将提醒 school_a" in out.getvalue() and "将发送提醒 3 条（3 人）" in out.getvalue() and not Reminder.objects.exists()
    out = io.StringIO()
    call_command("remind", "--as-of", later, "--county", "500229", stdout=out)
    assert "已发送提醒 3 条（3 人）" in out.getvalue()
    out = io.StringIO()
    call_command("remind", "--as-of", later, stdout=out)
    assert "已发送提醒 0 条（0 人），此前已发送 3 条" in out.getvalue()
    call_command("remind", "--as-of", later, "--county", "500230", stdout=io.StringIO())  # another county: nothing there
    with pytest.raises(CommandError, match="没有区县代码"):
        call_command("remind", "--county", "999999")
    settings.KONGCHUO_NOTIFIERS = ["tests.test_reminders.BrokenNotifier"]
    C.case_confirm(actor=world.users["township_a"], case=case, reason="核实")
    with pytest.raises(CommandError, match="发送失败"):
        call_command("remind", "--as-of", later, stdout=io.StringIO(), stderr=io.StringIO())


def test_top_bar_count_list_and_mark_read(world, case, client):
    remind(today=timezone.localdate() + dt.timedelta(days=10), notifiers=[InAppNotifier()])
    C.case_confirm(actor=world.users["township_a"], case=case, reason="核实")
    remind(today=timezone.localdate() + dt.timedelta(days=10), notifiers=[InAppNotifier()])
    client.force_login(world.users["school_a"])
    home = client.get(reverse("home"))
    assert home.context["unread_notifications"] == 2 and "提醒 <b>2</b>" in home.content.decode()
    listing = client.get(reverse("notification_list")).content.decode()
    assert "核查疑似情况" in listing and "首次劝返" in listing
    first = Notification.objects.filter(user=world.users["school_a"]).order_by("pk").first()
    response = client.post(reverse("notification_read", args=[first.pk]), {"open": "1"})
    assert response.status_code == 302 and response["Location"] == reverse("case_detail", args=[case.pk])
    assert client.get(reverse("home")).context["unread_notifications"] == 1
    response = client.post(reverse("notification_read_all"))
    assert response.status_code == 302 and client.get(reverse("home")).context["unread_notifications"] == 0
    assert AuditEntry.objects.filter(action="update", summary__startswith="全部提醒标为已读（1 条）").exists()
    client.force_login(world.users["county_staff"])  # nothing of school_a's is reachable
    assert client.post(reverse("notification_read", args=[first.pk])).status_code == 404
