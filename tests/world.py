"""A small two-county world built through the real services, with one persona per role.

County 城口县 (500229) has townships A (巴山镇) and B (坪坝镇), one primary school in
each, a class in each school. A second county (丰都县, 500230) lies outside every
county-500229 persona's scope.
"""

import datetime as dt
from dataclasses import dataclass, field

from kongchuo.accounts.models import Department, Role, User
from kongchuo.core.choices import Source
from kongchuo.enrolments.services import enrolment_create
from kongchuo.people.identity import compose_id_number
from kongchuo.people.services import child_create, guardian_save, membership_add
from kongchuo.places.models import Division, School
from kongchuo.places.services import class_create, division_create, school_create

PASSWORD = "Kc-test-2026"
L = Division.Level


@dataclass
class World:
    county: Division
    county2: Division
    township_a: Division
    township_b: Division
    village_a: Division
    village_b: Division
    school_a: School
    school_b: School
    school_c2: School
    class_a: object
    class_b: object
    children: dict = field(default_factory=dict)
    users: dict = field(default_factory=dict)


def make_user(username: str, role: str, **node) -> User:
    user = User(username=username, role=role, full_name=username, **node)
    user.set_password(PASSWORD)
    user.save()
    return user


def build_world() -> World:
    sys = None
    chongqing = division_create(actor=sys, code="500000", name="重庆市", level=L.PROVINCE)
    counties = division_create(actor=sys, code="500200", name="县", level=L.CITY, parent=chongqing)
    county = division_create(actor=sys, code="500229", name="城口县", level=L.COUNTY, parent=counties)
    county2 = division_create(actor=sys, code="500230", name="丰都县", level=L.COUNTY, parent=counties)
    ta = division_create(actor=sys, code="500229101", name="巴山镇", level=L.TOWNSHIP, parent=county)
    tb = division_create(actor=sys, code="500229102", name="坪坝镇", level=L.TOWNSHIP, parent=county)
    t2 = division_create(actor=sys, code="500230101", name="三合街道", level=L.TOWNSHIP, parent=county2)
    va = division_create(actor=sys, code="500229101001", name="巴山村", level=L.VILLAGE, parent=ta)
    vb = division_create(actor=sys, code="500229102001", name="坪坝村", level=L.VILLAGE, parent=tb)
    v2 = division_create(actor=sys, code="500230101001", name="三合社区", level=L.VILLAGE, parent=t2)
    sa = school_create(actor=sys, code="5002290001", name="巴山镇中心小学", type=School.Type.PRIMARY, township=ta, village=va)
    sb = school_create(actor=sys, code="5002290002", name="坪坝镇中心小学", type=School.Type.PRIMARY, township=tb, village=vb)
    sc2 = school_create(actor=sys, code="5002300001", name="丰都县三合小学", type=School.Type.PRIMARY, township=t2, village=v2)
    ca = class_create(actor=sys, school=sa, grade=3, number=1)
    cb = class_create(actor=sys, school=sb, grade=3, number=1)
    c2 = class_create(actor=sys, school=sc2, grade=3, number=1)
    w = World(county, county2, ta, tb, va, vb, sa, sb, sc2, ca, cb)

    birth = dt.date(2017, 3, 5)
    start = dt.date(2023, 9, 1)

    def child(key, name, region, village, school, klass, order, source=Source.REGISTRY, gender="M"):
        c = child_create(
            actor=sys,
            name=name,
            gender=gender,
            birth_date=birth,
            id_number=compose_id_number(region, birth, order),
            household_division=village,
            household_address="一组",
            source=source,
            reference="world",
        )
        guardian_save(actor=sys, child=c, name=name[0] + "建国", relation="father", phone="13800000000")
        if school is not None:
            enrolment_create(
                actor=sys, child=c, school=school, grade=3, school_class=klass, entry_date=start, national_student_number="G" + c.id_number
            )
        w.children[key] = c
        return c

    child("a", "张小明", "500229", va, sa, ca, 11, source=Source.HOUSEHOLD)
    child("b", "李小红", "500229", vb, sb, cb, 12, source=Source.DISABILITY, gender="F")
    child("x", "王晓东", "500229", va, sb, cb, 13)  # lives in A, studies in B
    child("c2", "赵小刚", "500230", v2, sc2, c2, 15, source=Source.HOUSEHOLD)
    child("out", "陈小芳", "500229", vb, None, None, 16, source=Source.HOUSEHOLD, gender="F")  # never enrolled
    membership_add(actor=sys, child=w.children["b"], group="disabled", source=Source.DISABILITY, recorded_on=dt.date(2024, 1, 1))

    w.users = {
        "county_admin": make_user("county_admin", Role.COUNTY_ADMIN, division=county),
        "county_staff": make_user("county_staff", Role.COUNTY_STAFF, division=county),
        "township_a": make_user("township_a", Role.TOWNSHIP_STAFF, division=ta),
        "township_b": make_user("township_b", Role.TOWNSHIP_STAFF, division=tb),
        "school_a": make_user("school_a", Role.SCHOOL_ADMIN, school=sa),
        "teacher_a": make_user("teacher_a", Role.CLASS_TEACHER, school_class=ca),
        "liaison_police": make_user("liaison_police", Role.DEPARTMENT_LIAISON, division=county, department=Department.POLICE),
        "supervisor": make_user("supervisor", Role.SUPERVISOR, division=county),
        "county2_admin": make_user("county2_admin", Role.COUNTY_ADMIN, division=county2),
    }
    return w
