//! The daemon's HTTP API as both sides see it: the JSON forms of what crosses the wire
//! (signed submissions with their openings, staged blobs, outcomes, errors) and the
//! headers the API adds to RFC 9421 signing. No I/O; `docs/API.md` documents it.
//!
//! Invariant: a submission on the wire carries the caller's signed change bytes
//! unchanged; the server never re-encodes or re-signs one. An attachment is named only
//! by its commitment: the server substitutes the blob it staged itself for that caller.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::ledger::{Opening, Outcome, StagedBlob, Submission};

/// The header carrying the salt (64 hex digits) an attachment upload is committed with.
pub const SALT_HEADER: &str = "blotter-salt";
/// The largest JSON request body the daemon reads (a batch of changes with contents).
pub const MAX_JSON_BODY: usize = 16 << 20;
/// The most changes one request may carry.
pub const MAX_BATCH: usize = 5000;

/// Plaintext and salt of a commitment.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OpeningWire {
    #[serde(with = "hex::serde")]
    pub salt: [u8; 32],
    /// Standard base64.
    pub bytes: String,
}

impl OpeningWire {
    pub fn from_opening(o: &Opening) -> Self {
        OpeningWire {
            salt: o.salt,
            bytes: B64.encode(&o.bytes),
        }
    }
    pub fn into_opening(self) -> Result<Opening, String> {
        Ok(Opening {
            salt: self.salt,
            bytes: B64
                .decode(self.bytes.as_bytes())
                .map_err(|e| format!("opening bytes: {e}"))?,
        })
    }
}

/// A signed change and the openings of what it commits to.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmissionWire {
    /// Standard base64 of `change bytes || signature`.
    pub signed: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<OpeningWire>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub side_doc: Option<OpeningWire>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub case_number: Option<OpeningWire>,
    /// The commitment (hex) of a blob this caller uploaded to the record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<(String, String)>,
}

impl SubmissionWire {
    pub fn from_submission(s: &Submission) -> Self {
        SubmissionWire {
            signed: B64.encode(&s.signed),
            content: s.content.as_ref().map(OpeningWire::from_opening),
            side_doc: s.side_doc.as_ref().map(OpeningWire::from_opening),
            case_number: s.case_number.as_ref().map(OpeningWire::from_opening),
            attachment: s.attachment.as_ref().map(|b| hex::encode(b.commitment)),
            source: s.source.clone(),
        }
    }

    /// The submission, untrusted (its signature is checked at append), and the
    /// attachment commitment it names, which the server resolves to its staged blob.
    pub fn into_submission(self) -> Result<(Submission, Option<[u8; 32]>), String> {
        let attachment = match &self.attachment {
            None => None,
            Some(h) => Some(
                crate::crypto::parse_hex32(h)
                    .ok_or_else(|| format!("attachment {h:?} is not 64 hex digits"))?,
            ),
        };
        let open = |o: Option<OpeningWire>| o.map(OpeningWire::into_opening).transpose();
        Ok((
            Submission {
                signed: B64
                    .decode(self.signed.as_bytes())
                    .map_err(|e| format!("signed change: {e}"))?,
                content: open(self.content)?,
                side_doc: open(self.side_doc)?,
                case_number: open(self.case_number)?,
                attachment: None,
                source: self.source,
                trusted: false,
            },
            attachment,
        ))
    }
}

/// `POST /v1/changes`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppendRequest {
    pub submissions: Vec<SubmissionWire>,
}

/// What became of one submission.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct OutcomeWire {
    pub seq: u64,
    /// The same change was already in the ledger (a retried write): a success.
    pub already_recorded: bool,
}

impl From<Outcome> for OutcomeWire {
    fn from(o: Outcome) -> Self {
        OutcomeWire {
            seq: o.seq(),
            already_recorded: matches!(o, Outcome::AlreadyRecorded(_)),
        }
    }
}

impl From<OutcomeWire> for Outcome {
    fn from(o: OutcomeWire) -> Self {
        if o.already_recorded {
            Outcome::AlreadyRecorded(o.seq)
        } else {
            Outcome::Appended(o.seq)
        }
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AppendResponse {
    pub outcomes: Vec<OutcomeWire>,
    /// The log's size after the batch.
    pub head: u64,
}

/// A blob staged by an upload, awaiting the change that attaches it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct StagedWire {
    #[serde(with = "hex::serde")]
    pub record: [u8; 16],
    #[serde(with = "hex::serde")]
    pub commitment: [u8; 32],
    pub size: u64,
}

impl From<&StagedBlob> for StagedWire {
    fn from(b: &StagedBlob) -> Self {
        StagedWire {
            record: b.record,
            commitment: b.commitment,
            size: b.size,
        }
    }
}

/// The ledger as a caller sees it: `GET /v1/ledger`.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct LedgerInfo {
    pub origin: String,
    pub size: u64,
    pub head: String,
    /// The checkpoint verifier key (`origin+keyid+base64`).
    pub verifier_key: String,
}

/// A record's content (`POST /v1/records/{id}/content`): the JSON content and the
/// case number.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ContentResponse {
    /// Standard base64 of the content bytes.
    pub content: String,
    pub case_number: Option<String>,
    /// The access entry that logged this read, for a restricted record.
    pub logged_at: Option<u64>,
}

/// An optional access change for a read (`POST` read routes).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadRequest {
    #[serde(default)]
    pub access: Option<SubmissionWire>,
}

/// Every error's body.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
}

pub fn b64(bytes: &[u8]) -> String {
    B64.encode(bytes)
}

pub fn unb64(s: &str) -> Result<Vec<u8>, String> {
    B64.decode(s.as_bytes()).map_err(|e| format!("base64: {e}"))
}

/// A record id sent as hex.
fn record_id(h: &str) -> Result<[u8; 16], String> {
    crate::crypto::parse_hex::<16>(h).ok_or_else(|| format!("{h:?} is not a record id"))
}

/// `POST /v1/archives`: what to export and to whom (`archive export`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExportRequest {
    pub selection: SelectionWire,
    /// age X25519 recipients (`age1…`); a passphrase is never sent to a server.
    pub recipients: Vec<String>,
    #[serde(default)]
    pub include_restricted: bool,
}

/// [`crate::archive::Selection`] on the wire, ids and dates as text.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum SelectionWire {
    Plan(String),
    Records(Vec<String>),
    ClosedBefore { record_type: String, before: String },
}

impl SelectionWire {
    pub fn from_selection(s: &crate::archive::Selection) -> Self {
        use crate::archive::Selection as S;
        match s {
            S::Plan(p) => SelectionWire::Plan(hex::encode(p)),
            S::Records(ids) => SelectionWire::Records(ids.iter().map(hex::encode).collect()),
            S::ClosedBefore {
                record_type,
                before,
            } => SelectionWire::ClosedBefore {
                record_type: record_type.clone(),
                before: before.to_string(),
            },
        }
    }

    pub fn into_selection(self) -> Result<crate::archive::Selection, String> {
        use crate::archive::Selection as S;
        let id = record_id;
        Ok(match self {
            SelectionWire::Plan(p) => S::Plan(id(&p)?),
            SelectionWire::Records(ids) => {
                S::Records(ids.iter().map(|h| id(h)).collect::<Result<_, _>>()?)
            }
            SelectionWire::ClosedBefore {
                record_type,
                before,
            } => S::ClosedBefore {
                record_type,
                before: before
                    .parse()
                    .map_err(|e| format!("closed_before {before:?}: {e}"))?,
            },
        })
    }
}

/// [`crate::ledger::transfer::TransferTargets`] on the wire, ids as hex.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TransferTargetsWire {
    pub records: Vec<String>,
    pub already_transferred: Vec<(String, u64)>,
    pub left_out: Vec<crate::ledger::docs::NotDisposed>,
}

impl TransferTargetsWire {
    pub fn from_targets(t: &crate::ledger::transfer::TransferTargets) -> Self {
        TransferTargetsWire {
            records: t.records.iter().map(hex::encode).collect(),
            already_transferred: t
                .already_transferred
                .iter()
                .map(|(r, s)| (hex::encode(r), *s))
                .collect(),
            left_out: t.left_out.clone(),
        }
    }

    pub fn into_targets(self) -> Result<crate::ledger::transfer::TransferTargets, String> {
        let id = record_id;
        Ok(crate::ledger::transfer::TransferTargets {
            records: self
                .records
                .iter()
                .map(|r| id(r))
                .collect::<Result<_, _>>()?,
            already_transferred: self
                .already_transferred
                .iter()
                .map(|(r, s)| Ok((id(r)?, *s)))
                .collect::<Result<_, String>>()?,
            left_out: self.left_out,
        })
    }
}
