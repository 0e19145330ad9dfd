"""API group, kinds, and the label and annotation keys Knative Serving uses."""

from __future__ import annotations

GROUP = "serving.knative.dev"
API_VERSION = f"{GROUP}/v1"
API_VERSION_V1BETA1 = f"{GROUP}/v1beta1"
API_VERSION_V1ALPHA1 = f"{GROUP}/v1alpha1"

SERVICE = "Service"
CONFIGURATION = "Configuration"
REVISION = "Revision"
ROUTE = "Route"
KINDS = (SERVICE, CONFIGURATION, REVISION, ROUTE)

# labels set by the controllers
SERVICE_LABEL = f"{GROUP}/service"
SERVICE_UID_LABEL = f"{GROUP}/serviceUID"
CONFIGURATION_LABEL = f"{GROUP}/configuration"
CONFIGURATION_UID_LABEL = f"{GROUP}/configurationUID"
CONFIGURATION_GENERATION_LABEL = f"{GROUP}/configurationGeneration"
ROUTE_LABEL = f"{GROUP}/route"
REVISION_LABEL = f"{GROUP}/revision"
REVISION_UID_LABEL = f"{GROUP}/revisionUID"
ROUTING_STATE_LABEL = f"{GROUP}/routingState"

ROUTING_STATE_PENDING = "pending"
ROUTING_STATE_ACTIVE = "active"
ROUTING_STATE_RESERVE = "reserve"

# annotations
CREATOR_ANNOTATION = f"{GROUP}/creator"
UPDATER_ANNOTATION = f"{GROUP}/lastModifier"
ROUTES_ANNOTATION = f"{GROUP}/routes"
ROUTING_STATE_MODIFIED_ANNOTATION = f"{GROUP}/routingStateModified"
NO_GC_ANNOTATION = f"{GROUP}/no-gc"
ROLLOUT_DURATION_ANNOTATION = f"{GROUP}/rollout-duration"
PROGRESS_DEADLINE_ANNOTATION = f"{GROUP}/progress-deadline"
LAST_APPLIED_ANNOTATION = "kubectl.kubernetes.io/last-applied-configuration"

VISIBILITY_LABEL = "networking.knative.dev/visibility"
VISIBILITY_CLUSTER_LOCAL = "cluster-local"
CLUSTER_DOMAIN = "svc.cluster.local"

AUTOSCALING_GROUP = "autoscaling.knative.dev"
