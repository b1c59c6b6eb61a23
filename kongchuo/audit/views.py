from django.shortcuts import render

from kongchuo.accounts.scoping import audit_for
from kongchuo.audit.models import AuditEntry
from kongchuo.core.paging import paginate


def audit_list(request):
    qs = audit_for(request.user)
    action = request.GET.get("action", "")
    if action:
        qs = qs.filter(action=action)
    actor = request.GET.get("actor", "").strip()
    if actor:
        qs = qs.filter(actor_name=actor)
    context = {"action": action, "actor": actor, "actions": AuditEntry.Action.choices, **paginate(request, qs.order_by("-at", "-id"))}
    return render(request, "audit/audit_list.html", context)
