from tests.unit.kubernetes.support import fake, kube  # noqa: F401 - fixtures
