//! Self-signed AS2 identities (an RSA 2048 key and a certificate for it, SHA-256),
//! as PEM: what `portcullis demo` makes on first start and what tests use. Real
//! partnerships use certificates the operator provides.

use openssl::asn1::Asn1Time;
use openssl::bn::{BigNum, MsbOption};
use openssl::error::ErrorStack;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Private};
use openssl::rsa::Rsa;
use openssl::x509::extension::{BasicConstraints, KeyUsage};
use openssl::x509::{X509, X509NameBuilder};

/// (certificate PEM, PKCS#8 private key PEM) for a new RSA key named `common_name`,
/// valid from a day ago (clock skew) for `days` days.
pub fn self_signed(common_name: &str, days: u32) -> Result<(String, String), ErrorStack> {
    self_signed_with(common_name, days, PKey::from_rsa(Rsa::generate(2048)?)?)
}

/// Like [`self_signed`], for a key the caller made (EC keys in tests).
pub fn self_signed_with(common_name: &str, days: u32, key: PKey<Private>) -> Result<(String, String), ErrorStack> {
    let mut name = X509NameBuilder::new()?;
    name.append_entry_by_text("CN", common_name)?;
    let name = name.build();
    let mut serial = BigNum::new()?;
    serial.rand(127, MsbOption::MAYBE_ZERO, false)?;
    let serial = serial.to_asn1_integer()?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let from = Asn1Time::from_unix(i64::try_from(now).unwrap_or(i64::MAX).saturating_sub(86_400))?;
    let until = Asn1Time::days_from_now(days)?;
    let mut builder = X509::builder()?;
    builder.set_version(2)?;
    builder.set_serial_number(&serial)?;
    builder.set_subject_name(&name)?;
    builder.set_issuer_name(&name)?;
    builder.set_pubkey(&key)?;
    builder.set_not_before(&from)?;
    builder.set_not_after(&until)?;
    builder.append_extension(BasicConstraints::new().build()?)?;
    builder.append_extension(KeyUsage::new().digital_signature().key_encipherment().build()?)?;
    builder.sign(&key, MessageDigest::sha256())?;
    let cert = String::from_utf8_lossy(&builder.build().to_pem()?).into_owned();
    let key = String::from_utf8_lossy(&key.private_key_to_pem_pkcs8()?).into_owned();
    Ok((cert, key))
}
