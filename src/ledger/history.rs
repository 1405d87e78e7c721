//! The value of a history row (`H`, record id ‖ seq): what the change stored beside
//! the log, so that destruction's housekeeping (`destroy/sweep.rs`) finds a record's
//! `P` rows and attachment blobs without reading and decoding its entries.
//!
//! Encoding (store layout 3): `change hash 32 ‖ flags u8 ‖ blob 32` (the blob only when
//! flag bit 2 is set). Flags: bit 0 content, bit 1 side document, bit 2 attachment;
//! other bits are refused. An empty value is a row written before layout 3: the
//! caller reads the entry instead.
//!
//! Invariant: the `P` keys listed are exactly those the change's append wrote (one per
//! commitment the change carries: `batch.rs` seals an opening for each and refuses a
//! commitment without one).

use crate::format::{Action, Change, CommitmentKind};

const CONTENT: u8 = 1;
const SIDE_DOC: u8 = 2;
const ATTACHMENT: u8 = 4;

/// The `P` key of what change `hash` of `record` sealed for `kind` (store layout 4:
/// record id ‖ change hash ‖ kind, so that a record's rows sit together and a new
/// record's land at the end of the space, record ids being time-ordered).
pub(crate) fn sealed_key(record: &[u8; 16], hash: &[u8; 32], kind: CommitmentKind) -> Vec<u8> {
    [&record[..], &hash[..], &[kind.code()]].concat()
}

/// The `C` key of change `hash` of `record` (store layout 4: record id ‖ change hash,
/// for the same reason).
pub(crate) fn change_key(record: &[u8; 16], hash: &[u8; 32]) -> Vec<u8> {
    [&record[..], &hash[..]].concat()
}

/// What one change stored beside the log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Stored {
    hash: [u8; 32],
    flags: u8,
    blob: Option<[u8; 32]>,
}

impl Stored {
    /// What change `c`, of change hash `hash`, stores beside the log.
    pub(crate) fn of_change(hash: [u8; 32], c: &Change) -> Stored {
        let mut flags = 0;
        if c.payload.is_some() {
            flags |= CONTENT;
        }
        if c.side_doc.is_some() {
            flags |= SIDE_DOC;
        }
        let blob = match c.action {
            Action::RecordAttach { blob, .. } => {
                flags |= ATTACHMENT;
                Some(blob)
            }
            _ => None,
        };
        Stored { hash, flags, blob }
    }

    /// The `P` keys the change wrote, `record` being its record.
    pub(crate) fn sealed_keys(&self, record: &[u8; 16]) -> Vec<Vec<u8>> {
        [
            (CONTENT, CommitmentKind::Content),
            (SIDE_DOC, CommitmentKind::SideDocument),
            (ATTACHMENT, CommitmentKind::Attachment),
        ]
        .into_iter()
        .filter(|(bit, _)| self.flags & bit != 0)
        .map(|(_, kind)| sealed_key(record, &self.hash, kind))
        .collect()
    }

    /// The attachment blob the change sealed into `blobs/`, if any.
    pub(crate) fn blob(&self) -> Option<[u8; 32]> {
        self.blob
    }

    pub(crate) fn encode(&self) -> Vec<u8> {
        let mut v = Vec::with_capacity(65);
        v.extend_from_slice(&self.hash);
        v.push(self.flags);
        if let Some(b) = &self.blob {
            v.extend_from_slice(b);
        }
        v
    }

    /// `Ok(None)` for an empty value (a row from before layout 3); `Err(())` for a
    /// malformed one. Never panics.
    pub(crate) fn decode(v: &[u8]) -> Result<Option<Stored>, ()> {
        if v.is_empty() {
            return Ok(None);
        }
        let (hash, rest) = v.split_first_chunk::<32>().ok_or(())?;
        let (&flags, rest) = rest.split_first().ok_or(())?;
        if flags & !(CONTENT | SIDE_DOC | ATTACHMENT) != 0 {
            return Err(());
        }
        let blob = match (flags & ATTACHMENT != 0, rest) {
            (false, []) => None,
            (true, b) => Some(<[u8; 32]>::try_from(b).map_err(|_| ())?),
            (false, _) => return Err(()),
        };
        Ok(Some(Stored {
            hash: *hash,
            flags,
            blob,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_malformed() {
        for (flags, blob) in [(0, None), (3, None), (5, Some([8; 32])), (7, Some([9; 32]))] {
            let s = Stored {
                hash: [1; 32],
                flags,
                blob,
            };
            assert_eq!(Stored::decode(&s.encode()), Ok(Some(s.clone())));
            let keys = s.sealed_keys(&[4; 16]);
            assert_eq!(keys.len(), (flags as u32).count_ones() as usize);
            assert!(keys.iter().all(|k| k.len() == 49 && k[..16] == [4; 16]));
        }
        assert_eq!(Stored::decode(&[]), Ok(None));
        let ok = Stored {
            hash: [1; 32],
            flags: 5,
            blob: Some([2; 32]),
        }
        .encode();
        for n in 1..ok.len() {
            assert!(Stored::decode(&ok[..n]).is_err(), "truncated at {n}");
        }
        let mut extra = ok.clone();
        extra.push(0);
        assert!(Stored::decode(&extra).is_err());
        let mut bad_flag = ok[..33].to_vec();
        bad_flag[32] = 8;
        assert!(Stored::decode(&bad_flag).is_err());
        let mut no_blob_flag = ok.clone();
        no_blob_flag[32] = 1;
        assert!(Stored::decode(&no_blob_flag).is_err());
    }
}
