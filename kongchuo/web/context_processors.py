from kongchuo.accounts.scoping import Perm, has_perm


def shell(request):
    """The role-aware left menu and the unit shown in the top bar."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    from kongchuo.imports.services import allowed_sources

    menu = [("home", "工作台"), ("child_list", "学生档案"), ("school_list", "学校")]
    if allowed_sources(user):
        menu.append(("import_list", "数据导入"))
    menu.append(("match_home", "数据比对"))
    menu.append(("case_list", "控辍台账"))
    menu.append(("home_teaching_list", "送教上门"))
    menu.append(("conflict_list", "身份信息冲突"))
    if has_perm(user, Perm.VIEW_AUDIT):
        menu.append(("audit_list", "审计日志"))
    if has_perm(user, Perm.MANAGE_USERS):
        menu.append(("user_list", "用户与角色"))
        menu.append(("case_rules", "台账规则"))
    from kongchuo.cases.selectors import unread_notification_count

    return {
        "menu": menu,
        "role_label": user.get_role_display() if user.role else "未分配角色",
        "unread_notifications": unread_notification_count(user),
    }
