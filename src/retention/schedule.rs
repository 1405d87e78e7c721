//! A retention schedule as data: the schedule, its items, their conditions,
//! dispositions and confidence marks.
//!
//! A [`Schedule`] only exists once its whole file has been checked
//! ([`Schedule::parse`]); there is no partially adopted schedule. It is immutable and
//! holds no agency setting, so one parsed schedule serves every evaluation.
//!
//! Invariants (kept by `parse.rs`):
//! - item ids are unique within a schedule;
//! - every item has a non-empty authority, retention text, source and record type list;
//! - no item is marked `M` (unverified): such an item is refused, never shipped;
//! - `disposition = "permanent"` if and only if `rule` is `permanent`.

use std::fmt;

use serde::Serialize;

use super::rule::Rule;

/// The version of the schedule file format this build reads.
pub const FORMAT_VERSION: i64 = 1;

/// A parsed, checked retention schedule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Schedule {
    /// The name it was parsed under (usually the file name), used in errors.
    pub name: String,
    /// State (or agency) whose schedule this is, e.g. "WA".
    pub state: String,
    pub title: String,
    pub version: String,
    /// Where the schedule itself is published.
    pub source: String,
    /// Free text about the file: what it covers, what it does not.
    pub notes: String,
    pub items: Vec<Item>,
}

/// One item (series) of a schedule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Item {
    /// Unique within the schedule; what outcomes and purge plans name.
    pub id: String,
    /// The disposition authority number as the schedule prints it (DAN, GRS number,
    /// OAR subsection...).
    pub authority: String,
    pub title: String,
    /// The record types it covers.
    pub record_types: Vec<String>,
    /// Payload conditions that must all hold for the item to cover a record.
    pub when: Vec<Condition>,
    /// Payload conditions any one of which excludes a record.
    pub unless: Vec<Condition>,
    /// The retention as the schedule words it, verbatim.
    pub retention_text: String,
    pub rule: Rule,
    pub disposition: Disposition,
    pub confidence: Confidence,
    /// Where the item's text was read.
    pub source: String,
    pub notes: String,
}

impl Item {
    /// True when the item covers records of this type with this payload.
    /// Whether deciding if this item covers a record, and when, reads payload fields.
    pub fn reads_fields(&self) -> bool {
        !self.when.is_empty() || !self.unless.is_empty() || self.rule.reads_fields()
    }

    pub fn covers(
        &self,
        record_type: &str,
        fields: &serde_json::Map<String, serde_json::Value>,
    ) -> bool {
        self.record_types.iter().any(|t| t == record_type)
            && self.when.iter().all(|c| c.holds(fields))
            && !self.unless.iter().any(|c| c.holds(fields))
    }
}

/// A condition on one payload field: the field holds one of `values`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Condition {
    pub field: String,
    pub values: Vec<FieldValue>,
}

/// A value a condition compares a payload field with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum FieldValue {
    /// Compared with a JSON string, ignoring ASCII case and surrounding spaces.
    Text(String),
    Bool(bool),
    Integer(i64),
}

impl Condition {
    /// True when the record's field is present and equals one of the values. A
    /// missing field never holds, so `when` fails and `unless` does not exclude.
    pub fn holds(&self, fields: &serde_json::Map<String, serde_json::Value>) -> bool {
        use serde_json::Value;
        let Some(v) = fields.get(&self.field) else {
            return false;
        };
        self.values.iter().any(|want| match (want, v) {
            (FieldValue::Text(w), Value::String(s)) => s.trim().eq_ignore_ascii_case(w),
            (FieldValue::Bool(w), Value::Bool(b)) => w == b,
            (FieldValue::Integer(w), Value::Number(n)) => n.as_i64() == Some(*w),
            _ => false,
        })
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let vals: Vec<String> = self
            .values
            .iter()
            .map(|v| match v {
                FieldValue::Text(s) => format!("{s:?}"),
                FieldValue::Bool(b) => b.to_string(),
                FieldValue::Integer(i) => i.to_string(),
            })
            .collect();
        write!(f, "{} = {}", self.field, vals.join(" | "))
    }
}

/// What happens to a record once it is eligible.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Disposition {
    /// Destroy (Blotter: destroy the payload's data key).
    Destroy,
    /// Transfer to the state archives, then destroy the live copy.
    TransferArchives,
    /// Transfer to another agency (DMV, court clerk, WASPC...), named in the item.
    TransferOther,
    /// Keep forever.
    Permanent,
    /// Appraisal or review by a person (or the archives) decides; never automatic.
    Review,
}

impl Disposition {
    /// The name as written in a schedule file.
    pub fn name(self) -> &'static str {
        match self {
            Disposition::Destroy => "destroy",
            Disposition::TransferArchives => "transfer-archives",
            Disposition::TransferOther => "transfer-other",
            Disposition::Permanent => "permanent",
            Disposition::Review => "review",
        }
    }

    /// Reads a file's name for it; `appraise` is a synonym of `review`.
    pub fn from_name(s: &str) -> Option<Disposition> {
        Some(match s {
            "destroy" => Disposition::Destroy,
            "transfer-archives" => Disposition::TransferArchives,
            "transfer-other" => Disposition::TransferOther,
            "permanent" => Disposition::Permanent,
            "review" | "appraise" => Disposition::Review,
            _ => return None,
        })
    }
}

impl fmt::Display for Disposition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How the item's text was obtained. `M` (not seen in any source) is not a variant:
/// the parser refuses it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Confidence {
    /// Verified: read directly in the schedule, rule or statute.
    V,
    /// Partial: the item was seen but its text was cut off; missing parts are not guessed.
    P,
    /// Secondary: from another body's schedule that cites the item.
    S,
    /// Adopted by the agency itself (its own schedule or internal minimum).
    A,
}

impl Confidence {
    pub fn from_name(s: &str) -> Option<Confidence> {
        Some(match s {
            "V" => Confidence::V,
            "P" => Confidence::P,
            "S" => Confidence::S,
            "A" => Confidence::A,
            _ => return None,
        })
    }
}

impl Schedule {
    /// Whether evaluating a record of `record_type` reads its payload fields: some item
    /// for the type has conditions or a rule that reads fields. When not, a caller may
    /// evaluate with empty `fields` and get the same outcome.
    pub fn reads_fields(&self, record_type: &str) -> bool {
        self.items
            .iter()
            .filter(|i| i.record_types.iter().any(|t| t == record_type))
            .any(Item::reads_fields)
    }

    /// The items covering a record, in file order.
    pub fn items_for<'s>(
        &'s self,
        record_type: &'s str,
        fields: &'s serde_json::Map<String, serde_json::Value>,
    ) -> impl Iterator<Item = &'s Item> + 's {
        self.items
            .iter()
            .filter(move |i| i.covers(record_type, fields))
    }

    /// True when at least one item names this record type (whatever its conditions).
    pub fn covers_type(&self, record_type: &str) -> bool {
        self.items
            .iter()
            .any(|i| i.record_types.iter().any(|t| t == record_type))
    }

    /// The types of `types` that no item names, in the order given.
    pub fn uncovered_types<'t>(&self, types: &[&'t str]) -> Vec<&'t str> {
        types
            .iter()
            .copied()
            .filter(|t| !self.covers_type(t))
            .collect()
    }

    /// Finds an item by id.
    pub fn item(&self, id: &str) -> Option<&Item> {
        self.items.iter().find(|i| i.id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn conditions_match_values_of_their_own_type() {
        let c = |values| Condition {
            field: "f".into(),
            values,
        };
        let fields = |v: serde_json::Value| json!({ "f": v }).as_object().cloned().unwrap();
        let text = c(vec![
            FieldValue::Text("felony".into()),
            FieldValue::Text("homicide".into()),
        ]);
        assert!(text.holds(&fields(json!(" Felony "))));
        assert!(text.holds(&fields(json!("homicide"))));
        assert!(!text.holds(&fields(json!("misdemeanor"))));
        assert!(!text.holds(&fields(json!(true))));
        assert!(!text.holds(&serde_json::Map::new()));
        let b = c(vec![FieldValue::Bool(false)]);
        assert!(b.holds(&fields(json!(false))));
        assert!(!b.holds(&fields(json!("false"))));
        let i = c(vec![FieldValue::Integer(3)]);
        assert!(i.holds(&fields(json!(3))));
        assert!(!i.holds(&fields(json!(3.5))));
    }
}
