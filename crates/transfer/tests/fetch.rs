//! Fetch against a real vsftpd (FTP) and OpenSSH sshd (SFTP) on loopback, into a
//! test sink writing to a temp dir: pattern, bytes, after-actions, `seen`, a sink
//! that fails.

#![allow(clippy::unwrap_used)]

#[path = "../../remote/tests/common/mod.rs"]
mod common;
mod support;

use common::sshd::Sshd;
use common::vsftpd::{TestCa, Vsftpd};
use common::{Scratch, TestUser, payload};
use envelope::{AfterFetch, RemoteProtocol, RemoteTarget, SeenFile};
use support::{DirSink, fetch_request, password, sha256, target};

/// One server and the scratch dir it serves.
struct Server {
    scratch: Scratch,
    remote: RemoteTarget,
    _ftp: Option<Vsftpd>,
    _sshd: Option<Sshd>,
}

fn ftp() -> Server {
    let scratch = Scratch::new();
    let server = Vsftpd::start(&scratch, &TestCa::new("transfer test CA"));
    let remote = target(RemoteProtocol::Ftp, server.port, &TestUser::get().name);
    Server { scratch, remote, _ftp: Some(server), _sshd: None }
}

fn sftp() -> Server {
    let scratch = Scratch::new();
    let server = Sshd::start(&scratch);
    let mut remote = target(RemoteProtocol::Sftp, server.port, &TestUser::get().name);
    remote.host_key = Some(server.host_key.clone());
    Server { scratch, remote, _ftp: None, _sshd: Some(server) }
}

impl Server {
    /// Puts `name` with `bytes` into the served `outbox/`.
    fn put(&self, name: &str, bytes: &[u8]) {
        let outbox = self.scratch.data().join("outbox");
        if !outbox.exists() {
            self.scratch.data_subdir("outbox");
        }
        std::fs::write(outbox.join(name), bytes).unwrap();
    }

    fn remote_has(&self, path: &str) -> bool {
        self.scratch.data().join(path).exists()
    }

    fn request(&self, pattern: &str, after: AfterFetch) -> envelope::FetchRequest {
        fetch_request(self.remote.clone(), &self.scratch.data().join("outbox"), pattern, after)
    }
}

/// Two matching files (one 3 MiB), one that does not match.
fn fill(server: &Server) -> Vec<u8> {
    let big = payload(3 << 20);
    server.put("b.xml", &big);
    server.put("a.xml", b"<a/>");
    server.put("c.txt", b"not for us");
    big
}

async fn delete_takes_matching_files_whole_and_removes_them(server: Server) {
    let big = fill(&server);
    let sink = DirSink::new();
    let secret = password(&TestUser::get().password);
    let files = transfer::fetch(&server.request("*.xml", AfterFetch::Delete), &secret, &sink).await.unwrap();
    let expected =
        [SeenFile { name: "a.xml".into(), size: Some(4) }, SeenFile { name: "b.xml".into(), size: Some(3 << 20) }];
    assert_eq!(files, expected);
    assert_eq!(sha256(&sink.stored("b.xml").unwrap()), sha256(&big));
    assert_eq!(sink.stored("a.xml").unwrap(), b"<a/>");
    assert!(sink.stored("c.txt").is_none());
    assert!(!server.remote_has("outbox/a.xml") && !server.remote_has("outbox/b.xml"), "deleted");
    assert!(server.remote_has("outbox/c.txt"), "not matching, left alone");
    assert_eq!(sink.ids().len(), 2);
}

async fn move_puts_files_into_the_archive(server: Server) {
    fill(&server);
    server.scratch.data_subdir("archive");
    let archive = server.scratch.data().join("archive").display().to_string();
    let sink = DirSink::new();
    let secret = password(&TestUser::get().password);
    let request = server.request("a.*", AfterFetch::Move(archive));
    let files = transfer::fetch(&request, &secret, &sink).await.unwrap();
    assert_eq!(files, [SeenFile { name: "a.xml".into(), size: Some(4) }]);
    assert!(!server.remote_has("outbox/a.xml") && server.remote_has("archive/a.xml"), "moved");
    assert_eq!(sink.stored("a.xml").unwrap(), b"<a/>");
}

async fn leave_with_seen_fetches_nothing_the_second_time(server: Server) {
    fill(&server);
    let sink = DirSink::new();
    let secret = password(&TestUser::get().password);
    let mut request = server.request("*.xml", AfterFetch::Leave);
    let first = transfer::fetch(&request, &secret, &sink).await.unwrap();
    assert_eq!(first.len(), 2);
    assert!(server.remote_has("outbox/a.xml") && server.remote_has("outbox/b.xml"), "left in place");
    request.seen = first;
    assert_eq!(transfer::fetch(&request, &secret, &sink).await.unwrap(), [], "seen: nothing new");
    // Without `seen`, the same files come again under the same ids: duplicates.
    request.seen.clear();
    assert_eq!(transfer::fetch(&request, &secret, &sink).await.unwrap().len(), 2);
    assert_eq!(sink.ids().len(), 2, "a rerun is recognised by id");
    // A file that changed (another size) is new.
    server.put("a.xml", b"<a>changed</a>");
    request.seen =
        vec![SeenFile { name: "a.xml".into(), size: Some(4) }, SeenFile { name: "b.xml".into(), size: Some(3 << 20) }];
    let again = transfer::fetch(&request, &secret, &sink).await.unwrap();
    assert_eq!(again, [SeenFile { name: "a.xml".into(), size: Some(14) }]);
}

async fn a_failing_sink_leaves_the_remote_file(server: Server) {
    fill(&server);
    let sink = DirSink::failing_after(64 << 10);
    let secret = password(&TestUser::get().password);
    let error = transfer::fetch(&server.request("b.xml", AfterFetch::Delete), &secret, &sink).await.unwrap_err();
    assert!(error.transient && error.detail.contains("spool is full"), "{error:?}");
    assert!(server.remote_has("outbox/b.xml"), "not deleted: nothing was stored");
    assert!(sink.stored("b.xml").is_none());
}

async fn a_duplicate_answered_unread_is_still_deleted(server: Server) {
    let big = fill(&server);
    let sink = DirSink { duplicates_unread: true, ..DirSink::new() };
    let secret = password(&TestUser::get().password);
    let first = transfer::fetch(&server.request("*.xml", AfterFetch::Leave), &secret, &sink).await.unwrap();
    // The rerun (say after a crash before the deletes): both are duplicates, the
    // sink reads neither, the 3 MiB download is drained and both are deleted.
    let again = transfer::fetch(&server.request("*.xml", AfterFetch::Delete), &secret, &sink).await.unwrap();
    assert_eq!(first, again);
    assert!(!server.remote_has("outbox/a.xml") && !server.remote_has("outbox/b.xml"), "deleted");
    assert_eq!((sink.ids().len(), sink.stored("b.xml").unwrap()), (2, big));
}

async fn a_file_that_shrinks_while_fetched_is_not_committed(server: Server) {
    fill(&server);
    // When the sink gets a.xml, b.xml (listed with 3 MiB) is cut to 1 MiB: its
    // download ends early and cleanly, its size does not match the listing.
    let outbox = server.scratch.data().join("outbox");
    let cut = move |file: &transfer::FetchedFile| {
        if file.name == "a.xml" {
            std::fs::write(outbox.join("b.xml"), payload(1 << 20)).unwrap();
        }
    };
    let sink = DirSink { before: Some(Box::new(cut)), ..DirSink::new() };
    let secret = password(&TestUser::get().password);
    let error = transfer::fetch(&server.request("*.xml", AfterFetch::Delete), &secret, &sink).await.unwrap_err();
    assert!(error.transient && error.detail.contains("changed while fetched"), "{error:?}");
    assert_eq!(sink.stored("a.xml").unwrap(), b"<a/>");
    assert!(sink.stored("b.xml").is_none(), "the short file was not committed");
    assert!(!server.remote_has("outbox/a.xml") && server.remote_has("outbox/b.xml"), "only a.xml deleted");
}

async fn a_wrong_password_is_permanent_and_not_shown(server: Server) {
    fill(&server);
    let sink = DirSink::new();
    let error =
        transfer::fetch(&server.request("*", AfterFetch::Delete), &password("WrongPassw0rd"), &sink).await.unwrap_err();
    assert!(!error.transient, "{error:?}");
    assert!(!error.detail.contains("WrongPassw0rd"), "{error:?}");
    assert!(server.remote_has("outbox/a.xml"));
}

/// Each scenario against both servers: `on_ftp::<scenario>`, `on_sftp::<scenario>`.
macro_rules! on_both {
    ($($scenario:ident),* $(,)?) => {
        mod on_ftp {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $scenario() {
                super::$scenario(super::ftp()).await;
            })*
        }
        mod on_sftp {
            $(#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $scenario() {
                super::$scenario(super::sftp()).await;
            })*
        }
    };
}

on_both!(
    delete_takes_matching_files_whole_and_removes_them,
    move_puts_files_into_the_archive,
    leave_with_seen_fetches_nothing_the_second_time,
    a_failing_sink_leaves_the_remote_file,
    a_wrong_password_is_permanent_and_not_shown,
    a_duplicate_answered_unread_is_still_deleted,
    a_file_that_shrinks_while_fetched_is_not_committed,
);

#[tokio::test]
async fn connection_refused_is_transient_and_http_cannot_be_fetched() {
    let sink = DirSink::new();
    let dir = std::path::Path::new("/out");
    let refused = fetch_request(target(RemoteProtocol::Sftp, common::closed_port(), "u"), dir, "*", AfterFetch::Leave);
    let error = transfer::fetch(&refused, &password("pw"), &sink).await.unwrap_err();
    assert!(error.transient, "{error:?}");
    let http = fetch_request(target(RemoteProtocol::Https, 443, "u"), dir, "*", AfterFetch::Leave);
    let error = transfer::fetch(&http, &password("pw"), &sink).await.unwrap_err();
    assert!(!error.transient && error.detail.contains("not a file server"), "{error:?}");
}
