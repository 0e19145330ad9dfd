"""Where each kind lives on the API server: group, version, plural, and its URL paths."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from dataplane.api import keys


@dataclass(frozen=True)
class Resource:
    """One REST resource of the API server."""

    kind: str
    group: str
    """API group; empty for the core group (``/api/v1``)."""
    version: str
    plural: str
    namespaced: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        """``plural.group`` as the API server names the resource in its messages."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def path(self, namespace: str | None = None, name: str | None = None, subresource: str | None = None) -> str:
        """The collection, object or subresource URL path; no namespace means across all namespaces."""
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{quote(namespace, safe='')}"
        base += f"/{self.plural}"
        if name is not None:
            base += f"/{quote(name, safe='')}"
            if subresource:
                base += f"/{subresource}"
        return base


SERVICE = Resource(keys.SERVICE, keys.GROUP, "v1", "services")
CONFIGURATION = Resource(keys.CONFIGURATION, keys.GROUP, "v1", "configurations")
REVISION = Resource(keys.REVISION, keys.GROUP, "v1", "revisions")
ROUTE = Resource(keys.ROUTE, keys.GROUP, "v1", "routes")
CONFIGMAP = Resource("ConfigMap", "", "v1", "configmaps")
DEPLOYMENT = Resource("Deployment", "apps", "v1", "deployments")
POD = Resource("Pod", "", "v1", "pods")
KUBE_SERVICE = Resource("Service", "", "v1", "services")
ENDPOINT_SLICE = Resource("EndpointSlice", "discovery.k8s.io", "v1", "endpointslices")
HTTP_ROUTE = Resource("HTTPRoute", "gateway.networking.k8s.io", "v1", "httproutes")
GATEWAY = Resource("Gateway", "gateway.networking.k8s.io", "v1", "gateways")
# v1beta1: the version every Gateway API release since 0.6 serves
REFERENCE_GRANT = Resource("ReferenceGrant", "gateway.networking.k8s.io", "v1beta1", "referencegrants")
LEASE = Resource("Lease", "coordination.k8s.io", "v1", "leases")

SERVING = {r.kind: r for r in (SERVICE, CONFIGURATION, REVISION, ROUTE)}
"""The store's kinds in the serving.knative.dev group, by kind."""

SECRET = Resource("Secret", "", "v1", "secrets")
EVENT = Resource("Event", "", "v1", "events")
MUTATING_WEBHOOK = Resource("MutatingWebhookConfiguration", "admissionregistration.k8s.io", "v1",
                            "mutatingwebhookconfigurations", namespaced=False)
VALIDATING_WEBHOOK = Resource("ValidatingWebhookConfiguration", "admissionregistration.k8s.io", "v1",
                              "validatingwebhookconfigurations", namespaced=False)
