"""Walk every URL of the app as every persona: nothing outside a user's subtree can be read or changed.

The expectations below are written out by hand from the world's geography (tests/world.py),
not derived from the scoping helper, so a scoping bug shows up as a mismatch here.
"""

import datetime as dt

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from kongchuo.enrolments.models import Enrolment, StatusChange
from kongchuo.people.models import Child, FieldProvenance, GroupMembership, Guardian

PERSONAS = [
    "county_admin",
    "county_staff",
    "township_a",
    "township_b",
    "school_a",
    "teacher_a",
    "liaison_police",
    "supervisor",
    "county2_admin",
]
ALL_CHILDREN = {"a", "b", "x", "c2", "out"}
VISIBLE_CHILDREN = {
    "county_admin": {"a", "b", "x", "out"},
    "county_staff": {"a", "b", "x", "out"},
    "supervisor": {"a", "b", "x", "out"},
    "township_a": {"a", "x"},  # x lives in A and studies in B
    "township_b": {"b", "x", "out"},
    "school_a": {"a"},
    "teacher_a": {"a"},
    "liaison_police": {"a", "out"},  # only children the police list supplied
    "county2_admin": {"c2"},
}
ALL_SCHOOLS = {"school_a", "school_b", "school_c2"}
VISIBLE_SCHOOLS = {
    "county_admin": {"school_a", "school_b"},
    "county_staff": {"school_a", "school_b"},
    "supervisor": {"school_a", "school_b"},
    "liaison_police": {"school_a", "school_b"},
    "township_a": {"school_a"},
    "township_b": {"school_b"},
    "school_a": {"school_a"},
    "teacher_a": {"school_a"},
    "county2_admin": {"school_c2"},
}
CAN_EDIT_CHILD = {"county_admin", "county_staff", "township_a", "township_b", "school_a", "teacher_a", "county2_admin"}
CAN_CHANGE_ENROLMENT = {"county_admin", "county_staff", "school_a", "county2_admin"}
CAN_SEE_AUDIT = {"county_admin", "county_staff", "supervisor", "county2_admin"}
CAN_MANAGE_USERS = {"county_admin", "county2_admin"}

# Every named URL must be classified here; a new URL fails test_every_url_is_classified until it is.
CHILD_READ = {"child_detail"}
CHILD_WRITE = {"child_edit", "guardian_add", "guardian_remove"}
ENROLMENT_WRITE = {"enrolment_transition"}
SCHOOL_READ = {"school_detail"}
LISTS = {"home", "child_list", "child_export", "school_list", "audit_list", "user_list", "password_change"}
USER_ADMIN = {"user_create", "user_edit"}
IMPORT_LISTS = {"import_list", "conflict_list"}
IMPORT_OBJECT = {"import_detail", "import_mapping", "import_apply", "import_errors"}
CAN_IMPORT = {"county_admin", "county_staff", "liaison_police", "county2_admin"}
MATCHING_LISTS = {"match_home", "finding_list", "review_list", "findings_export"}
MATCHING_OBJECT = {"finding_detail", "run_detail", "review_decide", "match_start"}
CAN_RUN_MATCH = {"county_admin", "county_staff", "county2_admin"}
CASE_LISTS = {"case_list", "case_todo", "ledger_export", "case_rules"}
CASE_OBJECT = {"case_detail", "case_edit", "persuasion_new", "case_move", "document_new", "document_download", "attachment_download",
               "case_open"}
HOME_TEACHING_LISTS = {"home_teaching_list"}
HOME_TEACHING_OBJECT = {"home_teaching_detail", "home_teaching_plan_edit", "home_teaching_session_new", "home_teaching_contact_new",
                        "home_teaching_file", "home_teaching_plan_new"}
SUPPORT_OBJECT = {"support_measures", "support_measure_end"}
OWN_NOTIFICATIONS = {"notification_list", "notification_read", "notification_read_all"}
PUBLIC = {"login", "logout"}


def _patterns(resolver=None, prefix=""):
    for p in (resolver or get_resolver()).url_patterns:
        if isinstance(p, URLResolver):
            yield from _patterns(p, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern), p


def test_every_url_is_classified():
    known = (CHILD_READ | CHILD_WRITE | ENROLMENT_WRITE | SCHOOL_READ | LISTS | USER_ADMIN | IMPORT_LISTS | IMPORT_OBJECT | PUBLIC
             | MATCHING_LISTS | MATCHING_OBJECT | CASE_LISTS | CASE_OBJECT | HOME_TEACHING_LISTS | HOME_TEACHING_OBJECT | SUPPORT_OBJECT
             | OWN_NOTIFICATIONS)
    names = {p.name for _, p in _patterns() if p.name}
    unnamed = [route for route, p in _patterns() if not p.name and not route.startswith("static")]
    assert not unnamed, f"unnamed URL patterns cannot be walked: {unnamed}"
    assert names == known, f"classify these URLs in this test: {names ^ known}"


def fingerprint():
    """Everything a write could touch (audit entries excluded: reads are logged too)."""
    return (
        list(Child.objects.order_by("pk").values()),
        list(Guardian.objects.order_by("pk").values()),
        list(Enrolment.objects.order_by("pk").values()),
        StatusChange.objects.count(),
        list(GroupMembership.objects.order_by("pk").values()),
        FieldProvenance.objects.count(),
    )


def child_urls(world, key):
    child = world.children[key]
    guardian = child.guardians.first()
    return {
        "child_detail": reverse("child_detail", args=[child.pk]),
        "child_edit": reverse("child_edit", args=[child.pk]),
        "guardian_add": reverse("guardian_add", args=[child.pk]),
        "guardian_remove": reverse("guardian_remove", args=[child.pk, guardian.pk]),
    }


def write_payload(world, name, key):
    """A valid form for each write URL, so only authorisation can stop it."""
    child = Child.objects.get(pk=world.children[key].pk)
    if name == "child_edit":
        return {
            "name": child.name + "改",
            "gender": child.gender,
            "birth_date": child.birth_date.isoformat(),
            "id_number": child.id_number,
            "ethnicity": "15",
            "health": "1",
            "household_division": child.household_division_id,
            "household_address": "新地址",
            "current_address": "新现住址",
        }
    if name == "guardian_add":
        return {"name": "王大山", "relation": "grandfather", "phone": "13900000000", "order": 2}
    if name == "enrolment_transition":
        return {"to_status": "suspended", "effective_date": dt.date.today().isoformat(), "reason": "因病休学（测试）"}
    return {}


@pytest.mark.parametrize("persona", PERSONAS)
def test_out_of_scope_children_cannot_be_read_or_changed(world, client, persona):
    user = world.users[persona]
    hidden = ALL_CHILDREN - VISIBLE_CHILDREN[persona]
    assert hidden, "every persona must have something outside its scope"
    before = fingerprint()
    for key in sorted(hidden):
        for name, url in child_urls(world, key).items():
            client.force_login(user)
            assert client.get(url).status_code in (403, 404, 405), (persona, key, name, "GET")
            client.force_login(user)
            response = client.post(url, write_payload(world, name, key))
            assert response.status_code in (403, 404), (persona, key, name, "POST", response.status_code)
        enrolment = Enrolment.objects.filter(child=world.children[key]).first()
        if enrolment is not None:
            url = reverse("enrolment_transition", args=[enrolment.pk])
            client.force_login(user)
            assert client.get(url).status_code in (403, 404)
            client.force_login(user)
            assert client.post(url, write_payload(world, "enrolment_transition", key)).status_code in (403, 404)
    assert fingerprint() == before


@pytest.mark.parametrize("persona", PERSONAS)
def test_in_scope_children_readable_and_writable_only_with_the_role(world, client, persona):
    user = world.users[persona]
    client.force_login(user)
    for key in sorted(VISIBLE_CHILDREN[persona]):
        urls = child_urls(world, key)
        assert client.get(urls["child_detail"]).status_code == 200, (persona, key)
        expected_edit = 200 if persona in CAN_EDIT_CHILD else 403
        assert client.get(urls["child_edit"]).status_code == expected_edit, (persona, key)
    # One write per persona on its first visible child: allowed roles change it, others get 403.
    key = sorted(VISIBLE_CHILDREN[persona])[0]
    before = fingerprint()
    response = client.post(child_urls(world, key)["guardian_add"], write_payload(world, "guardian_add", key))
    if persona in CAN_EDIT_CHILD:
        assert response.status_code == 302 and fingerprint() != before
    else:
        assert response.status_code == 403 and fingerprint() == before


@pytest.mark.parametrize("persona", PERSONAS)
def test_enrolment_changes_need_the_role_and_the_school(world, client, persona):
    user = world.users[persona]
    for key in sorted(VISIBLE_CHILDREN[persona]):
        enrolment = Enrolment.objects.filter(child=world.children[key]).first()
        if enrolment is None:
            continue
        url = reverse("enrolment_transition", args=[enrolment.pk])
        school_key = {world.school_a.pk: "school_a", world.school_b.pk: "school_b", world.school_c2.pk: "school_c2"}[enrolment.school_id]
        allowed = persona in CAN_CHANGE_ENROLMENT and school_key in VISIBLE_SCHOOLS[persona]
        client.force_login(user)
        status = client.get(url).status_code
        assert status == (200 if allowed else 403) or (not allowed and status == 404), (persona, key, status)


@pytest.mark.parametrize("persona", PERSONAS)
def test_schools_outside_scope_are_404(world, client, persona):
    client.force_login(world.users[persona])
    schools = {"school_a": world.school_a, "school_b": world.school_b, "school_c2": world.school_c2}
    for key, school in schools.items():
        status = client.get(reverse("school_detail", args=[school.pk])).status_code
        assert status == (200 if key in VISIBLE_SCHOOLS[persona] else 404), (persona, key)
    listing = client.get(reverse("school_list")).content.decode()
    for key, school in schools.items():
        assert (school.name in listing) == (key in VISIBLE_SCHOOLS[persona]), (persona, key)


@pytest.mark.parametrize("persona", PERSONAS)
def test_lists_and_exports_show_only_the_subtree(world, client, persona):
    client.force_login(world.users[persona])
    listing = client.get(reverse("child_list")).content.decode()
    home = client.get(reverse("home"))
    assert home.status_code == 200
    assert home.context["counts"]["total"] == len(VISIBLE_CHILDREN[persona])
    for key in ALL_CHILDREN:
        assert (world.children[key].name in listing) == (key in VISIBLE_CHILDREN[persona]), (persona, key)
    # Filtering by an out-of-scope school or township must not widen the scope.
    for params in ({"school": world.school_c2.pk}, {"township": world.township_b.pk}, {"q": world.children["c2"].name}):
        page = client.get(reverse("child_list"), params)
        shown = {c.pk for c in page.context["page"]}
        assert shown <= {world.children[k].pk for k in VISIBLE_CHILDREN[persona]}, (persona, params)
    export = client.get(reverse("child_export"))
    assert export.status_code == 200
    from python_calamine import CalamineWorkbook

    rows = CalamineWorkbook.from_filelike(__import__("io").BytesIO(export.content)).get_sheet_by_index(0).to_python()
    exported = {row[0] for row in rows[1:]}
    assert exported == {world.children[k].name for k in VISIBLE_CHILDREN[persona]}, persona


@pytest.mark.parametrize("persona", PERSONAS)
def test_audit_and_user_pages_need_their_roles(world, client, persona):
    client.force_login(world.users[persona])
    assert client.get(reverse("audit_list")).status_code == (200 if persona in CAN_SEE_AUDIT else 403)
    assert client.get(reverse("user_list")).status_code == (200 if persona in CAN_MANAGE_USERS else 403)


def test_audit_page_shows_only_own_county(world, client):
    client.force_login(world.users["county2_admin"])
    client.get(reverse("child_detail", args=[world.children["c2"].pk]))
    client.force_login(world.users["county_admin"])
    client.get(reverse("child_detail", args=[world.children["a"].pk]))
    page = client.get(reverse("audit_list"), {"action": "view"})
    summaries = [e.summary for e in page.context["page"]]
    assert summaries and not any(world.children["c2"].name in s for s in summaries)


def test_user_list_shows_only_own_subtree(world, client):
    client.force_login(world.users["county_admin"])
    names = {u.username for u in client.get(reverse("user_list")).context["page"]}
    assert "county2_admin" not in names and {"township_a", "school_a", "teacher_a"} <= names


def test_supervisor_changes_nothing_anywhere(world, client):
    """POST a valid change to every URL of the app as the read-only supervisor."""
    supervisor = world.users["supervisor"]
    before = fingerprint()
    targets = []
    for key in sorted(VISIBLE_CHILDREN["supervisor"]):
        targets += [(name, url, key) for name, url in child_urls(world, key).items()]
        for enrolment in Enrolment.objects.filter(child=world.children[key]):
            targets.append(("enrolment_transition", reverse("enrolment_transition", args=[enrolment.pk]), key))
    for _route, pattern in _patterns():
        if pattern.name in LISTS:
            targets.append((pattern.name, reverse(pattern.name), "a"))
    targets.append(("school_detail", reverse("school_detail", args=[world.school_a.pk]), "a"))
    targets.append(("user_create", reverse("user_create"), "a"))
    batch = _batch(world, world.county, world.users["county_admin"])
    for name in IMPORT_OBJECT:
        targets.append((name, reverse(name, args=[batch.pk]), "a"))
    targets.append(("user_edit", reverse("user_edit", args=[world.users["teacher_a"].pk]), "a"))
    for name, url, key in targets:
        client.force_login(supervisor)
        response = client.post(url, write_payload(world, name, key))
        if name in CHILD_WRITE | ENROLMENT_WRITE | USER_ADMIN | IMPORT_OBJECT:
            assert response.status_code == 403, (name, response.status_code)
    assert fingerprint() == before


def test_anonymous_is_sent_to_login(world, client):
    for route, pattern in _patterns():
        if pattern.name in PUBLIC:
            continue
        args = [world.children["a"].pk] if "child_id" in route else []
        if "guardian_id" in route:
            args.append(world.children["a"].guardians.first().pk)
        if "enrolment_id" in route:
            args = [Enrolment.objects.filter(child=world.children["a"]).first().pk]
        if "school_id" in route:
            args = [world.school_a.pk]
        if "user_id" in route:
            args = [world.users["teacher_a"].pk]
        if "finding_id" in route or "run_id" in route or "candidate_id" in route:
            args = [1]
        if "case_id" in route:
            args = [1] + ([1] if "document_id" in route or "attachment_id" in route else []) + (["close"] if "action" in route else [])
        if "batch_id" in route:
            args = [_batch(world, world.county, world.users["county_admin"]).pk]
        if "plan_id" in route:
            args = [1] + ([1] if "attachment_id" in route else [])
        if "measure_id" in route:
            args = [world.children["a"].pk, 1]
        if "notification_id" in route:
            args = [1]
        response = client.get(reverse(pattern.name, args=args))
        assert response.status_code == 302 and "/login/" in response["Location"], pattern.name


def _user_form(node_key, **extra):
    return {
        "username": "new_user",
        "full_name": "新用户",
        "role": "school_admin",
        "node": node_key,
        "password": "Qz7-kongchuo-pass",
        "is_active": "on",
        **extra,
    }


@pytest.mark.parametrize("persona", PERSONAS)
def test_user_management_is_for_admins_within_their_subtree(world, client, persona):
    from kongchuo.accounts.models import User

    client.force_login(world.users[persona])
    assert client.get(reverse("user_create")).status_code == (200 if persona in CAN_MANAGE_USERS else 403)
    outsider = world.users["county2_admin" if persona != "county2_admin" else "county_admin"]
    assert client.get(reverse("user_edit", args=[outsider.pk])).status_code in (403, 404)
    # Binding a new user to a school outside the subtree is refused (the node is not offered).
    foreign_school = world.school_c2 if persona != "county2_admin" else world.school_a
    response = client.post(reverse("user_create"), _user_form(f"s{foreign_school.pk}"))
    assert response.status_code in (200, 403) and not User.objects.filter(username="new_user").exists()


def test_county_admin_creates_and_rebinds_a_user(world, client):
    from kongchuo.accounts.models import User
    from kongchuo.audit.models import AuditEntry

    client.force_login(world.users["county_admin"])
    response = client.post(reverse("user_create"), _user_form(f"s{world.school_b.pk}"))
    assert response.status_code == 302, response.content.decode()[:2000]
    user = User.objects.get(username="new_user")
    assert user.school == world.school_b and user.check_password("Qz7-kongchuo-pass")
    assert AuditEntry.objects.filter(object_type="accounts.user", object_id=str(user.pk), action="create").exists()
    # A role that needs a class cannot be bound to a school.
    response = client.post(reverse("user_edit", args=[user.pk]), _user_form(f"s{world.school_b.pk}", role="class_teacher"))
    assert response.status_code == 200 and "须绑定到班级" in response.content.decode()
    response = client.post(reverse("user_edit", args=[user.pk]), _user_form(f"c{world.class_b.pk}", role="class_teacher"))
    assert response.status_code == 302
    user.refresh_from_db()
    assert (user.role, user.school_class, user.school) == ("class_teacher", world.class_b, None)


def _batch(world, county, user, status="previewed"):
    from kongchuo.imports.models import ImportBatch

    return ImportBatch.objects.create(source="household", county=county, file_name="户籍.xlsx", file_hash="0" * 64, file_size=1,
                                      file_type="xlsx", stored_name="missing.xlsx", uploaded_by=user, status=status)


@pytest.mark.parametrize("persona", PERSONAS)
def test_imports_are_for_importing_roles_and_their_own_county(world, client, persona):
    from kongchuo.imports.models import ImportBatch

    client.force_login(world.users[persona])
    assert client.get(reverse("import_list")).status_code == (200 if persona in CAN_IMPORT else 403)
    assert client.get(reverse("conflict_list")).status_code == 200
    foreign = _batch(world, world.county2 if persona != "county2_admin" else world.county,
                     world.users["county2_admin" if persona != "county2_admin" else "county_admin"])
    others = [foreign]
    if persona == "liaison_police":  # a liaison sees only what it uploaded itself
        others.append(_batch(world, world.county, world.users["county_admin"]))
    for batch in others:
        for name in sorted(IMPORT_OBJECT):
            url = reverse(name, args=[batch.pk])
            client.force_login(world.users[persona])
            assert client.get(url).status_code in (403, 404, 405), (persona, name)
            client.force_login(world.users[persona])
            assert client.post(url, {"map_name": "姓名"}).status_code in (403, 404), (persona, name)
        batch.refresh_from_db()
        assert (batch.status, batch.mapping) == (ImportBatch.Status.PREVIEWED, {})
    if persona in CAN_IMPORT:
        own = _batch(world, world.users[persona].division, world.users[persona])
        assert client.get(reverse("import_detail", args=[own.pk])).status_code == 200


def _findings(world):
    import datetime as dt

    from kongchuo.matching.services import match_run

    match_run(actor=None, county=world.county, as_of=dt.date(2026, 11, 23))
    match_run(actor=None, county=world.county2, as_of=dt.date(2026, 11, 23))
    from kongchuo.matching.models import Finding, MatchRun

    return Finding.objects.get(county=world.county), MatchRun.objects.get(county=world.county2)


@pytest.mark.parametrize("persona", PERSONAS)
def test_matching_pages_respect_scope_and_role(world, client, persona):
    """The out-of-school finding (child 'out', township B) and county 2's run, seen from every persona."""
    from kongchuo.matching.models import Finding

    finding, foreign_run = _findings(world)
    sees_finding = persona in {"county_admin", "county_staff", "supervisor", "township_b"}
    client.force_login(world.users[persona])
    assert client.get(reverse("finding_detail", args=[finding.pk])).status_code == (200 if sees_finding else 404)
    listing = client.get(reverse("finding_list"), {"status": ""}).content.decode()
    assert (world.children["out"].name in listing) == sees_finding
    if persona != "county2_admin":
        assert client.get(reverse("run_detail", args=[foreign_run.pk])).status_code == 404
    assert client.get(reverse("review_list")).status_code == (200 if persona in CAN_RUN_MATCH else 403)
    assert client.get(reverse("findings_export")).status_code == (200 if persona in CAN_RUN_MATCH else 403)
    response = client.post(reverse("match_start"))
    assert (response.status_code == 302) == (persona in CAN_RUN_MATCH)
    response = client.post(reverse("finding_detail", args=[finding.pk]), {"outcome": "excluded", "reason": "moved_out", "note": "已迁出"})
    can_verify = persona in {"county_admin", "county_staff", "township_b"}
    assert response.status_code == (302 if can_verify else 403 if sees_finding else 404), persona
    finding.refresh_from_db()
    assert (finding.status == Finding.Status.EXCLUDED) == can_verify


@pytest.mark.parametrize("persona", PERSONAS)
def test_cases_respect_scope_and_role(world, client, persona):
    from django.utils import timezone

    from kongchuo.cases.models import Case
    from kongchuo.cases.paperwork import document_issue
    from kongchuo.cases.services import case_open, persuasion_add

    case = case_open(actor=world.users["township_b"], child=world.children["out"], kind="out_of_school", reason="核实", confirmed=True)
    persuasion_add(actor=world.users["township_b"], case=case, date=timezone.localdate(), method="home_visit", units=["township"],
                   participants="王", place="家", content="谈话", result="未果")
    document = document_issue(actor=world.users["township_b"], case=case, kind="persuasion_letter")
    sees = persona in {"county_admin", "county_staff", "supervisor", "township_b"}
    works = persona in {"county_admin", "county_staff", "township_b"}
    client.force_login(world.users[persona])
    for name, args in (("case_detail", [case.pk]), ("document_download", [case.pk, document.pk]), ("case_edit", [case.pk])):
        status = client.get(reverse(name, args=args)).status_code
        expected = (200 if works or name != "case_edit" else 403) if sees else 404
        assert status == expected, (persona, name, status)
    assert (world.children["out"].name in client.get(reverse("case_list")).content.decode()) == sees
    before = case.persuasions.count()
    response = client.post(reverse("persuasion_new", args=[case.pk]), {
        "date": timezone.localdate().isoformat(), "method": "phone", "units": ["school"], "participants": "李", "place": "电话",
        "content": "电话沟通", "result": "答应送学"})
    assert response.status_code == (302 if works else 403 if sees else 404), (persona, response.status_code)
    assert case.persuasions.count() == before + (1 if works else 0)
    response = client.post(reverse("document_new", args=[case.pk]), {"kind": "deadline_notice"})
    assert (case.documents.count() == 2) == works and (response.status_code in (302, 403, 404))
    assert Case.objects.get(pk=case.pk).state == "persuading"


@pytest.mark.parametrize("persona", PERSONAS)
def test_home_teaching_support_and_notifications_respect_scope_and_role(world, client, persona):
    """Child 'b' (township B, disabled) with a 送教上门 plan, a session photo and a support measure, seen from every persona."""
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.utils import timezone

    from kongchuo.cases.home_teaching import plan_create, session_add
    from kongchuo.cases.models import Notification
    from kongchuo.cases.support import support_add
    from kongchuo.people.services import child_update

    today = timezone.localdate()
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 64
    child = child_update(actor=None, child=world.children["b"], disability_category="physical", disability_grade=1)
    worker = world.users["township_b"]
    plan = plan_create(actor=worker, child=child, teachers="刘老师 13900000001", content="语文、数学、康复训练", weekdays=[3],
                       class_hours=2, start_date=today - dt.timedelta(days=30), certificate_no="50022920170305001211")
    session = session_add(actor=worker, plan=plan, date=today, class_hours=2, teachers="刘老师", content="识字",
                          files=[SimpleUploadedFile("送教.png", png)])
    measure = support_add(actor=worker, child=child, kind="paired_teacher", responsible="刘老师", start_date=today)
    mine = Notification.objects.create(user=worker, title="【待办】测试", body="测试", url="/cases/")
    sees = persona in {"county_admin", "county_staff", "supervisor", "township_b"}
    works = persona in {"county_admin", "county_staff", "township_b"}
    read_only = 403 if sees else 404
    client.force_login(world.users[persona])
    for name, args in (("home_teaching_detail", [plan.pk]), ("home_teaching_file", [plan.pk, session.photos.get().pk]),
                       ("support_measures", [child.pk])):
        assert client.get(reverse(name, args=args)).status_code == (200 if sees else 404), (persona, name)
    for name, args in (("home_teaching_plan_edit", [plan.pk]), ("home_teaching_session_new", [plan.pk]),
                       ("home_teaching_contact_new", [plan.pk]), ("home_teaching_plan_new", [child.pk])):
        assert client.get(reverse(name, args=args)).status_code == (200 if works else read_only), (persona, name)
    assert (child.name in client.get(reverse("home_teaching_list")).content.decode()) == sees
    response = client.post(reverse("home_teaching_session_new", args=[plan.pk]), {
        "date": today.isoformat(), "class_hours": "2", "mode": "home", "teachers": "刘老师", "content": "数学"})
    assert response.status_code == (302 if works else read_only) and plan.sessions.count() == (2 if works else 1), persona
    response = client.post(reverse("support_measures", args=[child.pk]), {
        "support-kind": "counselling", "support-responsible": "心理老师", "support-start_date": today.isoformat()})
    assert response.status_code == (302 if works else read_only) and child.support_measures.count() == (2 if works else 1), persona
    response = client.post(reverse("support_measure_end", args=[child.pk, measure.pk]), {"end_date": today.isoformat()})
    measure.refresh_from_db()
    assert response.status_code == (302 if works else read_only) and (measure.end_date == today) == works, persona
    # Notifications are each user's own: nobody else can list or mark them.
    listing = client.get(reverse("notification_list"))
    assert listing.status_code == 200 and ("【待办】测试" in listing.content.decode()) == (persona == "township_b")
    response = client.post(reverse("notification_read", args=[mine.pk]))
    mine.refresh_from_db()
    assert response.status_code == (302 if persona == "township_b" else 404) and (mine.read_at is not None) == (persona == "township_b")
