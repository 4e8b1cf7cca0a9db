"""An offline test PKI, built with `cryptography`: a root CA, EC P-256
signer certificates and an optional timestamping (TSA) certificate.

For demonstrations and tests only. Production credentials come from a real
CA (or the Belgian eID / an HSM through pyHanko's PKCS#11 signer).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

PKCS12_KDF_ROUNDS = 20_000


@dataclass(frozen=True)
class Issued:
    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

    @property
    def certificate_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def key_pem(self, passphrase: bytes) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(passphrase),
        )


def _name(common_name: str, organisation: str, title: str = "") -> x509.Name:
    attributes = [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "BE"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation[:64] or "CPAS"),
        x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64] or "-"),
    ]
    if title:
        attributes.append(x509.NameAttribute(NameOID.TITLE, title[:64]))
    return x509.Name(attributes)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def _key_usage(*, signing: bool, ca: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=signing,
        content_commitment=signing and not ca,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def make_root_ca(organisation: str, *, common_name: str = "", days: int = 3650) -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(common_name or f"{organisation} — AC de démonstration", organisation)
    now = _now()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(signing=False, ca=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Issued(certificate, key)


def _issue(
    ca: Issued,
    subject: x509.Name,
    *,
    days: int,
    key_usage: x509.KeyUsage,
    extended: list[x509.ObjectIdentifier] | None = None,
    rsa_bits: int = 0,
) -> Issued:
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey = (
        rsa.generate_private_key(public_exponent=65537, key_size=rsa_bits)
        if rsa_bits
        else ec.generate_private_key(ec.SECP256R1())
    )
    now = _now()
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(min(now + dt.timedelta(days=days), ca.certificate.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(key_usage, critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
            critical=False,
        )
    )
    if extended:
        builder = builder.add_extension(x509.ExtendedKeyUsage(extended), critical=True)
    return Issued(builder.sign(ca.key, hashes.SHA256()), key)


def issue_signer(
    ca: Issued, *, common_name: str, organisation: str, title: str = "", days: int = 730
) -> Issued:
    """A signer certificate: digitalSignature + nonRepudiation."""
    return _issue(
        ca,
        _name(common_name, organisation, title),
        days=days,
        key_usage=_key_usage(signing=True, ca=False),
    )


def issue_tsa(ca: Issued, *, organisation: str, days: int = 3650) -> Issued:
    """A timestamping unit certificate (critical EKU timeStamping), RSA-3072:
    pyHanko's in-process DummyTimeStamper signs with RSA only."""
    return _issue(
        ca,
        _name(f"{organisation} — horodatage de démonstration", organisation),
        days=days,
        key_usage=_key_usage(signing=True, ca=False),
        extended=[ExtendedKeyUsageOID.TIME_STAMPING],
        rsa_bits=3072,
    )


def to_pkcs12(issued: Issued, chain: list[x509.Certificate], passphrase: bytes) -> bytes:
    """PKCS#12 with PBES2 (PBKDF2-SHA256, AES-256-CBC) and a SHA-256 MAC."""
    return pkcs12_from_parts(issued.key, issued.certificate, chain, passphrase)


def pkcs12_from_parts(
    key: pkcs12.PKCS12PrivateKeyTypes,
    certificate: x509.Certificate,
    chain: list[x509.Certificate],
    passphrase: bytes,
) -> bytes:
    encryption = (
        serialization.PrivateFormat.PKCS12.encryption_builder()
        .kdf_rounds(PKCS12_KDF_ROUNDS)
        .key_cert_algorithm(pkcs12.PBES.PBESv2SHA256AndAES256CBC)
        .hmac_hash(hashes.SHA256())
        .build(passphrase)
    )
    return pkcs12.serialize_key_and_certificates(
        b"signature", key, certificate, chain or None, encryption
    )


def load_issued(certificate_pem: bytes, key_pem: bytes, passphrase: bytes) -> Issued:
    certificate = x509.load_pem_x509_certificate(certificate_pem)
    key = serialization.load_pem_private_key(key_pem, passphrase)
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise ValueError("The demo CA key must be an EC or RSA key.")
    return Issued(certificate, key)
