//! A profile with `mail = "attachments"`: the mail's attachments (parsed with
//! mail-parser, transfer encoding undone) become files of a directory
//! `<channel>/<id>/`, published with one rename like a single file. A message
//! without attachments lands there as `message.eml`, so nothing is lost.
//!
//! Attachment names come from the partner: a name that is not a plain file name
//! (path separators, `..`, control characters, empty) becomes `attachment-<n>`;
//! a name used twice gets `-<n>` before its extension.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

use mail_parser::{MessageParser, MimeHeaders};
use spool::StoredPayload;

use super::write::{Prepared, create_dirs_durably, sync_dir};

/// Writes the attachments of the mail in `payload` into a hidden temp directory
/// beside `target` (fsyncing each file and the directory).
pub fn prepare_attachments(target: &Path, payload: &StoredPayload, tag: &str) -> io::Result<Prepared> {
    let dir = target.parent().ok_or_else(|| io::Error::other("target has no parent directory"))?;
    create_dirs_durably(dir)?;
    let message = match payload {
        StoredPayload::None => Vec::new(),
        StoredPayload::Inline(bytes) => bytes.clone(),
        StoredPayload::File { path, .. } => fs::read(path)?,
    };
    let temp = dir.join(format!(".pc-{tag}.part.d"));
    if temp.exists() {
        fs::remove_dir_all(&temp)?; // left by an attempt that crashed
    }
    fs::create_dir(&temp)?;
    let written =
        attachments(&message).into_iter().try_for_each(|(name, bytes)| write_synced(&temp.join(name), &bytes));
    if let Err(error) = written.and_then(|()| sync_dir(&temp)) {
        let _ = fs::remove_dir_all(&temp);
        return Err(error);
    }
    Ok(Prepared::new(temp, target.to_path_buf()))
}

/// (file name, bytes) of each attachment; the whole message as `message.eml`
/// when it has none (or cannot be parsed).
fn attachments(message: &[u8]) -> Vec<(String, Vec<u8>)> {
    let parsed = MessageParser::default().parse(message);
    let mut taken = HashSet::new();
    let found: Vec<(String, Vec<u8>)> = parsed
        .iter()
        .flat_map(|m| m.attachments())
        .enumerate()
        .map(|(i, part)| (unique_name(part.attachment_name(), i + 1, &mut taken), part.contents().to_vec()))
        .collect();
    match found.is_empty() {
        true => vec![("message.eml".to_owned(), message.to_vec())],
        false => found,
    }
}

/// A safe, unused file name for attachment number `n`.
fn unique_name(wanted: Option<&str>, n: usize, taken: &mut HashSet<String>) -> String {
    let base = match wanted.map(str::trim) {
        Some(name) if envelope::validate_segment(name).is_ok() && !name.contains('\\') => name.to_owned(),
        _ => format!("attachment-{n}"),
    };
    let (stem, ext) = match base.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => (stem.to_owned(), format!(".{ext}")),
        _ => (base.clone(), String::new()),
    };
    let mut name = base;
    let mut copy = 2;
    while !taken.insert(name.clone()) {
        name = format!("{stem}-{copy}{ext}");
        copy += 1;
    }
    name
}

fn write_synced(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = File::create(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAIL: &[u8] = b"From: a@p\r\nTo: b@q\r\nSubject: s\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"B\"\r\n\r\n--B\r\nContent-Type: text/plain\r\n\r\nhello\r\n\
--B\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"a.bin\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\nAAECAw==\r\n\
--B\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"a.bin\"\r\n\r\nxyz\r\n\
--B\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"../../etc/passwd\"\r\n\r\nno\r\n\
--B--\r\n";

    #[test]
    fn attachments_are_decoded_and_named_safely() {
        let found = attachments(MAIL);
        let names: Vec<&str> = found.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["a.bin", "a-2.bin", "attachment-3"]);
        assert_eq!(found[0].1, [0, 1, 2, 3]);
        assert_eq!(found[1].1, b"xyz");
    }

    #[test]
    fn a_mail_without_attachments_is_kept_whole() {
        let plain = b"From: a@p\r\nSubject: s\r\n\r\nbody\r\n";
        assert_eq!(attachments(plain), vec![("message.eml".to_owned(), plain.to_vec())]);
    }

    #[test]
    fn the_directory_is_published_whole_and_replaces_an_earlier_attempt() {
        let root = tempfile::tempdir().expect("tempdir");
        let target = root.path().join("inbox/c/ID");
        let payload = StoredPayload::Inline(MAIL.to_vec());
        let first = prepare_attachments(&target, &payload, "ID").expect("prepare");
        first.publish().expect("publish");
        let again = prepare_attachments(&target, &payload, "ID").expect("prepare again");
        again.publish().expect("publish over the first attempt");
        let mut names: Vec<String> = fs::read_dir(&target)
            .expect("dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into())
            .collect();
        names.sort();
        assert_eq!(names, ["a-2.bin", "a.bin", "attachment-3"]);
        assert_eq!(fs::read_dir(root.path().join("inbox/c")).expect("parent").count(), 1, "no temp left");
    }
}
