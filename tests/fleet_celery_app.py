"""The Celery application of the multi-process campaign tests (``celery -A
tests.fleet_celery_app worker``): broker, queue and ledger come from the environment
the test sets (``FLEET_BROKER``, ``FLEET_QUEUE``, ``FLEET_LEDGER``); credentials from
``SINCH_APPLICATION_KEY``/``SECRET``/``SINCH_BASE_URL`` (the emulator's)."""

from __future__ import annotations

import os

from celery import Celery

from sinch_calling.campaign.celery import CampaignWorkers


def make_app(broker: str, queue: str) -> Celery:
    """One app per test: its own queue; late acks, one message at a time per worker."""
    app = Celery("sinch_calling_fleet_test", broker=broker)
    app.conf.update(task_default_queue=queue, worker_prefetch_multiplier=1,
                    task_acks_late=True, task_reject_on_worker_lost=True,
                    task_ignore_result=True, broker_connection_retry_on_startup=True,
                    worker_hijack_root_logger=False,
                    broker_transport_options={"visibility_timeout": 30})
    return app


app = make_app(os.environ.get("FLEET_BROKER", "redis://127.0.0.1:6379/0"),
               os.environ.get("FLEET_QUEUE", "sinch-fleet"))
fleet = CampaignWorkers(app, ledger=os.environ.get("FLEET_LEDGER", "postgresql:///test"),
                        queue=os.environ.get("FLEET_QUEUE"), poll=0.5)
