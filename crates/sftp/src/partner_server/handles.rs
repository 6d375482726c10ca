//! The open handles of one SFTP session: uploads in progress, downloads and directory
//! listings, bounded in number. Dropping the table (the session ended) drops every
//! upload uncommitted, which discards it.

use std::collections::HashMap;

use partner::{Entry, Upload, VPath};
use tokio::io::AsyncRead;

use crate::listen::BusyGuard;

/// An upload in progress; `_busy` keeps shutdown waiting for it.
pub(crate) struct Writing {
    pub path: VPath,
    pub upload: Box<dyn Upload>,
    pub _busy: BusyGuard,
}

/// A download: the reader is sequential, so only the next offset can be read.
pub(crate) struct Reading {
    pub entry: Entry,
    pub reader: Box<dyn AsyncRead + Send + Unpin>,
    pub position: u64,
    pub eof: bool,
}

/// A directory listing, handed out a batch per READDIR.
pub(crate) struct Listing {
    pub entries: std::vec::IntoIter<Entry>,
}

pub(crate) enum Open {
    Writing(Writing),
    Reading(Reading),
    Listing(Listing),
}

/// Handle strings to open handles.
pub(crate) struct Handles {
    open: HashMap<String, Open>,
    next: u64,
    limit: usize,
}

impl Handles {
    pub(crate) fn new(limit: usize) -> Self {
        Handles { open: HashMap::new(), next: 0, limit }
    }

    /// Whether another handle may be opened.
    pub(crate) fn has_room(&self) -> bool {
        self.open.len() < self.limit
    }

    /// Stores an open handle and returns its name.
    pub(crate) fn insert(&mut self, open: Open) -> String {
        self.next += 1;
        let name = self.next.to_string();
        self.open.insert(name.clone(), open);
        name
    }

    pub(crate) fn get_mut(&mut self, name: &str) -> Option<&mut Open> {
        self.open.get_mut(name)
    }

    pub(crate) fn remove(&mut self, name: &str) -> Option<Open> {
        self.open.remove(name)
    }
}
