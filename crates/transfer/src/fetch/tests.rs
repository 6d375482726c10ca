use envelope::{AfterFetch, FetchRequest, RemoteProtocol, SeenFile};
use remote::RemoteEntry;

use super::{FetchedFile, fetched_id, wanted};

fn request(after: AfterFetch, seen: Vec<SeenFile>) -> FetchRequest {
    FetchRequest {
        channel: "orders".into(),
        job: "acme-pull".into(),
        remote: crate::target::tests::target(RemoteProtocol::Sftp),
        directory: "/out".into(),
        pattern: "*.xml".into(),
        after,
        seen,
    }
}

fn file(path: &str, size: Option<u64>) -> FetchedFile {
    FetchedFile { name: path.rsplit('/').next().unwrap_or(path).into(), remote_path: path.into(), listed_size: size }
}

fn entry(name: &str, size: Option<u64>) -> RemoteEntry {
    RemoteEntry { name: name.into(), size, is_file: true }
}

#[test]
fn the_id_depends_on_every_part_and_nothing_else() {
    let base = request(AfterFetch::Delete, vec![]);
    let id = fetched_id(&base, &file("/out/a.xml", Some(10)));
    assert_eq!(id, fetched_id(&base.clone(), &file("/out/a.xml", Some(10))), "deterministic");
    let mut other_after = base.clone();
    other_after.after = AfterFetch::Leave;
    assert_eq!(id, fetched_id(&other_after, &file("/out/a.xml", Some(10))), "the after-action is not part of it");
    let mut changed = Vec::new();
    for change in 0..4 {
        let mut request = base.clone();
        match change {
            0 => request.channel.push('x'),
            1 => request.job.push('x'),
            2 => request.remote.name.push('x'),
            _ => request.channel = "ordersacme-pull".into(),
        }
        changed.push(fetched_id(&request, &file("/out/a.xml", Some(10))));
    }
    changed.push(fetched_id(&base, &file("/out/b.xml", Some(10))));
    changed.push(fetched_id(&base, &file("/out/a.xml", Some(11))));
    changed.push(fetched_id(&base, &file("/out/a.xml", None)));
    for (n, other) in changed.iter().enumerate() {
        assert_ne!(id, *other, "change {n}");
    }
}

#[test]
fn wanted_files_match_are_unseen_and_sorted() {
    let listed = vec![entry("b.xml", Some(2)), entry("a.xml", Some(1)), entry("c.txt", Some(3)), entry("d.xml", None)];
    let names = |files: Vec<RemoteEntry>| files.into_iter().map(|e| e.name).collect::<Vec<_>>();
    assert_eq!(names(wanted(&request(AfterFetch::Delete, vec![]), listed.clone())), ["a.xml", "b.xml", "d.xml"]);
    let seen = vec![SeenFile { name: "a.xml".into(), size: Some(1) }, SeenFile { name: "b.xml".into(), size: Some(1) }];
    // Leave: name and size; b.xml grew since, so it is taken again.
    assert_eq!(names(wanted(&request(AfterFetch::Leave, seen.clone()), listed.clone())), ["b.xml", "d.xml"]);
    // Delete or move: the name alone.
    assert_eq!(names(wanted(&request(AfterFetch::Delete, seen), listed)), ["d.xml"]);
}
