from apscheduler.schedulers.background import BackgroundScheduler

from core import scheduler
from core.extensions import db
from core.mail import send_mail
from tests.accounts.helpers import emails_to


def test_outbox_delivery_is_a_scheduled_job_that_sends_waiting_mail(app, unscoped):
    [job] = [job for job in scheduler.jobs() if job.id == "core.mail.deliver_pending"]
    with unscoped():
        send_mail("late@example.com", "Queued", "Body")
        db.session.commit()
    assert scheduler.run_job(app, job) == 1
    assert emails_to(unscoped, "late@example.com")[0].sent_at is not None
    assert scheduler.run_job(app, job) == 0


def test_every_registered_job_is_configured_once(app):
    configured = scheduler.configure(app, BackgroundScheduler(timezone="UTC"))
    assert sorted(job.id for job in configured.get_jobs()) == sorted(
        job.id for job in scheduler.jobs()
    )
