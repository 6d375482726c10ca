//! Turning FTP listings into plain-file entries. MLSD (RFC 3659) facts are exact;
//! LIST output is parsed in its Unix and DOS forms (suppaftp's parsers), lines
//! that are neither are skipped with a debug note; NLST gives names only, which
//! the session then checks with SIZE.

use suppaftp::list::{File, ListParser};

use crate::session::RemoteEntry;

/// The regular files in MLSD lines (`type=file;size=12; name`).
pub(super) fn from_mlsd(lines: &[String]) -> Vec<RemoteEntry> {
    lines.iter().filter_map(|line| mlsd_entry(line)).collect()
}

/// The regular files in LIST lines (`-rw-r--r-- 1 u g 12 Jan 01 12:00 name`);
/// `None` if there were lines but not one could be parsed (ask NLST instead).
pub(super) fn from_list(lines: &[String]) -> Option<Vec<RemoteEntry>> {
    let lines: Vec<&String> = lines.iter().filter(|line| !line.starts_with("total ")).collect();
    let parsed: Vec<File> = lines
        .iter()
        .filter_map(|line| match ListParser::parse_posix(line).or_else(|_| ListParser::parse_dos(line)) {
            Ok(file) => Some(file),
            Err(e) => {
                tracing::debug!(line = %line, error = %e, "skipping an unparsable LIST line");
                None
            }
        })
        .collect();
    if parsed.is_empty() && !lines.is_empty() {
        return None;
    }
    let files = parsed.into_iter().filter(|file| file.is_file() && plain(file.name()));
    Some(
        files
            .map(|file| RemoteEntry { name: file.name().to_owned(), size: Some(file.size() as u64), is_file: true })
            .collect(),
    )
}

/// The last path segment of an NLST line (some servers answer with `dir/name`).
pub(super) fn nlst_name(line: &str) -> Option<&str> {
    let name = line.rsplit('/').next().unwrap_or(line).trim_end_matches('\r');
    plain(name).then_some(name)
}

/// One MLSD line, parsed by hand: the facts are `key=value;` pairs, then one
/// space, then the name (which may contain spaces and `;`).
fn mlsd_entry(line: &str) -> Option<RemoteEntry> {
    let (facts, name) = line.split_once(' ')?;
    let mut kind = None;
    let mut size = None;
    for fact in facts.split(';').filter(|f| !f.is_empty()) {
        let (key, value) = fact.split_once('=')?;
        match key.to_ascii_lowercase().as_str() {
            "type" => kind = Some(value.to_ascii_lowercase()),
            "size" => size = value.parse().ok(),
            _ => {}
        }
    }
    (kind.as_deref() == Some("file") && plain(name)).then(|| RemoteEntry { name: name.to_owned(), size, is_file: true })
}

fn plain(name: &str) -> bool {
    !name.is_empty() && name != "." && name != ".."
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(str::to_owned).collect()
    }

    #[test]
    fn mlsd_keeps_files_only() {
        let listing = lines(
            "type=cdir;modify=20240101120000; .\n\
             type=pdir;modify=20240101120000; ..\n\
             type=dir;modify=20240101120000; archive\n\
             type=file;size=3145728;modify=20240101120000; big file; v2.bin\n\
             Type=File;Size=0; empty.txt\n\
             type=OS.unix=symlink; link",
        );
        let entries = from_mlsd(&listing);
        assert_eq!(
            entries,
            vec![
                RemoteEntry { name: "big file; v2.bin".into(), size: Some(3145728), is_file: true },
                RemoteEntry { name: "empty.txt".into(), size: Some(0), is_file: true },
            ]
        );
    }

    #[test]
    fn unix_and_dos_list_lines() {
        let listing = lines(
            "total 12\n\
             drwxr-xr-x    2 1001     1001         4096 Jan 01 12:00 archive\n\
             -rw-r--r--    1 1001     1001      3145728 Jan 01 12:00 big.bin\n\
             lrwxrwxrwx    1 0        0               7 Jan 01 12:00 link -> big.bin\n\
             -rw-r--r--    1 1001     1001           12 Mar 10  2023 with space.txt\n\
             10-20-23  03:41PM                  512 dos.txt\n\
             10-20-23  03:41PM       <DIR>          dosdir\n\
             garbage",
        );
        let names: Vec<(String, Option<u64>)> =
            from_list(&listing).unwrap_or_default().into_iter().map(|e| (e.name, e.size)).collect();
        assert_eq!(
            names,
            vec![("big.bin".into(), Some(3145728)), ("with space.txt".into(), Some(12)), ("dos.txt".into(), Some(512)),]
        );
    }

    #[test]
    fn an_unknown_list_format_asks_for_nlst() {
        assert_eq!(from_list(&lines("something else entirely")), None);
        assert_eq!(from_list(&[]), Some(vec![]));
    }

    #[test]
    fn nlst_names_lose_their_directory() {
        assert_eq!(nlst_name("/in/a.xml"), Some("a.xml"));
        assert_eq!(nlst_name("a.xml"), Some("a.xml"));
        assert_eq!(nlst_name("."), None);
    }
}
