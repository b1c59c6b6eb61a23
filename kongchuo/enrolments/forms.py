from django import forms

from kongchuo.enrolments.services import allowed_next


class TransitionForm(forms.Form):
    to_status = forms.ChoiceField(label="变更为")
    effective_date = forms.DateField(label="生效日期", widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"))
    reason = forms.CharField(label="原因/依据", required=False, max_length=200, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, current_status: str, **kwargs):
        super().__init__(*args, **kwargs)
        # Every status is offered to the service, which explains why an illegal one is refused;
        # the legal ones come first.
        from kongchuo.enrolments.models import Status

        legal = allowed_next(current_status)
        rest = [(s, f"{s.label}（不可办理）") for s in Status if s not in dict(legal)]
        self.fields["to_status"].choices = legal + rest
