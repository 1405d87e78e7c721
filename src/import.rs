//! Bulk import of unsigned records and changes from JSON lines (`docs/IMPORT.md`).
//!
//! Two passes over the file: the first validates every line (JSON, fields, dates,
//! types, references to records made by earlier lines or earlier imports) and writes
//! nothing; the second signs and commits batch by batch, each batch one durable commit.
//! Memory follows the batch, not the file: the import pass keeps state for one batch
//! only (records it has made are found again through the store's source index), and the
//! validation pass keeps 16 bytes per line (a 128-bit BLAKE3 hash of each source reference) to
//! catch duplicates without writing anything. A line whose source change reference is
//! already recorded is skipped, so a re-run after a crash finishes the rest.

use std::collections::{HashMap, HashSet};
use std::io::BufRead;
use std::path::Path;

use ed25519_dalek::SigningKey;
use rayon::prelude::*;
use serde::Deserialize;

use crate::format::{Action, Date, RecordStatus};
use crate::ledger::{Draft, Ledger, LedgerError};

/// Changes per durable commit.
pub const BATCH: usize = 2048;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    pub record: String,
    pub change: String,
}

/// One line of an import file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Line {
    pub source: Source,
    /// `create`, `amend` or `status`.
    pub action: String,
    #[serde(rename = "type")]
    pub record_type: Option<String>,
    pub created_on: Option<String>,
    pub case_number: Option<String>,
    #[serde(default)]
    pub confidential: bool,
    pub payload: Option<serde_json::Value>,
    pub status: Option<String>,
    pub date: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("{file}: {source}")]
    Io {
        file: String,
        source: std::io::Error,
    },
    #[error("{file}:{line}: {detail}")]
    Line {
        file: String,
        line: usize,
        detail: String,
    },
    #[error(transparent)]
    Ledger(#[from] LedgerError),
}

#[derive(Debug, Default, serde::Serialize)]
pub struct Summary {
    pub lines: u64,
    pub appended: u64,
    pub skipped: u64,
    pub head: u64,
}

/// A record's latest change hash and case commitment within the current batch.
type Latest = ([u8; 32], Option<[u8; 32]>);

struct Known {
    id: [u8; 16],
    record_type: String,
    created_on: Date,
}

fn parse_line(text: &str) -> Result<Line, String> {
    let l: Line = serde_json::from_str(text).map_err(|e| format!("column {}: {e}", e.column()))?;
    if l.source.record.is_empty() || l.source.change.is_empty() {
        return Err("source.record and source.change must not be empty".into());
    }
    match l.action.as_str() {
        "create" => {
            if l.record_type.is_none() || l.payload.is_none() {
                return Err("a create needs \"type\" and \"payload\"".into());
            }
        }
        "amend" => {
            if l.payload.is_none() {
                return Err("an amend needs \"payload\"".into());
            }
        }
        "status" => {
            let s = l
                .status
                .as_deref()
                .ok_or("a status change needs \"status\"")?;
            s.parse::<RecordStatus>()?;
            if l.payload.is_some() {
                return Err("a status change carries no \"payload\"; use an amend line".into());
            }
            l.date
                .as_deref()
                .ok_or("a status change needs \"date\"")?
                .parse::<Date>()
                .map_err(|e| e.to_string())?;
        }
        other => {
            return Err(format!(
                "unknown action {other:?}; expected create, amend or status"
            ))
        }
    }
    if l.action != "create"
        && (l.record_type.is_some()
            || l.created_on.is_some()
            || l.case_number.is_some()
            || l.confidential)
    {
        return Err("\"type\", \"created_on\", \"case_number\" and \"confidential\" belong on a create line only".into());
    }
    if l.action == "status" && l.payload.is_some() {
        return Err("a status change carries no \"payload\"".into());
    }
    if l.action != "status" && (l.status.is_some() || l.date.is_some()) {
        return Err("\"status\" and \"date\" belong on a status line only".into());
    }
    if let Some(p) = &l.payload {
        if !p.is_object() {
            return Err("\"payload\" must be a JSON object".into());
        }
    }
    if let Some(d) = &l.created_on {
        d.parse::<Date>().map_err(|e| e.to_string())?;
    }
    Ok(l)
}

fn lines(
    path: &Path,
) -> Result<impl Iterator<Item = (usize, std::io::Result<String>)>, ImportError> {
    let f = std::fs::File::open(path).map_err(|source| ImportError::Io {
        file: path.display().to_string(),
        source,
    })?;
    Ok(std::io::BufReader::new(f)
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .filter(|(_, l)| !matches!(l, Ok(s) if s.trim().is_empty())))
}

/// Validates the whole file; returns the number of lines. Writes nothing.
pub fn validate(ledger: &Ledger, path: &Path) -> Result<u64, ImportError> {
    let file = path.display().to_string();
    // INVARIANT: 16 bytes per line, whatever the size of the line (see the module doc).
    let short = |domain: &str, term: &str| -> [u8; 16] {
        let mut h = blake3::Hasher::new();
        h.update(domain.as_bytes())
            .update(&[0])
            .update(term.as_bytes());
        let mut out = [0u8; 16];
        out.copy_from_slice(&h.finalize().as_bytes()[..16]);
        out
    };
    let mut created: HashSet<[u8; 16]> = HashSet::new();
    let mut changes: HashSet<[u8; 16]> = HashSet::new();
    let mut n = 0;
    for (no, text) in lines(path)? {
        let text = text.map_err(|source| ImportError::Io {
            file: file.clone(),
            source,
        })?;
        let err = |detail: String| ImportError::Line {
            file: file.clone(),
            line: no,
            detail,
        };
        let l = parse_line(&text).map_err(err)?;
        if !changes.insert(short("change", &l.source.change)) {
            return Err(err(format!(
                "source change {:?} appears twice",
                l.source.change
            )));
        }
        if l.action == "create" {
            let t = l.record_type.clone().unwrap_or_default();
            if !ledger.settings().is_user_type(&t) {
                return Err(err(format!(
                    "unknown record type {t:?}; the agency settings allow: {}",
                    ledger.settings().record_types.join(", ")
                )));
            }
            let recorded = ledger.source_change(&l.source.change)?.is_some();
            let rec = short("record", &l.source.record);
            if created.contains(&rec)
                || (!recorded && ledger.source_record(&l.source.record)?.is_some())
            {
                return Err(err(format!(
                    "record {:?} is created twice",
                    l.source.record
                )));
            }
            created.insert(rec);
        } else if !created.contains(&short("record", &l.source.record))
            && ledger.source_record(&l.source.record)?.is_none()
        {
            return Err(err(format!(
                "record {:?} is not created by an earlier line or import",
                l.source.record
            )));
        }
        n += 1;
    }
    Ok(n)
}

/// Validates, then imports `path`, signing with `key`. `progress` gets `(lines done, lines)`.
pub fn import(
    ledger: &mut Ledger,
    key: &SigningKey,
    path: &Path,
    progress: &dyn Fn(u64, u64),
) -> Result<Summary, ImportError> {
    let total = validate(ledger, path)?;
    let file = path.display().to_string();
    let actor = key.verifying_key().to_bytes();
    let mut sum = Summary {
        lines: total,
        ..Default::default()
    };
    let mut known: HashMap<String, Known> = HashMap::new();
    let mut latest: HashMap<[u8; 16], Latest> = HashMap::new();
    let mut pending = Vec::with_capacity(BATCH);
    let mut iter = lines(path)?;
    loop {
        let next = iter.next();
        let done = next.is_none();
        if let Some((no, text)) = next {
            let text = text.map_err(|source| ImportError::Io {
                file: file.clone(),
                source,
            })?;
            let l = parse_line(&text).map_err(|detail| ImportError::Line {
                file: file.clone(),
                line: no,
                detail,
            })?;
            if ledger.source_change(&l.source.change)?.is_some() {
                sum.skipped += 1;
            } else {
                let d =
                    draft(ledger, &mut known, &latest, l).map_err(|detail| ImportError::Line {
                        file: file.clone(),
                        line: no,
                        detail,
                    })?;
                let p = ledger.prepare(&actor, d.0)?;
                latest.insert(d.1, (p.hash, p.case));
                pending.push(p);
            }
        }
        if pending.len() >= BATCH || (done && !pending.is_empty()) {
            let subs: Vec<_> = std::mem::take(&mut pending)
                .into_par_iter()
                .map(|p| p.sign(key))
                .collect();
            let n = subs.len() as u64;
            ledger.append(subs)?;
            sum.appended += n;
            // INVARIANT: after the commit the store answers for these records.
            latest.clear();
            known.clear();
            progress(sum.appended + sum.skipped, total);
        }
        if done {
            break;
        }
    }
    sum.head = ledger.head().size;
    Ok(sum)
}

fn draft(
    ledger: &Ledger,
    known: &mut HashMap<String, Known>,
    latest: &HashMap<[u8; 16], Latest>,
    l: Line,
) -> Result<(Draft, [u8; 16]), String> {
    let source = Some((l.source.record.clone(), l.source.change.clone()));
    let content = l
        .payload
        .as_ref()
        .map(|p| serde_json::to_vec(p).unwrap_or_default());
    if l.action == "create" {
        let created_on = match &l.created_on {
            Some(d) => d
                .parse()
                .map_err(|e: crate::format::FormatError| e.to_string())?,
            None => crate::ledger::append::today(),
        };
        let t = l.record_type.clone().unwrap_or_default();
        let mut d = Draft::new_record(
            &t,
            created_on,
            Action::RecordCreate {
                confidential: l.confidential,
            },
        );
        d.content = content;
        d.case_number = l.case_number;
        d.source = source;
        known.insert(
            l.source.record,
            Known {
                id: d.record,
                record_type: t,
                created_on,
            },
        );
        let id = d.record;
        return Ok((d, id));
    }
    let action = match l.action.as_str() {
        "amend" => Action::RecordAmend,
        _ => Action::RecordStatus {
            status: l.status.as_deref().unwrap_or_default().parse()?,
            date: l
                .date
                .as_deref()
                .unwrap_or_default()
                .parse()
                .map_err(|e: crate::format::FormatError| e.to_string())?,
        },
    };
    let id = match known.get(&l.source.record) {
        Some(k) => k.id,
        None => ledger
            .source_record(&l.source.record)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("record {:?} is unknown", l.source.record))?,
    };
    // INVARIANT: a record changed earlier in this batch chains to that change, not to the
    // store's (not yet committed) state.
    let mut d = match latest.get(&id) {
        Some(&(prev, case)) => {
            let (record_type, created_on) = match known.get(&l.source.record) {
                Some(k) => (k.record_type.clone(), k.created_on),
                None => {
                    let st = ledger
                        .record(&id)
                        .map_err(|e| e.to_string())?
                        .ok_or("record state missing")?;
                    (
                        st.record_type,
                        st.created_on
                            .parse()
                            .map_err(|e: crate::format::FormatError| e.to_string())?,
                    )
                }
            };
            let mut d = Draft::new_record(&record_type, created_on, action);
            d.record = id;
            d.record_prev = prev;
            d.case = case;
            d
        }
        None => ledger.draft(&id, action).map_err(|e| e.to_string())?,
    };
    d.content = content;
    d.source = source;
    let id = d.record;
    Ok((d, id))
}
