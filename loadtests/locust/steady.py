"""A steady number of clients for the whole run (-u users, -t seconds)."""

from __future__ import annotations

from locust import task
from service_users import ServiceUser


class SteadyUser(ServiceUser):
    """Requests back to back for the whole run."""

    abstract = True

    @task
    def request(self) -> None:
        self.call()
