from django.contrib.auth import views as auth_views
from django.urls import path

from kongchuo.accounts import views as accounts
from kongchuo.audit import views as audit
from kongchuo.cases import views as cases
from kongchuo.enrolments import views as enrolments
from kongchuo.imports import views as imports
from kongchuo.matching import views as matching
from kongchuo.people import views as people
from kongchuo.places import views as places
from kongchuo.web import views as web

urlpatterns = [
    path("", web.home, name="home"),
    path("login/", auth_views.LoginView.as_view(template_name="accounts/login.html", redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "password/", auth_views.PasswordChangeView.as_view(template_name="accounts/password.html", success_url="/"), name="password_change"
    ),
    path("children/", people.child_list, name="child_list"),
    path("children/export.xlsx", people.child_export, name="child_export"),
    path("children/<int:child_id>/", people.child_detail, name="child_detail"),
    path("children/<int:child_id>/edit/", people.child_edit, name="child_edit"),
    path("children/<int:child_id>/guardians/add/", people.guardian_add, name="guardian_add"),
    path("children/<int:child_id>/guardians/<int:guardian_id>/delete/", people.guardian_remove, name="guardian_remove"),
    path("enrolments/<int:enrolment_id>/transition/", enrolments.enrolment_transition_view, name="enrolment_transition"),
    path("schools/", places.school_list, name="school_list"),
    path("schools/<int:school_id>/", places.school_detail, name="school_detail"),
    path("imports/", imports.import_list, name="import_list"),
    path("imports/<int:batch_id>/", imports.import_detail, name="import_detail"),
    path("imports/<int:batch_id>/mapping/", imports.import_mapping, name="import_mapping"),
    path("imports/<int:batch_id>/apply/", imports.import_apply, name="import_apply"),
    path("imports/<int:batch_id>/errors.xlsx", imports.import_errors, name="import_errors"),
    path("conflicts/", imports.conflict_list, name="conflict_list"),
    path("matching/", matching.match_home, name="match_home"),
    path("matching/run/", matching.match_start, name="match_start"),
    path("matching/runs/<int:run_id>/", matching.run_detail, name="run_detail"),
    path("matching/findings/", matching.finding_list, name="finding_list"),
    path("matching/findings/export.csv", matching.findings_export, name="findings_export"),
    path("matching/findings/<int:finding_id>/", matching.finding_detail, name="finding_detail"),
    path("matching/review/", matching.review_list, name="review_list"),
    path("matching/review/<int:candidate_id>/", matching.review_decide, name="review_decide"),
    path("cases/", cases.case_list, name="case_list"),
    path("cases/todo/", cases.case_todo, name="case_todo"),
    path("cases/rules/", cases.case_rules_edit, name="case_rules"),
    path("cases/export.xlsx", cases.ledger_export, name="ledger_export"),
    path("cases/<int:case_id>/", cases.case_detail, name="case_detail"),
    path("cases/<int:case_id>/edit/", cases.case_edit, name="case_edit"),
    path("cases/<int:case_id>/persuasions/new/", cases.persuasion_new, name="persuasion_new"),
    path("cases/<int:case_id>/move/<str:action>/", cases.case_move, name="case_move"),
    path("cases/<int:case_id>/documents/new/", cases.document_new, name="document_new"),
    path("cases/<int:case_id>/documents/<int:document_id>/", cases.document_download, name="document_download"),
    path("cases/<int:case_id>/attachments/<int:attachment_id>/", cases.attachment_download, name="attachment_download"),
    path("children/<int:child_id>/open-case/", cases.case_open_view, name="case_open"),
    path("home-teaching/", cases.home_teaching_list, name="home_teaching_list"),
    path("home-teaching/<int:plan_id>/", cases.home_teaching_detail, name="home_teaching_detail"),
    path("home-teaching/<int:plan_id>/edit/", cases.home_teaching_plan_edit, name="home_teaching_plan_edit"),
    path("home-teaching/<int:plan_id>/sessions/new/", cases.home_teaching_session_new, name="home_teaching_session_new"),
    path("home-teaching/<int:plan_id>/contacts/new/", cases.home_teaching_contact_new, name="home_teaching_contact_new"),
    path("home-teaching/<int:plan_id>/files/<int:attachment_id>/", cases.home_teaching_file, name="home_teaching_file"),
    path("children/<int:child_id>/home-teaching/new/", cases.home_teaching_plan_new, name="home_teaching_plan_new"),
    path("children/<int:child_id>/support/", cases.support_measures, name="support_measures"),
    path("children/<int:child_id>/support/<int:measure_id>/end/", cases.support_measure_end, name="support_measure_end"),
    path("notifications/", cases.notification_list, name="notification_list"),
    path("notifications/read-all/", cases.notification_read_all, name="notification_read_all"),
    path("notifications/<int:notification_id>/read/", cases.notification_read, name="notification_read"),
    path("audit/", audit.audit_list, name="audit_list"),
    path("users/", accounts.user_list, name="user_list"),
    path("users/new/", accounts.user_create_view, name="user_create"),
    path("users/<int:user_id>/", accounts.user_edit_view, name="user_edit"),
]
