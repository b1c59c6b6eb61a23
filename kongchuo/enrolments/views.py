from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils import timezone

from kongchuo.accounts.scoping import get_enrolment_for_write
from kongchuo.core.forms import apply_validation_error
from kongchuo.enrolments.forms import TransitionForm
from kongchuo.enrolments.services import enrolment_transition


def enrolment_transition_view(request, enrolment_id: int):
    enrolment = get_enrolment_for_write(request.user, enrolment_id)
    form = TransitionForm(request.POST or None, current_status=enrolment.status, initial={"effective_date": timezone.localdate()})
    if request.method == "POST" and form.is_valid():
        try:
            enrolment_transition(actor=request.user, enrolment=enrolment, **form.cleaned_data)
        except ValidationError as exc:
            apply_validation_error(form, exc)
        else:
            messages.success(request, "学籍变动已登记")
            return redirect("child_detail", child_id=enrolment.child_id)
    return render(request, "enrolments/transition.html", {"enrolment": enrolment, "child": enrolment.child, "form": form})
