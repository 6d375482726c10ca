//! Fetch jobs collect files from partners' real servers (vsftpd, OpenSSH sshd):
//! through the DMZ and directly from the inner; what happens to the remote file
//! (delete, move, leave); a second run fetches nothing new; each file lands in the
//! inbox byte-identical, exactly once.

use std::path::Path;
use std::time::Duration;

use crate::support::outbound::{delivered_count, run_job};
use crate::support::partners::PartnerServers;
use crate::support::{Cluster, ClusterOptions, payload, wait_for};

fn job(name: &str, remote: &str, directory: &str, after: &str) -> String {
    let after = match after.split_once(':') {
        Some((action, to)) => format!("after = \"{action}\"\nmove_to = \"{to}\""),
        None => format!("after = \"{after}\""),
    };
    format!(
        "\n[[jobs]]\nname = \"{name}\"\nchannel = \"demo\"\nremote = \"{remote}\"\n\
         schedule = \"0 0 1 1 *\"\ndirectory = \"{directory}\"\npattern = \"*.csv\"\n{after}\n"
    )
}

async fn cluster_with(servers: &PartnerServers, jobs: String) -> Cluster {
    let secrets = tempfile::tempdir().expect("secrets dir").keep();
    let password_file = servers.password_file(&secrets);
    let options = ClusterOptions {
        channel_tables: servers.remotes(&password_file),
        inner_extra: jobs,
        ..ClusterOptions::default()
    };
    Cluster::start(options).await
}

/// Waits until the inbox holds `demo/<name>` with exactly `bytes`, journalled once.
async fn assert_fetched(cluster: &Cluster, name: &str, bytes: &[u8]) {
    let path = cluster.inbox().join("demo").join(name);
    wait_for(&format!("{name} in the inbox"), Duration::from_secs(60), || async {
        (delivered_count(cluster, name).await >= 1).then_some(())
    })
    .await;
    assert_eq!(std::fs::read(&path).expect("inbox file"), bytes, "{name} differs");
    assert_eq!(delivered_count(cluster, name).await, 1, "{name} delivered more than once");
}

/// Runs the job again and waits until the inner logged its end; nothing new lands.
async fn rerun_fetches_nothing(cluster: &Cluster, job: &str, names: &[&str]) {
    let before = cluster.inner.log_text().matches(&format!("fetch job {job} ended")).count();
    run_job(cluster, job).await;
    wait_for(&format!("the second run of {job} to end"), Duration::from_secs(60), || async {
        (cluster.inner.log_text().matches(&format!("fetch job {job} ended")).count() > before).then_some(())
    })
    .await;
    for name in names {
        assert_eq!(delivered_count(cluster, name).await, 1, "{name} fetched again");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn fetch_through_the_dmz_from_vsftpd_deletes_and_from_sshd_moves() {
    let servers = PartnerServers::start();
    let (ftp_out, sftp_out, done) = (servers.dir("ftp-out"), servers.dir("sftp-out"), servers.dir("done"));
    let files = [("a.csv", payload(1, 3_000)), ("b.csv", payload(2, 300_000))];
    for (name, bytes) in &files {
        servers.put(&ftp_out, name, bytes);
    }
    servers.put(&ftp_out, "skip.txt", b"not a csv");
    let big = payload(3, 200_000);
    servers.put(&sftp_out, "c.csv", &big);
    let jobs =
        job("ftp-pull", "ftp", &ftp_out, "delete") + &job("sftp-pull", "sftp", &sftp_out, &format!("move:{done}"));
    let cluster = cluster_with(&servers, jobs).await;

    run_job(&cluster, "ftp-pull").await;
    run_job(&cluster, "sftp-pull").await;
    for (name, bytes) in &files {
        assert_fetched(&cluster, name, bytes).await;
    }
    assert_fetched(&cluster, "c.csv", &big).await;
    wait_for("the fetched files to leave the partners' directories", Duration::from_secs(30), || async {
        let gone = ["a.csv", "b.csv"].iter().all(|n| !Path::new(&ftp_out).join(n).exists());
        (gone && !Path::new(&sftp_out).join("c.csv").exists()).then_some(())
    })
    .await;
    assert!(Path::new(&ftp_out).join("skip.txt").exists(), "a file the pattern does not match was touched");
    assert_eq!(std::fs::read(Path::new(&done).join("c.csv")).expect("moved file"), big);
    let journal = crate::support::delivered_records(&cluster.client, &cluster.inner_admin).await.expect("journal");
    assert_eq!(journal[&("demo".to_string(), "a.csv".to_string())][0]["protocol"], "ftp");
    assert_eq!(journal[&("demo".to_string(), "c.csv".to_string())][0]["protocol"], "sftp");

    rerun_fetches_nothing(&cluster, "ftp-pull", &["a.csv", "b.csv"]).await;
    rerun_fetches_nothing(&cluster, "sftp-pull", &["c.csv"]).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_job_that_leaves_files_remembers_them_and_a_direct_job_works_without_the_dmz() {
    let servers = PartnerServers::start();
    let (left, direct) = (servers.dir("left"), servers.dir("direct"));
    let kept = payload(4, 10_000);
    servers.put(&left, "kept.csv", &kept);
    let straight = payload(5, 90_000);
    servers.put(&direct, "straight.csv", &straight);
    let jobs = job("leave-pull", "sftp", &left, "leave") + &job("direct-pull", "ftp-direct", &direct, "delete");
    let cluster = cluster_with(&servers, jobs).await;

    run_job(&cluster, "leave-pull").await;
    assert_fetched(&cluster, "kept.csv", &kept).await;
    assert!(Path::new(&left).join("kept.csv").exists(), "after = leave removed the file");
    rerun_fetches_nothing(&cluster, "leave-pull", &["kept.csv"]).await;

    run_job(&cluster, "direct-pull").await;
    assert_fetched(&cluster, "straight.csv", &straight).await;
    wait_for("the direct fetch to delete its file", Duration::from_secs(30), || async {
        (!Path::new(&direct).join("straight.csv").exists()).then_some(())
    })
    .await;
    assert!(!cluster.dmz.log_text().contains("straight.csv"), "a via_dmz = false job went through the DMZ");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dmz_killed_during_a_fetch_loses_nothing_and_delivers_nothing_twice() {
    let servers = PartnerServers::start();
    let out = servers.dir("many");
    let files: Vec<(String, Vec<u8>)> =
        (0..40).map(|i| (format!("f{i:02}.csv"), payload(100 + i, 150_000 + i as usize * 1_000))).collect();
    for (name, bytes) in &files {
        servers.put(&out, name, bytes);
    }
    let mut cluster = cluster_with(&servers, job("bulk", "sftp", &out, "delete")).await;
    run_job(&cluster, "bulk").await;
    wait_for("the fetch to be under way", Duration::from_secs(60), || async {
        (std::fs::read_dir(&out).map(|d| d.count()).unwrap_or(0) < files.len()).then_some(())
    })
    .await;
    cluster.dmz.kill();
    cluster.dmz.start();
    // The fetch request is still on the DMZ's disk: the restarted DMZ runs it again.
    for (name, bytes) in &files {
        assert_fetched(&cluster, name, bytes).await;
    }
    assert_eq!(std::fs::read_dir(&out).expect("remote dir").count(), 0, "files left on the partner's server");
}
