//! `check-config` reports every problem at once and exits 64; the shipped example
//! configs are valid; a node with a bad config exits 64 before binding a port.

use std::process::Command;

fn portcullis(args: &[&str]) -> (i32, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_portcullis")).args(args).output().expect("run portcullis");
    let text = String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
    (output.status.code().unwrap_or(-1), text)
}

const BROKEN_INNER: &str = r#"
role = "inner"
node_id = "inner 1"
data_dir = "/tmp/x"
colour = "blue"

[dmz]
url = "ftp://dmz"
mode = "pushback"
allow = ["10.0.0.0/33"]

[admin]
listen = "localhost"

[[channels]]
name = "acme"
[[channels.logins]]
user = "acme"
password_hash = "hunter2"

[[channels]]
name = "acme"

[[profiles]]
name = "p"
channel = "nobody"
path = "a**"
"#;

#[test]
fn check_config_reports_every_problem_and_exits_64() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("inner.toml");
    std::fs::write(&file, BROKEN_INNER).expect("write");
    let (code, text) = portcullis(&["check-config", file.to_str().expect("utf-8 path")]);
    assert_eq!(code, 64, "{text}");
    let expected = [
        "colour: unknown key",
        "node_id",
        "dmz.url",
        "dmz.allow",
        "admin.listen",
        "password_hash",
        "channel name defined twice",
        "no channel named \"nobody\"",
        "profiles[p].path",
    ];
    for problem in expected {
        assert!(text.contains(problem), "missing {problem:?} in:\n{text}");
    }
}

#[test]
fn shipped_configs_are_valid() {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../../etc");
    for file in ["dmz.toml", "inner.toml", "demo/dmz.toml"] {
        let (code, text) = portcullis(&["check-config", &format!("{root}/{file}")]);
        assert_eq!(code, 0, "{file}: {text}");
    }
    // The demo's inner config names the AS2 identities `portcullis demo` makes on
    // first start: check it against a data dir that has them.
    let data = tempfile::tempdir().expect("tempdir");
    let as2 = data.path().join("as2");
    std::fs::create_dir(&as2).expect("as2 dir");
    for (name, file) in [("demo-partner", "demo-partner"), ("portcullis", "portcullis")] {
        let (cert, key, _) = crate::support::as2::identity(&as2, name);
        std::fs::rename(cert, as2.join(format!("{file}.pem"))).expect("cert in place");
        std::fs::rename(key, as2.join(format!("{file}.key"))).expect("key in place");
    }
    let text = std::fs::read_to_string(format!("{root}/demo/inner.toml")).expect("demo inner.toml");
    let copy = data.path().join("inner.toml");
    let here = format!("data_dir = \"{}\"", data.path().display());
    std::fs::write(&copy, text.replace("data_dir = \"data/demo/inner\"", &here)).expect("copy");
    let (code, text) = portcullis(&["check-config", copy.to_str().expect("utf-8")]);
    assert_eq!(code, 0, "demo/inner.toml: {text}");
}

#[test]
fn a_node_with_a_bad_config_exits_64_before_starting() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("dmz.toml");
    std::fs::write(&file, "role = \"dmz\"\nnode_id = \"d\"\n").expect("write");
    let (code, text) = portcullis(&["dmz", "--config", file.to_str().expect("utf-8 path")]);
    assert_eq!(code, 64, "{text}");
    let (code, text) = portcullis(&["inner", "--config", file.to_str().expect("utf-8 path")]);
    assert_eq!(code, 64, "{text}");
}

#[test]
fn hash_password_makes_a_hash_check_config_accepts() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .arg("hash-password")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run");
    std::io::Write::write_all(child.stdin.as_mut().expect("stdin"), b"s3cret\n").expect("write");
    let output = child.wait_with_output().expect("wait");
    let hash = String::from_utf8(output.stdout).expect("utf-8");
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    assert!(!hash.contains("s3cret"));
}
