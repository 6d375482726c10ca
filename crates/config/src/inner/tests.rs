//! Remotes and jobs: parsing, defaults and every refusal.

use std::path::Path;

use envelope::{AfterFetch, RemoteProtocol, SecretKind};

fn toml(dir: &Path, rest: &str) -> String {
    format!(
        "role = \"inner\"\nnode_id = \"i\"\ndata_dir = \"{}\"\n[dmz]\nurl = \"http://127.0.0.1:8020\"\n\
         mode = \"pushback\"\n[admin]\nlisten = \"127.0.0.1:9001\"\n{rest}",
        dir.display()
    )
}

const SFTP: &str = "[[channels]]\nname = \"acme\"\noutbox_remote = \"up\"\n\
    [[channels.remotes]]\nname = \"up\"\nprotocol = \"sftp\"\nhost = \"sftp.acme.example\"\nuser = \"u\"\n\
    password_file = \"pw\"\naccept_any_host_key = true\n";

fn problems(dir: &Path, rest: &str) -> Vec<String> {
    crate::parse_inner(&toml(dir, rest)).expect_err("refused")
}

fn has(problems: &[String], text: &str) -> bool {
    problems.iter().any(|p| p.contains(text))
}

#[test]
fn remotes_get_defaults_and_the_secret_is_read_but_never_shown() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("pw"), "s3cret\n").expect("pw");
    let job = "[[jobs]]\nname = \"pull\"\nchannel = \"acme\"\nremote = \"up\"\nschedule = \"*/5 * * * *\"\n\
               directory = \"/out\"\nafter = \"leave\"\n";
    let settings = crate::parse_inner(&toml(dir.path(), &format!("{SFTP}{job}"))).expect("valid");
    let channel = &settings.channels[0];
    let remote = &channel.remotes[0];
    assert_eq!((remote.protocol, remote.port, remote.via_dmz), (RemoteProtocol::Sftp, 22, true));
    assert_eq!((remote.retries, remote.retry_base_ms, remote.retry_max_ms), (5, 30_000, 3_600_000));
    assert_eq!(remote.secret.kind, SecretKind::Password);
    assert_eq!(remote.secret.bytes.as_slice(), b"s3cret");
    assert!(!format!("{settings:?}").contains("s3cret"), "Debug never shows the secret");
    assert_eq!(channel.outbox_remote.as_deref(), Some("up"));
    let job = &settings.jobs[0];
    assert_eq!((job.pattern.as_str(), &job.after, job.via_dmz), ("*", &AfterFetch::Leave, true));
}

#[test]
fn an_inline_password_is_refused_with_what_to_write_instead() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = SFTP.replace("password_file = \"pw\"", "password = \"hunter2\"");
    let found = problems(dir.path(), &text);
    assert!(has(&found, "remotes[up].password: secrets are never written in the config"), "{found:?}");
    assert!(has(&found, "password_env"), "{found:?}");
}

#[test]
fn a_bad_schedule_is_refused_naming_the_job() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("pw"), "x").expect("pw");
    let job = "[[jobs]]\nname = \"nightly\"\nchannel = \"acme\"\nremote = \"up\"\nschedule = \"61 * * * *\"\n\
               after = \"delete\"\n";
    let found = problems(dir.path(), &format!("{SFTP}{job}"));
    assert!(has(&found, "jobs[nightly].schedule: \"61 * * * *\" is not a cron expression"), "{found:?}");
}

#[test]
fn references_kinds_and_names_are_checked() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("pw"), "x").expect("pw");
    let jobs = "[[jobs]]\nname = \"a\"\nchannel = \"acme\"\nremote = \"nope\"\nschedule = \"0 * * * *\"\n\
                after = \"leave\"\n\
                [[jobs]]\nname = \"a\"\nchannel = \"ghost\"\nremote = \"up\"\nschedule = \"0 * * * *\"\n\
                after = \"move\"\n\
                [[jobs]]\nname = \"m\"\nchannel = \"acme\"\nremote = \"web\"\nschedule = \"0 * * * *\"\n\
                after = \"delete\"\n";
    let web = "[[channels.remotes]]\nname = \"web\"\nprotocol = \"https\"\nhost = \"h\"\n\
               [[channels.remotes]]\nname = \"web\"\nprotocol = \"smtp\"\nhost = \"h\"\n\
               [[channels.remotes]]\nname = \"box\"\nprotocol = \"pickup\"\nvia_dmz = false\n\
               [[channels.remotes]]\nname = \"two\"\nprotocol = \"ftp\"\nhost = \"h\"\npassword_file = \"pw\"\n\
               password_env = \"X\"\n";
    let text = format!("{}{web}{jobs}", SFTP.replace("outbox_remote = \"up\"", "outbox_remote = \"gone\""));
    let found = problems(dir.path(), &text);
    for expected in [
        "channels[acme].outbox_remote: no remote named \"gone\"",
        "remotes[web]: remote name defined twice",
        "remotes[web]: an smtp remote needs mail_from and mail_to",
        "remotes[box].via_dmz: pickup files are placed on the DMZ",
        "remotes[two]: give only one of password_file, password_env and key_file",
        "jobs[a].remote: channel \"acme\" has no remote named \"nope\"",
        "jobs[a]: job name defined twice",
        "jobs[a].channel: no channel named \"ghost\"",
        "jobs[a].move_to: required with after = \"move\"",
        "jobs[m].remote: \"web\" is https; jobs fetch over ftp, ftps or sftp",
    ] {
        assert!(has(&found, expected), "missing {expected:?} in {found:?}");
    }
}

#[test]
fn sftp_needs_a_host_key_decision_and_invisible_channels_stay_inside() {
    let dir = tempfile::tempdir().expect("tempdir");
    let text = "[[channels]]\nname = \"hidden\"\ninvisible_to_dmz = true\n\
                [[channels.remotes]]\nname = \"s\"\nprotocol = \"sftp\"\nhost = \"h\"\npassword_env = \"PORTCULLIS_NO_SUCH_VAR\"\n";
    let found = problems(dir.path(), text);
    assert!(has(&found, "remotes[s]: set host_key"), "{found:?}");
    assert!(has(&found, "remotes[s].via_dmz: the channel is invisible_to_dmz"), "{found:?}");
    assert!(has(&found, "PORTCULLIS_NO_SUCH_VAR is not set"), "{found:?}");
}
