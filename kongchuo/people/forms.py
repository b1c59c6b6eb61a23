from django import forms

from kongchuo.people.models import Child, Guardian, SpecialGroup
from kongchuo.people.services import EDITABLE_FIELDS
from kongchuo.places.models import GRADE_CHOICES


class ChildFilterForm(forms.Form):
    q = forms.CharField(label="搜索", required=False, widget=forms.TextInput(attrs={"placeholder": "姓名 / 拼音首字母 / 身份证号"}))
    township = forms.TypedChoiceField(label="乡镇", required=False, coerce=int, empty_value=None)
    school = forms.TypedChoiceField(label="学校", required=False, coerce=int, empty_value=None)
    grade = forms.TypedChoiceField(label="年级", required=False, coerce=int, empty_value=None, choices=[("", "全部年级"), *GRADE_CHOICES])
    group = forms.ChoiceField(label="重点群体", required=False, choices=[("", "全部群体"), *SpecialGroup.choices])
    id_status = forms.ChoiceField(label="证件号", required=False, choices=[("", "全部证件号状态"), *Child.IdStatus.choices])

    def __init__(self, *args, townships, schools, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["township"].choices = [("", "全部乡镇"), *((t.pk, t.name) for t in townships)]
        self.fields["school"].choices = [("", "全部学校"), *((s.pk, s.name) for s in schools)]


class ChildEditForm(forms.ModelForm):
    # Not a model field of the form: the model's 18-character limit and uniqueness check would refuse
    # "500229 20170305 0112" before child_update could normalise it (and explain a clash in Chinese).
    id_number = forms.CharField(label="居民身份证号", max_length=40, required=False)
    field_order = [*EDITABLE_FIELDS[:3], "id_number", *EDITABLE_FIELDS[3:]]

    class Meta:
        model = Child
        fields = EDITABLE_FIELDS
        widgets = {"birth_date": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")}

    def __init__(self, *args, divisions, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["household_division"].queryset = divisions
        self.fields["current_division"].queryset = divisions
        self.fields["household_division"].required = True


class GuardianForm(forms.ModelForm):
    class Meta:
        model = Guardian
        fields = ["name", "relation", "phone", "order"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["relation"].choices = [("", "与儿童关系"), *Guardian.Relation.choices]
