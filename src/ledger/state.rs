//! Derived state kept beside the log for fast appends and reads: a record's current
//! state and the agency settings. All of it can be rebuilt from the log; `verify`
//! never trusts it.

use serde::{Deserialize, Serialize};

mod encoding;
pub(crate) use encoding::migrate;

/// Agency settings: the content payload of the genesis entry (and later `settings` entries).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// IANA time zone name, e.g. "America/Los_Angeles".
    pub time_zone: String,
    /// First day of the fiscal year, "MM-DD".
    pub fiscal_year_start: String,
    /// Record types clerks may create.
    pub record_types: Vec<String>,
    /// Types whose records are always confidential (juvenile records, say).
    #[serde(default)]
    pub confidential_types: Vec<String>,
    /// The agency's period for retention items kept "until no longer needed", counted
    /// from a record's last action ("2y", "18m"); unset, such items need review.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub no_longer_needed: Option<String>,
}

/// The record types a records unit keeps, by default.
pub const DEFAULT_TYPES: &[&str] = &[
    "incident",
    "arrest",
    "citation",
    "collision",
    "warrant",
    "subpoena",
    "court-order",
    "evidence",
    "property",
    "call",
    "records-request",
    "juvenile",
];

impl Default for Settings {
    fn default() -> Self {
        Settings {
            time_zone: "America/Los_Angeles".into(),
            fiscal_year_start: "07-01".into(),
            record_types: DEFAULT_TYPES.iter().map(|s| s.to_string()).collect(),
            confidential_types: vec!["juvenile".into()],
            no_longer_needed: None,
        }
    }
}

impl Settings {
    /// Checks the settings make sense; the message names the field.
    pub fn check(&self) -> Result<(), String> {
        jiff::tz::TimeZone::get(&self.time_zone)
            .map_err(|_| format!("settings: unknown time zone {:?}", self.time_zone))?;
        let ok = self.fiscal_year_start.len() == 5
            && format!("2000-{}", self.fiscal_year_start)
                .parse::<jiff::civil::Date>()
                .is_ok();
        if !ok {
            return Err(format!(
                "settings: fiscal_year_start {:?} must be MM-DD",
                self.fiscal_year_start
            ));
        }
        if let Some(p) = &self.no_longer_needed {
            p.parse::<crate::retention::Period>()
                .map_err(|e| format!("settings: no_longer_needed {p:?}: {e}"))?;
        }
        for t in self.record_types.iter().chain(&self.confidential_types) {
            crate::format::action::check_type(t).map_err(|e| format!("settings: {e}"))?;
            if crate::format::action::INTERNAL_TYPES.contains(&t.as_str()) {
                return Err(format!(
                    "settings: record type {t:?} is reserved for the ledger's own records"
                ));
            }
        }
        Ok(())
    }
    pub fn is_user_type(&self, t: &str) -> bool {
        self.record_types.iter().any(|x| x == t)
    }
}

/// A record's current state (derived; not secret). Stored in the binary form of
/// `state/encoding.rs`; its serde form is what `record show --json` and reports print.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct RecordState {
    #[serde(with = "hex::serde")]
    pub id: [u8; 16],
    pub record_type: String,
    pub created_on: String,
    /// Hash of the record's latest change (what the next change's `record_prev` must be).
    #[serde(with = "hex::serde")]
    pub latest: [u8; 32],
    pub first_seq: u64,
    pub last_seq: u64,
    pub changes: u64,
    pub status: Option<String>,
    pub status_date: Option<String>,
    pub sealed: bool,
    pub confidential: bool,
    /// Person id of the creator (two-person rules compare person ids).
    pub creator: String,
    #[serde(default, with = "opt_hex32")]
    pub case: Option<[u8; 32]>,
    /// Hash of the latest content change (what `record show` returns).
    #[serde(default, with = "opt_hex32")]
    pub content: Option<[u8; 32]>,
    pub disposed: Option<u64>,
    /// Schedules, holds, plans, orders: the document (BLAKE3) the record commits to.
    #[serde(default, with = "opt_hex32", skip_serializing_if = "Option::is_none")]
    pub document: Option<[u8; 32]>,
    /// Plans and orders: who approved, at which entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approved: Option<Approval>,
    /// Holds: the entry that released it. Plans and orders: the certificate's entry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed: Option<u64>,
    /// The latest date set for each status (`served` → 2024-05-01, ...): what retention
    /// triggers such as "served or recalled" count from.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub status_dates: std::collections::BTreeMap<String, String>,
    /// Ledger time (Unix ms) of the record's latest change: its last action.
    #[serde(default)]
    pub last_change_ms: i64,
}

/// The second person's approval of a plan or order.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Approval {
    pub person: String,
    pub seq: u64,
}

impl RecordState {
    /// Whether reading its content must be logged and restricted.
    pub fn restricted(&self) -> bool {
        self.sealed || self.confidential
    }
}

/// Destroyable metadata of a record: sealed under its data key.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Destroyable {
    pub case_number: Option<String>,
    #[serde(default, with = "opt_hex32")]
    pub case_salt: Option<[u8; 32]>,
    pub source_record: Option<String>,
}

mod opt_hex32 {
    use serde::{Deserialize, Deserializer, Serializer};
    pub fn serialize<S: Serializer>(v: &Option<[u8; 32]>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(b) => s.serialize_some(&hex::encode(b)),
            None => s.serialize_none(),
        }
    }
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<[u8; 32]>, D::Error> {
        let o: Option<String> = Option::deserialize(d)?;
        o.map(|h| {
            hex::decode(&h)
                .ok()
                .and_then(|v| v.try_into().ok())
                .ok_or_else(|| serde::de::Error::custom("expected 64 hex digits"))
        })
        .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_check_names_the_bad_field() {
        assert!(Settings::default().check().is_ok());
        let with = |f: &dyn Fn(&mut Settings)| {
            let mut s = Settings::default();
            f(&mut s);
            s.check()
        };
        assert!(with(&|s| s.no_longer_needed = Some("2y 6m".into())).is_ok());
        let e = with(&|s| s.no_longer_needed = Some("soon".into())).unwrap_err();
        assert!(e.contains("no_longer_needed"), "{e}");
        let e = with(&|s| s.time_zone = "Mars/Olympus".into()).unwrap_err();
        assert!(e.contains("time zone"), "{e}");
        let s = Settings {
            fiscal_year_start: "13-01".into(),
            ..Settings::default()
        };
        assert!(s.check().unwrap_err().contains("fiscal_year_start"));
    }
}
