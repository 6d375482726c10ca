//! `[as2]` of `dmz.toml`: DMZ-local settings of the partner AS2 listener (whether
//! it runs and where is pushed by the inner; partnerships come with the channels).

use serde::Deserialize;

use crate::Problems;

/// The validated `[as2]` table.
#[derive(Debug, Clone)]
pub struct PartnerAs2 {
    /// Largest AS2 request body accepted (413 above), and largest decompressed
    /// layer. Messages are taken apart in scratch files under the data directory,
    /// not in memory.
    pub max_message_bytes: u64,
}

#[derive(Debug, Deserialize)]
pub(super) struct As2File {
    #[serde(default = "default_max_message_bytes")]
    max_message_bytes: u64,
}

impl Default for As2File {
    fn default() -> Self {
        As2File { max_message_bytes: default_max_message_bytes() }
    }
}

fn default_max_message_bytes() -> u64 {
    4 << 30
}

impl As2File {
    pub(super) fn validate(self, problems: &mut Problems) -> PartnerAs2 {
        problems.range("as2.max_message_bytes", self.max_message_bytes, 1024, 1 << 40);
        PartnerAs2 { max_message_bytes: self.max_message_bytes }
    }
}
