//! Jobs, sends and the outbox folder against a real spool, with no DMZ: what gets
//! committed, and what must not happen twice.

use std::path::Path;
use std::sync::Arc;

use envelope::EnvelopeId;
use sftp::fetch::{FetchConfig, Fetcher, HostKeyPolicy};
use spool::{SledSpool, Spool, SpoolOptions};

use super::sends::{NewSend, Sends, stage_file};
use super::{Jobs, SENDS, StartError, outbox, record};
use crate::TO_DMZ;
use crate::settings::CurrentSettings;

fn settings(data_dir: &Path) -> CurrentSettings {
    let text = format!(
        "role = \"inner\"\nnode_id = \"t\"\ndata_dir = \"{}\"\n[dmz]\nurl = \"http://127.0.0.1:1\"\nmode = \"pushback\"\n\
         [admin]\nlisten = \"127.0.0.1:0\"\n[[channels]]\nname = \"c\"\noutbox_remote = \"p\"\n\
         [[channels.remotes]]\nname = \"p\"\nprotocol = \"pickup\"\n\
         [[channels.remotes]]\nname = \"s\"\nprotocol = \"sftp\"\nhost = \"127.0.0.1\"\nport = 9\naccept_any_host_key = true\n\
         [[profiles]]\nname = \"all\"\nchannel = \"*\"\n\
         [[jobs]]\nname = \"j\"\nchannel = \"c\"\nremote = \"s\"\nschedule = \"0 0 1 1 *\"\nafter = \"delete\"\n",
        data_dir.display()
    );
    CurrentSettings::new(config::parse_inner(&text).expect("test config"), None)
}

struct Fixture {
    dir: tempfile::TempDir,
    spool: Arc<dyn Spool>,
    settings: CurrentSettings,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().expect("dir");
    let spool: Arc<dyn Spool> = SledSpool::open(SpoolOptions::new(dir.path().join("spool"))).expect("spool");
    let settings = settings(dir.path());
    Fixture { dir, spool, settings }
}

impl Fixture {
    fn sends(&self) -> Arc<Sends> {
        let key = sftp::keys::load_or_generate(&self.dir.path().join("k")).expect("key");
        let config = FetchConfig::new(
            ([127, 0, 0, 1], 9).into(),
            "inner",
            key,
            HostKeyPolicy::TrustOnFirstUse(self.dir.path().join("host.pub")),
        );
        Sends::new(Arc::clone(&self.spool), self.settings.clone(), Arc::new(Fetcher::new(config)))
    }
}

#[tokio::test]
async fn a_job_does_not_start_again_while_its_run_is_at_the_dmz() {
    let f = fixture();
    let jobs = Jobs::new(Arc::clone(&f.spool), f.settings.clone());
    assert!(matches!(jobs.start("nope"), Err(StartError::NoSuchJob(_))));
    jobs.start("j").expect("first run");
    assert!(matches!(jobs.start("j"), Err(StartError::Running(_))));
    // The run's fetch request goes into `to-dmz` from a spawned task.
    for _ in 0..500 {
        if f.spool.queue_stats(TO_DMZ).depth == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(f.spool.queue_stats(TO_DMZ).depth, 1, "no fetch request queued");
    assert!(matches!(jobs.start("j"), Err(StartError::Running(_))), "no outcome came, so the run is not over");
}

#[tokio::test]
async fn a_send_submitted_twice_under_one_id_is_committed_once() {
    let f = fixture();
    let sends = f.sends();
    let file = f.dir.path().join("payload");
    std::fs::write(&file, b"acknowledged").expect("payload");
    let id = EnvelopeId::generate();
    for _ in 0..2 {
        let (staged, sha256) = stage_file(f.spool.as_ref(), &file).await.expect("stage");
        let send = NewSend { channel: "c".into(), remote: "p".into(), name: "a.ack".into(), directory: None };
        assert_eq!(sends.submit_as(id, send, staged, sha256).await.expect("submit"), id.to_string());
    }
    assert_eq!(f.spool.queue_stats(SENDS).depth, 1);
    let record = record::read(f.spool.as_ref(), &record::send_key(&id.to_string())).expect("read").expect("record");
    assert_eq!((record.size, record.status), (12, record::Status::Queued));
}

#[tokio::test]
async fn outbox_files_are_taken_once_complete_and_sent_once() {
    let f = fixture();
    let sends = f.sends();
    let folder = f.dir.path().join("outbox/c");
    std::fs::create_dir_all(folder.join(".taken")).expect("folder");
    std::fs::write(folder.join("ready.txt"), b"ready").expect("file");
    std::fs::write(folder.join("half.txt.part"), b"still writing").expect("part file");
    // A file taken before a crash, its send perhaps committed already.
    let earlier = EnvelopeId::generate();
    std::fs::write(folder.join(format!(".taken/{earlier}~earlier.txt")), b"earlier").expect("taken file");
    let mut seen = outbox::Seen::new();

    outbox::scan(&sends, &folder, "c", "p", &mut seen).await.expect("first scan");
    assert!(folder.join("ready.txt").exists(), "taken at its first sighting");
    assert_eq!(f.spool.queue_stats(SENDS).depth, 1, "the earlier taken file");
    outbox::scan(&sends, &folder, "c", "p", &mut seen).await.expect("second scan");
    assert!(!folder.join("ready.txt").exists());
    assert!(folder.join("half.txt.part").exists(), "a .part file was taken");
    assert_eq!(std::fs::read_dir(folder.join(".taken")).expect("taken").count(), 0);
    assert_eq!(f.spool.queue_stats(SENDS).depth, 2);
    outbox::scan(&sends, &folder, "c", "p", &mut seen).await.expect("third scan");
    assert_eq!(f.spool.queue_stats(SENDS).depth, 2);
    let records = record::list(f.spool.as_ref(), record::SEND_PREFIX).expect("records");
    let mut names: Vec<&str> = records.iter().map(|r| r.name.as_str()).collect();
    names.sort_unstable();
    assert_eq!(names, ["earlier.txt", "ready.txt"]);
    assert!(records.iter().any(|r| r.id == earlier.to_string()), "the taken file kept its id");
}
