//! Deciding where one delivery goes, before any byte is written: the first
//! matching profile, the target path inside its directory, and the `if_exists`
//! policy. A target chosen once is remembered as an *intent*, so a retry after a
//! crash writes to the same place instead of making a second copy.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use config::InnerSettings;
use config::inner::{IfExists, MailForm};
use envelope::{Body, DeliveryMeta, EnvelopeId};
use spool::{Spool, StoredItem};

use super::journal::intent_key;

/// Where a delivery's bytes go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// A profile matched. `attachments`: the target is a directory that gets the
    /// mail's attachments (the profile's `mail = "attachments"`).
    Profile { name: String, target: PathBuf, attachments: bool },
    /// Nothing may or can deliver it; kept aside for an operator.
    Unroutable { target: PathBuf, reason: String },
}

impl Destination {
    pub fn target(&self) -> &Path {
        match self {
            Destination::Profile { target, .. } | Destination::Unroutable { target, .. } => target,
        }
    }
}

/// One leased item with its decided destination.
#[derive(Debug)]
pub struct Planned {
    pub item: StoredItem,
    pub id: String,
    pub meta: Option<DeliveryMeta>,
    pub destination: Destination,
    /// The target was chosen now (not restored from an intent) and must be
    /// recorded before writing.
    pub new_intent: bool,
}

impl Planned {
    /// The directory the delivery's own relative path starts from
    /// (`<directory>/<channel>` for a profile): what is wrong below it comes from
    /// the partner's paths, what is wrong with it is the operator's to fix.
    pub fn root(&self) -> PathBuf {
        let depth = match (&self.destination, &self.meta) {
            (Destination::Profile { .. }, Some(meta)) => meta.path.split('/').count(),
            _ => 1,
        };
        self.destination.target().ancestors().nth(depth).map(Path::to_path_buf).unwrap_or_default()
    }
}

/// Plans a batch in order. A target taken by an earlier item of the batch counts
/// as existing, so two deliveries of one path in one batch are both kept.
pub fn plan_batch(items: Vec<StoredItem>, settings: &InnerSettings, spool: &dyn Spool) -> Vec<Planned> {
    let mut claimed = HashSet::new();
    items
        .into_iter()
        .map(|item| {
            let planned = plan(item, settings, spool, &claimed);
            claimed.insert(planned.destination.target().to_path_buf());
            planned
        })
        .collect()
}

/// Plans one item against the settings in force; `claimed` are targets already
/// chosen in this batch.
fn plan(item: StoredItem, settings: &InnerSettings, spool: &dyn Spool, claimed: &HashSet<PathBuf>) -> Planned {
    let id = EnvelopeId::from_u128(item.id).to_string();
    let meta = match envelope::decode::<Body>(&item.header, usize::MAX) {
        Ok(Body::Delivery(meta)) => Some(meta),
        _ => None,
    };
    let remembered = spool.read_state(&intent_key(&id)).ok().flatten().and_then(|bytes| String::from_utf8(bytes).ok());
    let destination = destination(meta.as_ref(), &id, settings, claimed);
    let (destination, new_intent) = match remembered {
        Some(path) => (with_target(destination, PathBuf::from(path)), false),
        None => (destination, true),
    };
    Planned { item, id, meta, destination, new_intent }
}

fn destination(
    meta: Option<&DeliveryMeta>,
    id: &str,
    settings: &InnerSettings,
    claimed: &HashSet<PathBuf>,
) -> Destination {
    let unroutable =
        |reason: String| Destination::Unroutable { target: settings.data_dir.join("unroutable").join(id), reason };
    let Some(meta) = meta else {
        return unroutable("the spool record is not a delivery".into());
    };
    if let Err(error) = envelope::validate_segment(&meta.channel).and(envelope::validate_path(&meta.path)) {
        return unroutable(format!("unsafe channel or path: {error}"));
    }
    let Some(profile) = settings.profiles.iter().find(|p| p.matches(&meta.channel, &meta.path)) else {
        return unroutable(format!("no profile matches channel {:?} path {:?}", meta.channel, meta.path));
    };
    let attachments = profile.mail == MailForm::Attachments && meta.mail.is_some();
    let path = match attachments {
        true => meta.path.strip_suffix(".eml").unwrap_or(&meta.path),
        false => &meta.path,
    };
    let target = profile.directory.join(&meta.channel).join(path);
    let target = match profile.if_exists {
        IfExists::Rename if target.exists() || claimed.contains(&target) => renamed(&target, id),
        _ => target,
    };
    Destination::Profile { name: profile.name.clone(), target, attachments }
}

fn with_target(destination: Destination, target: PathBuf) -> Destination {
    match destination {
        Destination::Profile { name, attachments, .. } => Destination::Profile { name, target, attachments },
        Destination::Unroutable { reason, .. } => Destination::Unroutable { target, reason },
    }
}

/// `orders.csv` → `orders.<id>.csv`; `README` → `README.<id>`; the stem is
/// shortened when needed so the name stays within 255 bytes.
fn renamed(target: &Path, id: &str) -> PathBuf {
    let name = target.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let (stem, ext) = match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => (stem, format!(".{ext}")),
        _ => (name.as_str(), String::new()),
    };
    let room = 255usize.saturating_sub(id.len() + 1 + ext.len());
    let mut cut = stem.len().min(room);
    while !stem.is_char_boundary(cut) {
        cut -= 1;
    }
    target.with_file_name(format!("{}.{id}{ext}", &stem[..cut]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renamed_keeps_the_extension() {
        assert_eq!(renamed(Path::new("/x/orders.csv"), "ID"), PathBuf::from("/x/orders.ID.csv"));
        assert_eq!(renamed(Path::new("/x/README"), "ID"), PathBuf::from("/x/README.ID"));
        assert_eq!(renamed(Path::new("/x/.profile"), "ID"), PathBuf::from("/x/.profile.ID"));
        assert_eq!(renamed(Path::new("/x/a.tar.gz"), "ID"), PathBuf::from("/x/a.tar.ID.gz"));
        let long = renamed(Path::new(&format!("/x/{}.csv", "é".repeat(120))), "ID");
        let name = long.file_name().expect("name").to_string_lossy().into_owned();
        assert!(name.len() <= 255 && name.ends_with(".ID.csv"), "{name}");
    }
}
