//! `tls::load_or_generate_self_signed`: an end-entity certificate, a private key file, reuse.

use std::os::unix::fs::PermissionsExt;

#[test]
fn generates_an_end_entity_certificate_with_a_private_key_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key) = (dir.path().join("ftps.crt"), dir.path().join("ftps.key"));

    partner::tls::load_or_generate_self_signed(&cert, &key, &["dmz.example".into(), "127.0.0.1".into()])
        .expect("generate");

    let mode = std::fs::metadata(&key).expect("key").permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let out = std::process::Command::new("openssl")
        .args(["x509", "-noout", "-text", "-in"])
        .arg(&cert)
        .output()
        .expect("this test needs `openssl` on PATH");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("CA:FALSE"), "{text}");
    assert!(text.contains("TLS Web Server Authentication"), "{text}");
    assert!(text.contains("DNS:dmz.example") && text.contains("IP Address:127.0.0.1"), "{text}");
    let leftovers = std::fs::read_dir(dir.path()).expect("dir").count();
    assert_eq!(leftovers, 2, "no temporary files left");
}

#[test]
fn existing_files_are_kept() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
    partner::tls::load_or_generate_self_signed(&cert, &key, &["a".into()]).expect("generate");
    let before = (std::fs::read(&cert).expect("cert"), std::fs::read(&key).expect("key"));

    partner::tls::load_or_generate_self_signed(&cert, &key, &["b".into()]).expect("reuse");

    assert_eq!(before, (std::fs::read(&cert).expect("cert"), std::fs::read(&key).expect("key")));
    std::fs::remove_file(&key).expect("rm");
    assert!(partner::tls::load_or_generate_self_signed(&cert, &key, &["a".into()]).is_err(), "half a pair is refused");
}
