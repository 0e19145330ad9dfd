"""The fields each kind accepts: one declarative table, read by :mod:`dataplane.api.strict`.

Knative's webhook decodes strictly, so a misspelt field is an error rather
than a silently ignored default. This table lists the known fields of
Service, Configuration, Revision and Route (v1, and the old v1alpha1 shapes),
the Kubernetes types embedded in them, and ConfigMap. Fields Kubernetes has
but Knative masks out (``pkg/apis/serving/fieldmask.go``) are listed as
disallowed, so the error says "must not set" instead of "unknown".

Pod fields that Knative opens behind a ``config-features`` flag and that the
Kubernetes backend passes through to the Deployment (affinity, nodeSelector,
tolerations, ...) are accepted, as the CRDs in ``deploy/crds`` accept them;
their Kubernetes-defined insides are not described here (:data:`OPEN`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

from . import keys


@dataclass(frozen=True)
class Open:
    """Anything: free-form maps (labels, quantities) and Kubernetes types taken whole."""


@dataclass(frozen=True)
class Leaf:
    """A scalar (or a list of scalars); its value is checked by validation, not here."""


@dataclass(frozen=True)
class ListOf:
    """A list whose items all follow ``item``."""

    item: Schema


@dataclass(frozen=True)
class Struct:
    """A mapping with a fixed set of fields.

    ``fields`` maps each accepted field to its schema; ``disallowed`` maps
    fields Kubernetes defines but Knative refuses to the reason shown.
    """

    fields: dict[str, Schema]
    disallowed: dict[str, str] = field(default_factory=dict)

    def extend(self, fields: dict[str, Schema] | None = None, disallowed: dict[str, str] | None = None,
               drop: tuple[str, ...] = ()) -> Struct:
        """A copy with more fields (or more disallowed ones), less ``drop``."""
        kept = {k: v for k, v in self.fields.items() if k not in drop}
        return Struct({**kept, **(fields or {})}, {**self.disallowed, **(disallowed or {})})


Schema = Union[Open, Leaf, ListOf, Struct]
OPEN = Open()
LEAF = Leaf()
KNATIVE = ""
"""The reason given for a Kubernetes field Knative masks out: none, as Knative gives none."""


def _knative_masks(*names: str) -> dict[str, str]:
    return dict.fromkeys(names, KNATIVE)


# --- Kubernetes metadata -------------------------------------------------------------------------

OWNER_REFERENCE = Struct(dict.fromkeys(("apiVersion", "kind", "name", "uid", "controller", "blockOwnerDeletion"), LEAF))
OBJECT_META = Struct({
    "name": LEAF, "generateName": LEAF, "namespace": LEAF,
    "labels": OPEN, "annotations": OPEN,
    "ownerReferences": ListOf(OWNER_REFERENCE), "finalizers": LEAF,
    # set by the API server: a `get -o yaml` output applied again carries them, and they are ignored
    "uid": LEAF, "resourceVersion": LEAF, "generation": LEAF, "creationTimestamp": LEAF,
    "deletionTimestamp": LEAF, "deletionGracePeriodSeconds": LEAF, "selfLink": LEAF, "managedFields": OPEN,
})
SERVER_METADATA = ("uid", "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp",
                   "deletionGracePeriodSeconds", "selfLink", "managedFields")
"""ObjectMeta fields only the API server writes; a submitted value is ignored."""

# --- Containers ------------------------------------------------------------------------------

_NAMED_REF = Struct({"name": LEAF, "optional": LEAF})
_KEY_REF = Struct({"name": LEAF, "key": LEAF, "optional": LEAF})
ENV_VAR = Struct({
    "name": LEAF, "value": LEAF,
    "valueFrom": Struct({
        "configMapKeyRef": _KEY_REF, "secretKeyRef": _KEY_REF,
        "fieldRef": Struct({"apiVersion": LEAF, "fieldPath": LEAF}),
        "resourceFieldRef": Struct({"containerName": LEAF, "resource": LEAF, "divisor": LEAF}),
    }),
})
ENV_FROM = Struct({"prefix": LEAF, "configMapRef": _NAMED_REF, "secretRef": _NAMED_REF})
CONTAINER_PORT = Struct({"name": LEAF, "containerPort": LEAF, "protocol": LEAF},
                        _knative_masks("hostIP", "hostPort"))
RESOURCES = Struct({"limits": OPEN, "requests": OPEN}, _knative_masks("claims"))
_HTTP_HEADER = Struct({"name": LEAF, "value": LEAF})
PROBE = Struct({
    "httpGet": Struct({"path": LEAF, "port": LEAF, "host": LEAF, "scheme": LEAF,
                       "httpHeaders": ListOf(_HTTP_HEADER)}),
    "tcpSocket": Struct({"port": LEAF, "host": LEAF}),
    "exec": Struct({"command": LEAF}),
    "grpc": Struct({"port": LEAF, "service": LEAF}),
    "initialDelaySeconds": LEAF, "timeoutSeconds": LEAF, "periodSeconds": LEAF,
    "successThreshold": LEAF, "failureThreshold": LEAF, "terminationGracePeriodSeconds": LEAF,
})
VOLUME_MOUNT = Struct({"name": LEAF, "mountPath": LEAF, "readOnly": LEAF, "subPath": LEAF, "subPathExpr": LEAF},
                      _knative_masks("mountPropagation", "recursiveReadOnly"))
CONTAINER_SECURITY_CONTEXT = Struct({
    "capabilities": Struct({"add": LEAF, "drop": LEAF}),
    "readOnlyRootFilesystem": LEAF, "runAsUser": LEAF, "runAsGroup": LEAF, "runAsNonRoot": LEAF,
    "allowPrivilegeEscalation": LEAF,
    "seccompProfile": Struct({"type": LEAF, "localhostProfile": LEAF}),
}, _knative_masks("privileged", "seLinuxOptions", "procMount", "windowsOptions", "appArmorProfile"))
CONTAINER = Struct({
    "name": LEAF, "image": LEAF, "command": LEAF, "args": LEAF, "workingDir": LEAF,
    "env": ListOf(ENV_VAR), "envFrom": ListOf(ENV_FROM), "ports": ListOf(CONTAINER_PORT),
    "resources": RESOURCES,
    "readinessProbe": PROBE, "livenessProbe": PROBE, "startupProbe": PROBE,
    "volumeMounts": ListOf(VOLUME_MOUNT), "imagePullPolicy": LEAF, "securityContext": CONTAINER_SECURITY_CONTEXT,
    "terminationMessagePath": LEAF, "terminationMessagePolicy": LEAF,
}, _knative_masks("lifecycle", "stdin", "stdinOnce", "tty", "volumeDevices", "resizePolicy", "restartPolicy"))

# --- Volumes ---------------------------------------------------------------------------------

_KEY_TO_PATH = Struct({"key": LEAF, "path": LEAF, "mode": LEAF})
_PROJECTED_REF = Struct({"name": LEAF, "items": ListOf(_KEY_TO_PATH), "optional": LEAF})
VOLUME = Struct({
    "name": LEAF,
    "secret": Struct({"secretName": LEAF, "items": ListOf(_KEY_TO_PATH), "defaultMode": LEAF, "optional": LEAF}),
    "configMap": _PROJECTED_REF.extend({"defaultMode": LEAF}),
    "projected": Struct({
        "sources": ListOf(Struct({
            "secret": _PROJECTED_REF, "configMap": _PROJECTED_REF,
            "serviceAccountToken": Struct({"audience": LEAF, "expirationSeconds": LEAF, "path": LEAF}),
        }, _knative_masks("downwardAPI", "clusterTrustBundle"))),
        "defaultMode": LEAF,
    }),
    "emptyDir": Struct({"medium": LEAF, "sizeLimit": LEAF}),
    # refused by validation with the feature they need, not here
    "persistentVolumeClaim": Struct({"claimName": LEAF, "readOnly": LEAF}),
    "hostPath": Struct({"path": LEAF, "type": LEAF}),
}, _knative_masks(
    "awsElasticBlockStore", "azureDisk", "azureFile", "cephfs", "cinder", "csi", "downwardAPI", "ephemeral", "fc",
    "flexVolume", "flocker", "gcePersistentDisk", "gitRepo", "glusterfs", "image", "iscsi", "nfs",
    "photonPersistentDisk", "portworxVolume", "quobyte", "rbd", "scaleIO", "storageos", "vsphereVolume",
))

# --- Pod and revision specs --------------------------------------------------------------------

POD_SECURITY_CONTEXT = Struct({
    "runAsUser": LEAF, "runAsGroup": LEAF, "runAsNonRoot": LEAF, "fsGroup": LEAF, "supplementalGroups": LEAF,
    "seccompProfile": Struct({"type": LEAF, "localhostProfile": LEAF}),
}, _knative_masks("seLinuxOptions", "windowsOptions", "sysctls", "fsGroupChangePolicy", "appArmorProfile",
                  "supplementalGroupsPolicy", "seLinuxChangePolicy"))
REVISION_SPEC = Struct({
    "containers": ListOf(CONTAINER),
    "initContainers": OPEN,  # refused by validation, naming the feature flag
    "volumes": ListOf(VOLUME),
    "serviceAccountName": LEAF, "imagePullSecrets": ListOf(Struct({"name": LEAF})),
    "enableServiceLinks": LEAF, "automountServiceAccountToken": LEAF,
    # Knative feature-flagged pod fields the Kubernetes backend passes through
    "nodeSelector": OPEN, "tolerations": OPEN, "affinity": OPEN, "topologySpreadConstraints": OPEN,
    "securityContext": POD_SECURITY_CONTEXT, "runtimeClassName": LEAF, "schedulerName": LEAF,
    "priorityClassName": LEAF, "dnsPolicy": LEAF, "dnsConfig": OPEN, "hostAliases": OPEN,
    # how requests reach the revision
    "containerConcurrency": LEAF, "timeoutSeconds": LEAF, "responseStartTimeoutSeconds": LEAF,
    "idleTimeoutSeconds": LEAF,
}, _knative_masks(
    "restartPolicy", "terminationGracePeriodSeconds", "activeDeadlineSeconds", "nodeName", "hostNetwork", "hostPID",
    "hostIPC", "hostUsers", "shareProcessNamespace", "hostname", "subdomain", "priority", "readinessGates",
    "ephemeralContainers", "preemptionPolicy", "overhead", "setHostnameAsFQDN", "os", "schedulingGates",
    "resourceClaims", "serviceAccount",
))
TEMPLATE = Struct({"metadata": OBJECT_META, "spec": REVISION_SPEC})
# url is status-only: validation refuses it in spec with that reason
TRAFFIC_TARGET = Struct(dict.fromkeys(
    ("tag", "revisionName", "configurationName", "latestRevision", "percent", "url"), LEAF))


def _kind(spec: Schema) -> Struct:
    return Struct({"apiVersion": LEAF, "kind": LEAF, "metadata": OBJECT_META, "spec": spec, "status": OPEN})


V1 = {
    keys.SERVICE: _kind(Struct({"template": TEMPLATE, "traffic": ListOf(TRAFFIC_TARGET)})),
    keys.CONFIGURATION: _kind(Struct({"template": TEMPLATE})),
    keys.REVISION: _kind(REVISION_SPEC),
    keys.ROUTE: _kind(Struct({"traffic": ListOf(TRAFFIC_TARGET)})),
}

# --- v1alpha1: the shapes convert.py maps to v1 -----------------------------------------------------

REVISION_SPEC_V1ALPHA1 = REVISION_SPEC.extend({
    "container": CONTAINER, "concurrencyModel": LEAF, "buildRef": OPEN, "generation": LEAF, "servingState": LEAF,
})
TEMPLATE_V1ALPHA1 = Struct({"metadata": OBJECT_META, "spec": REVISION_SPEC_V1ALPHA1})
CONFIGURATION_SPEC_V1ALPHA1 = Struct({
    "revisionTemplate": TEMPLATE_V1ALPHA1, "template": TEMPLATE_V1ALPHA1,
    "build": OPEN,  # refused by conversion
})
TRAFFIC_TARGET_V1ALPHA1 = TRAFFIC_TARGET.extend({"name": LEAF})
_MODE_CONFIGURATION = {"configuration": CONFIGURATION_SPEC_V1ALPHA1}
V1ALPHA1 = {
    keys.SERVICE: _kind(CONFIGURATION_SPEC_V1ALPHA1.extend({
        "runLatest": Struct(_MODE_CONFIGURATION),
        "pinned": Struct({"revisionName": LEAF, **_MODE_CONFIGURATION}),
        "release": Struct({"revisions": LEAF, "rolloutPercent": LEAF, **_MODE_CONFIGURATION}),
        "manual": OPEN,  # refused by conversion
        "traffic": ListOf(TRAFFIC_TARGET_V1ALPHA1),
    })),
    keys.CONFIGURATION: _kind(CONFIGURATION_SPEC_V1ALPHA1),
    keys.REVISION: _kind(REVISION_SPEC_V1ALPHA1),
    keys.ROUTE: _kind(Struct({"traffic": ListOf(TRAFFIC_TARGET_V1ALPHA1)})),
}

CONFIG_MAP = Struct({"apiVersion": LEAF, "kind": LEAF, "metadata": OBJECT_META, "data": OPEN}, {
    "binaryData": "binary data is not supported by the local control plane",
    "immutable": "immutable ConfigMaps are not supported by the local control plane",
})


def for_object(api_version: object, kind: object) -> Struct | None:
    """The schema of a ``serving.knative.dev`` object, or None for a version or kind this API does not serve."""
    table = V1ALPHA1 if api_version == keys.API_VERSION_V1ALPHA1 else V1
    if api_version not in (keys.API_VERSION, keys.API_VERSION_V1BETA1, keys.API_VERSION_V1ALPHA1):
        return None
    return table.get(kind)  # type: ignore[arg-type]
