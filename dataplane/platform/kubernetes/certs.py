"""The webhook's serving certificate: a self-signed CA and a server certificate, kept in a Secret.

As Knative's webhook does, without cert-manager or another operator: the first
controller replica to start finds the Secret empty (or its certificate expiring,
or made for another Service name), generates an ECDSA P-256 CA and a server
certificate for ``<service>.<namespace>.svc`` signed by it, and writes them
(``ca-cert.pem``, ``server-cert.pem``, ``server-key.pem``); a replica that loses
that race (409) reads the winner's. The CA goes into the ``caBundle`` of every
webhook of the named webhook configurations, which is what the API server
verifies the webhook's TLS with.
"""

from __future__ import annotations

import base64
import datetime
import logging
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from dataplane.platform.kubernetes import resources as r
from dataplane.platform.kubernetes.client import ApiError, KubeClient

log = logging.getLogger("dataplane.kubernetes")
CA_CERT, SERVER_CERT, SERVER_KEY = "ca-cert.pem", "server-cert.pem", "server-key.pem"
VALIDITY = datetime.timedelta(days=365)
RENEW_BEFORE = datetime.timedelta(days=30)
"""A certificate with less than this left is replaced."""


@dataclass(frozen=True)
class Bundle:
    """PEM bytes of the CA certificate, the server certificate and its key."""

    ca: bytes
    cert: bytes
    key: bytes

    def secret_data(self) -> dict[str, str]:
        return {k: base64.b64encode(v).decode() for k, v in ((CA_CERT, self.ca), (SERVER_CERT, self.cert), (SERVER_KEY, self.key))}

    @classmethod
    def from_secret(cls, secret: dict | None) -> Bundle | None:
        data = (secret or {}).get("data") or {}
        try:
            return cls(*(base64.b64decode(data[k], validate=True) for k in (CA_CERT, SERVER_CERT, SERVER_KEY)))
        except (KeyError, TypeError, ValueError):
            return None


def dns_names(service: str, namespace: str) -> list[str]:
    """The names a client may reach ``service`` by; the API server uses ``<service>.<namespace>.svc``."""
    return [service, f"{service}.{namespace}", f"{service}.{namespace}.svc", f"{service}.{namespace}.svc.cluster.local"]


def generate(service: str, namespace: str, now: datetime.datetime | None = None) -> Bundle:
    """A new CA and a server certificate for ``service`` in ``namespace`` signed by it."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    start, end = now - datetime.timedelta(minutes=5), now + VALIDITY  # a little slack for clock skew
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "dataplane"),
                         x509.NameAttribute(NameOID.COMMON_NAME, f"{service}.{namespace} webhook CA")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    key = ec.generate_private_key(ec.SECP256R1())
    names = dns_names(service, namespace)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[2])]))
        .issuer_name(ca_name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    pem = serialization.Encoding.PEM
    return Bundle(
        ca.public_bytes(pem),
        cert.public_bytes(pem),
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    )


def still_good(bundle: Bundle, service: str, namespace: str, now: datetime.datetime | None = None) -> bool:
    """Whether ``bundle`` serves ``service`` for at least ``RENEW_BEFORE`` more, signed by its own CA."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    try:
        ca = x509.load_pem_x509_certificate(bundle.ca)
        cert = x509.load_pem_x509_certificate(bundle.cert)
        key = serialization.load_pem_private_key(bundle.key, password=None)
        sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, x509.ExtensionNotFound, InvalidSignature):
        return False
    if key.public_key().public_numbers() != cert.public_key().public_numbers():
        return False
    expires = min(ca.not_valid_after_utc, cert.not_valid_after_utc)
    return f"{service}.{namespace}.svc" in sans and expires - now > RENEW_BEFORE


class WebhookCertificates:
    """Keeps the Secret holding the webhook's certificate valid and the webhook configurations' caBundle in step."""

    def __init__(self, client: KubeClient, namespace: str, secret: str, service: str, configurations: list[tuple[r.Resource, str]]):
        self.client = client
        self.namespace = namespace
        self.secret = secret
        self.service = service
        self.configurations = configurations

    async def ensure(self) -> Bundle:
        """The current good bundle, generating and storing a new one when the Secret holds none."""
        for _ in range(3):
            try:
                secret = await self.client.get(r.SECRET.path(self.namespace, self.secret))
            except ApiError as exc:
                if exc.status != 404:
                    raise
                secret = None
            bundle = Bundle.from_secret(secret)
            if bundle is not None and still_good(bundle, self.service, self.namespace):
                return bundle
            bundle = generate(self.service, self.namespace)
            try:
                await self._store(secret, bundle)
            except ApiError as exc:
                if exc.status != 409:  # another replica wrote first: use what it wrote
                    raise
                continue
            log.info("generated the webhook certificate for %s.%s.svc into Secret %s", self.service, self.namespace, self.secret)
            return bundle
        raise RuntimeError(f"Secret {self.namespace}/{self.secret} keeps changing under us")

    async def _store(self, secret: dict | None, bundle: Bundle) -> None:
        if secret is None:
            body = {"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                    "metadata": {"name": self.secret, "namespace": self.namespace}, "data": bundle.secret_data()}
            await self.client.request("POST", r.SECRET.path(self.namespace), body=body)
        else:
            secret = {**secret, "data": bundle.secret_data()}  # its resourceVersion makes a race a 409
            await self.client.request("PUT", r.SECRET.path(self.namespace, self.secret), body=secret)

    async def inject(self, bundle: Bundle) -> None:
        """Write the CA into every webhook's ``clientConfig.caBundle`` of the configurations, where it differs."""
        ca = base64.b64encode(bundle.ca).decode()
        for res, name in self.configurations:
            try:
                config = await self.client.get(res.path(None, name))
            except ApiError as exc:
                if exc.status == 404:
                    log.warning("%s %s does not exist: nothing calls the webhook", res.kind, name)
                    continue
                raise
            hooks = config.get("webhooks") or []
            if all((h.get("clientConfig") or {}).get("caBundle") == ca for h in hooks):
                continue
            for hook in hooks:
                hook.setdefault("clientConfig", {})["caBundle"] = ca
            await self.client.request("PUT", res.path(None, name), body=config)
            log.info("wrote the webhook CA into %s %s", res.kind, name)
