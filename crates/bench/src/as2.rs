//! A 1 GiB AS2 message into the DMZ, signed and encrypted, against the issue's
//! target: the DMZ's resident memory (VmRSS) grows by less than 128 MiB while it
//! receives, decrypts, verifies and commits the message.
//!
//! The message is made as another AS2 product would stream it, by the `openssl
//! cms` command (`-stream`: indefinite-length BER, the encrypted content in
//! segments): the payload entity is signed (detached, SHA-256, `multipart/signed`)
//! and that entity encrypted for our certificate (AES-256-CBC). curl POSTs it from
//! the file and asks for a signed synchronous MDN. The run checks that the MDN says
//! `processed` with the MIC of the signed entity, and that the inner's inbox gets
//! the payload whole. As a reference for speed: `openssl cms -decrypt` of the same
//! message (which holds it in memory).
//!
//! The size can be changed: `PORTCULLIS_BENCH_AS2_BYTES` (1073741824).

use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use base64::Engine as _;
use sha2::Digest;

use crate::partners::configs::{AS2_PARTNER, AS2_US};
use crate::partners::pair::Pair;
use crate::partners::rss::{PeakSampler, rss_kib};
use crate::peers::BoxError;
use crate::peers::process::{require, run};

const TARGET_GROWTH_MIB: f64 = 128.0;

/// Runs the case; returns a markdown table.
pub fn run_case() -> Result<String, BoxError> {
    require("openssl", "openssl")?;
    require("curl", "curl")?;
    let bytes = crate::mail::env_number("PORTCULLIS_BENCH_AS2_BYTES", 1 << 30)? as u64;
    let mut pair = Pair::start()?;
    pair.as2_ready.clone()?;
    let (message, mic) = make_message(&pair, bytes)?;
    let before = rss_kib(pair.dmz_pid())?;
    let sampler = PeakSampler::start(pair.dmz_pid());
    let start = Instant::now();
    let mdn = post(&message, pair.as2_port());
    let took = start.elapsed();
    let peak = sampler.finish();
    let mdn = mdn?;
    check_mdn(&mdn, &mic)?;
    pair.settle(1, bytes)?;
    let reference = openssl_decrypt(&pair, &message)?;
    let growth = peak.saturating_sub(before) as f64 / 1024.0;
    let verdict = if growth < TARGET_GROWTH_MIB { "met" } else { "**missed**" };
    let mib = bytes as f64 / f64::from(1 << 20);
    Ok(format!(
        "| work | portcullis | reference / target |\n|---|---:|---|\n\
         | AS2, {mib:.0} MiB signed + encrypted (BER, streamed), signed MDN after the durable commit: DMZ VmRSS growth \
         | {growth:.1} MiB ({:.1} → {:.1} MiB) | < {TARGET_GROWTH_MIB:.0} MiB: {verdict} |\n\
         | same: time to the MDN | {:.1} s ({:.0} MiB/s) | `openssl cms -decrypt` alone: {:.1} s |\n",
        before as f64 / 1024.0,
        peak as f64 / 1024.0,
        took.as_secs_f64(),
        mib / took.as_secs_f64(),
        reference.as_secs_f64(),
    ))
}

/// Writes the payload entity, signs it and encrypts the result; returns the
/// message file and the MIC the MDN must carry (SHA-256 of the signed entity).
fn make_message(pair: &Pair, bytes: u64) -> Result<(std::path::PathBuf, String), BoxError> {
    let (dir, keys) = (pair.scratch(), pair.as2_dir());
    let entity = dir.join("entity.mime");
    let mic = write_entity(&entity, bytes)?;
    let signed = dir.join("signed.mime");
    let mut sign = Command::new("openssl");
    sign.args(["cms", "-sign", "-binary", "-stream", "-md", "sha256", "-in"])
        .arg(&entity)
        .arg("-signer")
        .arg(keys.join("partner.pem"))
        .arg("-inkey")
        .arg(keys.join("partner.key"))
        .arg("-out")
        .arg(&signed);
    run(sign)?;
    std::fs::remove_file(&entity)?;
    let message = dir.join("message.p7m");
    let mut encrypt = Command::new("openssl");
    encrypt
        .args(["cms", "-encrypt", "-binary", "-stream", "-aes256", "-outform", "DER", "-in"])
        .arg(&signed)
        .arg("-out")
        .arg(&message)
        .arg(keys.join("us.pem"));
    run(encrypt)?;
    std::fs::remove_file(&signed)?;
    Ok((message, mic))
}

/// The payload entity: MIME headers, then `bytes` of pseudo-random data.
fn write_entity(path: &Path, bytes: u64) -> Result<String, BoxError> {
    let mut file = BufWriter::with_capacity(1 << 20, std::fs::File::create(path)?);
    let mut hasher = sha2::Sha256::new();
    let headers = b"Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\
        Content-Disposition: attachment; filename=\"bench-as2.bin\"\r\n\r\n";
    file.write_all(headers)?;
    hasher.update(headers);
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut block = vec![0u8; 1 << 20];
    let mut left = bytes;
    while left > 0 {
        for word in block.chunks_exact_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            word.copy_from_slice(&state.to_le_bytes());
        }
        let now = left.min(block.len() as u64) as usize;
        file.write_all(&block[..now])?;
        hasher.update(&block[..now]);
        left -= now as u64;
    }
    file.flush()?;
    Ok(format!("{}, sha256", base64::engine::general_purpose::STANDARD.encode(hasher.finalize())))
}

/// POSTs the message with curl (streamed from the file); returns the response.
fn post(message: &Path, port: u16) -> Result<String, BoxError> {
    let mut curl = Command::new("curl");
    curl.args(["-sS", "--fail-with-body", "--max-time", "1800", "-X", "POST", "-T"])
        .arg(message)
        .args(["-H", "AS2-Version: 1.2", "-H"])
        .arg(format!("AS2-From: {AS2_PARTNER}"))
        .arg("-H")
        .arg(format!("AS2-To: {AS2_US}"))
        .args([
            "-H",
            "Message-ID: <bench-as2-1@bench.partner>",
            "-H",
            "Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name=\"smime.p7m\"",
            "-H",
            "Disposition-Notification-To: as2@bench.partner",
            "-H",
            "Disposition-Notification-Options: signed-receipt-protocol=optional, pkcs7-signature; \
             signed-receipt-micalg=optional, sha-256",
            "-H",
            "Expect:",
        ])
        .arg(format!("http://127.0.0.1:{port}/as2"));
    run(curl)
}

/// The MDN must say `processed` (no error) and carry our MIC.
fn check_mdn(mdn: &str, mic: &str) -> Result<(), BoxError> {
    let disposition = mdn.lines().find(|l| l.to_ascii_lowercase().starts_with("disposition:")).unwrap_or("");
    if !disposition.contains("processed") || disposition.contains("error") || disposition.contains("failed") {
        return Err(format!("the MDN does not say processed: {disposition:?}").into());
    }
    let carried = mdn
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("received-content-mic:"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, value)| value.trim());
    if carried != Some(mic) {
        return Err(format!("the MDN carries the MIC {carried:?}, not {mic:?}").into());
    }
    Ok(())
}

/// How long `openssl cms -decrypt` of the message takes (output discarded).
fn openssl_decrypt(pair: &Pair, message: &Path) -> Result<Duration, BoxError> {
    let keys = pair.as2_dir();
    let mut decrypt = Command::new("openssl");
    decrypt
        .args(["cms", "-decrypt", "-binary", "-inform", "DER", "-in"])
        .arg(message)
        .arg("-recip")
        .arg(keys.join("us.pem"))
        .arg("-inkey")
        .arg(keys.join("us.key"))
        .args(["-out", "/dev/null"]);
    let start = Instant::now();
    run(decrypt)?;
    Ok(start.elapsed())
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn the_entity_has_its_headers_and_exactly_the_payload_bytes() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("e");
        let mic = write_entity(&path, 3 << 20).expect("entity");
        let mut written = Vec::new();
        std::fs::File::open(&path).expect("open").read_to_end(&mut written).expect("read");
        let body_at = written.windows(4).position(|w| w == b"\r\n\r\n").expect("headers") + 4;
        assert_eq!(written.len() - body_at, 3 << 20);
        let digest = sha2::Sha256::digest(&written);
        assert_eq!(mic, format!("{}, sha256", base64::engine::general_purpose::STANDARD.encode(digest)));
        assert!(check_mdn("Disposition: automatic-action/MDN-sent-automatically; processed\r\nX: y", "m").is_err());
        assert!(check_mdn("Disposition: x; processed\r\nReceived-Content-MIC: other", "m").is_err());
        assert!(check_mdn("Disposition: x; processed/error: decryption-failed\r\nm", "m").is_err());
        assert!(check_mdn("Disposition: x; processed\r\nReceived-Content-MIC: m", "m").is_ok());
    }
}
