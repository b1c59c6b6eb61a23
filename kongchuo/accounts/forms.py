from django import forms

from kongchuo.accounts.models import Department, Role, User
from kongchuo.accounts.scoping import classes_for, divisions_for, schools_for
from kongchuo.places.models import Division


class UserForm(forms.Form):
    """One form for create and edit; the node list holds only nodes inside the admin's subtree."""

    username = forms.CharField(label="用户名", max_length=150)
    full_name = forms.CharField(label="姓名", max_length=40, required=False)
    phone = forms.CharField(label="手机", max_length=30, required=False)
    role = forms.ChoiceField(label="角色", choices=Role.choices)
    node = forms.ChoiceField(label="绑定节点")
    department = forms.ChoiceField(label="所属部门（部门联络员）", required=False, choices=[("", "—"), *Department.choices])
    password = forms.CharField(label="密码", required=False, widget=forms.PasswordInput, help_text="新建时必填；编辑时留空表示不修改")
    is_active = forms.BooleanField(label="启用", required=False, initial=True)

    def __init__(self, *args, admin: User, editing: User | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.admin, self.editing = admin, editing
        divisions = divisions_for(admin).filter(level__lte=Division.Level.TOWNSHIP)
        self.nodes = {f"d{d.pk}": d for d in divisions}
        self.nodes.update({f"s{s.pk}": s for s in schools_for(admin)})
        self.nodes.update({f"c{c.pk}": c for c in classes_for(admin)})
        self.fields["node"].choices = [
            ("区划", [(k, f"{n.name}（{n.get_level_display()}）") for k, n in self.nodes.items() if k[0] == "d"]),
            ("学校", [(k, n.name) for k, n in self.nodes.items() if k[0] == "s"]),
            ("班级", [(k, f"{n.school.name} {n}") for k, n in self.nodes.items() if k[0] == "c"]),
        ]
        if editing is not None:
            self.fields["username"].disabled = True

    def clean_node(self):
        return self.nodes[self.cleaned_data["node"]]

    def clean(self):
        data = super().clean()
        if self.editing is None and not data.get("password"):
            self.add_error("password", "新建用户须设置初始密码")
        return data

    @staticmethod
    def initial_for(user: User) -> dict:
        node = user.school_class or user.school or user.division
        key = ("c" if user.school_class_id else "s" if user.school_id else "d") + str(node.pk) if node else ""
        return {
            "username": user.username,
            "full_name": user.full_name,
            "phone": user.phone,
            "role": user.role,
            "node": key,
            "department": user.department,
            "is_active": user.is_active,
        }
