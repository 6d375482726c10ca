//! The demo's AS2 certificates, made on first start under `<inner data>/as2/`: our
//! pair (`portcullis.pem`, `portcullis.key`, AS2 id `PORTCULLIS`) and the demo
//! partner's (`demo-partner.pem`, `demo-partner.key`, AS2 id `DEMO-PARTNER`), so a
//! user can play the partner with any AS2 client (pyas2lib, for one). Existing files
//! are kept. Self-signed RSA 2048 / SHA-256: fine for a demo, not for partners.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Makes the two pairs in `dir` unless they exist.
pub fn ensure(dir: &Path) -> Result<(), String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for (name, common_name) in [("portcullis", "PORTCULLIS"), ("demo-partner", "DEMO-PARTNER")] {
        let (cert, key) = (dir.join(format!("{name}.pem")), dir.join(format!("{name}.key")));
        if cert.exists() && key.exists() {
            continue;
        }
        let (cert_pem, key_pem) =
            as2::identity::self_signed(common_name, 3650).map_err(|e| format!("demo AS2 certificate: {e}"))?;
        write(&key, key_pem.as_bytes(), 0o600)?;
        write(&cert, cert_pem.as_bytes(), 0o644)?;
    }
    Ok(())
}

fn write(path: &Path, bytes: &[u8], mode: u32) -> Result<(), String> {
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(mode)
        .open(path)
        .and_then(|mut file| file.write_all(bytes).and_then(|()| file.sync_all()))
        .map_err(|e| format!("{}: {e}", path.display()))
}
