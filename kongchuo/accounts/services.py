"""Creating and changing user accounts (county admins only, within their subtree)."""

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction

from kongchuo.accounts.models import Role, User
from kongchuo.audit.services import audit_record, chain_for_user
from kongchuo.core.services import snapshot

USER_FIELDS = ["username", "full_name", "phone", "role", "division", "school", "school_class", "department", "is_active"]
DIVISION_ROLES = {Role.COUNTY_ADMIN, Role.COUNTY_STAFF, Role.TOWNSHIP_STAFF, Role.DEPARTMENT_LIAISON, Role.SUPERVISOR}


def _bind(user: User, node) -> None:
    """Attach the one node the role needs; the database constraint double-checks."""
    from kongchuo.places.models import Division, School, SchoolClass

    user.division = user.school = user.school_class = None
    expected = Division if user.role in DIVISION_ROLES else School if user.role == Role.SCHOOL_ADMIN else SchoolClass
    if not isinstance(node, expected):
        raise ValidationError({"node": f"“{Role(user.role).label}”须绑定到{expected._meta.verbose_name}"})
    if isinstance(node, Division):
        user.division = node
    elif isinstance(node, School):
        user.school = node
    else:
        user.school_class = node


@transaction.atomic
def user_create(
    *, actor: User, username: str, password: str, role: str, node, full_name: str = "", phone: str = "", department: str = ""
) -> User:
    if User.objects.filter(username=username).exists():
        raise ValidationError({"username": "该用户名已被使用"})
    user = User(username=username, role=role, full_name=full_name, phone=phone, department=department)
    _bind(user, node)
    validate_password(password, user)
    user.set_password(password)
    user.full_clean(exclude=["password"])
    user.save()
    audit_record(
        actor=actor,
        action="create",
        obj=user,
        chain=chain_for_user(actor),
        summary=f"新增用户 {username}（{user.get_role_display()}）",
        after=snapshot(user, USER_FIELDS),
    )
    return user


@transaction.atomic
def user_update(*, actor: User, user: User, node=None, password: str = "", **changes) -> User:
    before = snapshot(user, USER_FIELDS)
    for field, value in changes.items():
        if field not in USER_FIELDS:
            raise ValueError(f"user_update does not change {field}")
        setattr(user, field, value)
    if node is not None:
        _bind(user, node)
    if password:
        validate_password(password, user)
        user.set_password(password)
    user.full_clean(exclude=["password"])
    user.save()
    after = snapshot(user, USER_FIELDS)
    changed = [f for f in USER_FIELDS if before[f] != after[f]]
    audit_record(
        actor=actor,
        action="update",
        obj=user,
        chain=chain_for_user(actor),
        summary=f"修改用户 {user.username}" + ("（重置密码）" if password else ""),
        before={f: before[f] for f in changed},
        after={f: after[f] for f in changed},
    )
    return user
