//! Action codes and their typed bodies.
//!
//! Every action DESIGN.md's roles table names has its code and body here, in v1, even
//! where its command comes in a later release. Codes `0x0100..=0xFFFF` are reserved:
//! a v1 reader refuses them as "unknown action". No body carries free text: reasons,
//! notes, file names and court order references go into a side document whose salted
//! commitment the change carries.

use super::codec::{Reader, Writer};
use super::{check_name, Date, FormatError};

macro_rules! code_enum {
    ($(#[$m:meta])* $name:ident : $field:literal { $($var:ident = $code:literal => $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($var),+ }
        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$var),+];
            pub fn code(self) -> u8 { match self { $($name::$var => $code),+ } }
            pub fn from_code(c: u8) -> Result<Self, FormatError> {
                match c { $($code => Ok($name::$var),)+ _ => Err(FormatError::Invalid { field: $field, detail: format!("unknown code {c}") }) }
            }
            pub fn as_str(self) -> &'static str { match self { $($name::$var => $text),+ } }
        }
        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str(self.as_str()) }
        }
        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s { $($text => Ok($name::$var),)+ _ => Err(format!("unknown {} {s:?}; expected one of: {}", $field, [$($text),+].join(", "))) }
            }
        }
    };
}

code_enum!(
    /// A person's role, fixed by the key registration that binds their key.
    Role: "role" { Clerk = 1 => "clerk", Supervisor = 2 => "supervisor", Auditor = 3 => "auditor", Admin = 4 => "admin" }
);
code_enum!(
    /// A record's status, set by a `record.status` change with its date.
    RecordStatus: "status" {
        Open = 1 => "open", Closed = 2 => "closed", Served = 3 => "served",
        Recalled = 4 => "recalled", Superseded = 5 => "superseded",
        FinalDisposition = 6 => "final-disposition", AppealsExhausted = 7 => "appeals-exhausted",
    }
);
code_enum!(
    /// What a legal hold is for.
    HoldKind: "hold kind" {
        Litigation = 1 => "litigation", RecordsRequest = 2 => "records-request",
        Investigation = 3 => "investigation", Audit = 4 => "audit", CourtOrder = 5 => "court-order",
    }
);
code_enum!(
    /// What an `access` change records as read.
    AccessTarget: "access target" { Payload = 1 => "payload", Attachment = 2 => "attachment", SideDocument = 3 => "side-document", History = 4 => "history" }
);
code_enum!(
    /// Why a record's content is gone.
    DisposalKind: "disposal kind" { Destroy = 1 => "destroy", Expunge = 2 => "expunge" }
);
code_enum!(
    /// The kind tag mixed into a salted commitment (and stored beside the payload).
    /// Codes `0x10..` are reserved for per-field commitments (redacted releases).
    CommitmentKind: "commitment kind" {
        Content = 1 => "content", SideDocument = 2 => "side-document", Attachment = 3 => "attachment",
        CaseNumber = 4 => "case-number", Document = 5 => "document",
    }
);

/// The scope of a legal hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HoldScope {
    /// Explicit record ids, strictly ascending (so the encoding is canonical).
    Records(Vec<[u8; 16]>),
    /// Every record of a case, including ones added later: a salted commitment to the
    /// case number, whose opening is kept in the hold record's destroyable storage.
    Case([u8; 32]),
}

/// An action and its typed body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Sequence 0: names the ledger key and the first administrator (the signer).
    /// The agency settings document is the change's content payload.
    Genesis {
        ledger_key: [u8; 32],
        person: String,
        settings: [u8; 32],
    },
    KeyRegister {
        key: [u8; 32],
        person: String,
        role: Role,
        replaces: Option<[u8; 32]>,
    },
    KeyRevoke {
        key: [u8; 32],
        compromised_since: Option<u64>,
    },
    WitnessRegister {
        key: [u8; 32],
        name: String,
    },
    RecordCreate {
        confidential: bool,
    },
    RecordAmend,
    /// `blob` is the salted commitment to the attachment's plaintext; its file name is
    /// the change's side document.
    RecordAttach {
        blob: [u8; 32],
        size: u64,
    },
    RecordStatus {
        status: RecordStatus,
        date: Date,
    },
    /// The court order reference is the change's side document.
    RecordSeal,
    RecordUnseal,
    RecordConfidential {
        confidential: bool,
    },
    /// `change` is the hash of the change whose content was read (zero for history).
    Access {
        target: AccessTarget,
        change: [u8; 32],
    },
    /// The authority reference (docket, request number) is the side document.
    HoldPlace {
        kind: HoldKind,
        scope: HoldScope,
    },
    HoldRelease,
    ScheduleAdopt {
        document: [u8; 32],
    },
    Settings {
        document: [u8; 32],
    },
    PurgePlan {
        document: [u8; 32],
        as_of: Date,
    },
    PurgeApprove {
        document: [u8; 32],
    },
    OrderRecord {
        document: [u8; 32],
    },
    OrderApprove {
        document: [u8; 32],
    },
    /// One per record destroyed; `authority` is the plan or order record id.
    Disposal {
        kind: DisposalKind,
        authority: [u8; 16],
    },
    /// One per record transferred; `archive` is the BLAKE3 hash of the archive file.
    Transfer {
        authority: [u8; 16],
        archive: [u8; 32],
    },
    /// A destruction certificate for an applied plan or order (the document's hash).
    Certificate {
        document: [u8; 32],
    },
}

impl Action {
    /// The action code written in the change.
    pub fn code(&self) -> u16 {
        match self {
            Action::Genesis { .. } => 0x0001,
            Action::KeyRegister { .. } => 0x0010,
            Action::KeyRevoke { .. } => 0x0011,
            Action::WitnessRegister { .. } => 0x0012,
            Action::RecordCreate { .. } => 0x0020,
            Action::RecordAmend => 0x0021,
            Action::RecordAttach { .. } => 0x0022,
            Action::RecordStatus { .. } => 0x0023,
            Action::RecordSeal => 0x0024,
            Action::RecordUnseal => 0x0025,
            Action::RecordConfidential { .. } => 0x0026,
            Action::Access { .. } => 0x0030,
            Action::HoldPlace { .. } => 0x0040,
            Action::HoldRelease => 0x0041,
            Action::ScheduleAdopt { .. } => 0x0050,
            Action::Settings { .. } => 0x0051,
            Action::PurgePlan { .. } => 0x0060,
            Action::PurgeApprove { .. } => 0x0061,
            Action::OrderRecord { .. } => 0x0070,
            Action::OrderApprove { .. } => 0x0071,
            Action::Disposal { .. } => 0x0080,
            Action::Transfer { .. } => 0x0081,
            Action::Certificate { .. } => 0x0082,
        }
    }

    /// Whether the action makes a new record (its change is the record's first).
    pub fn creates_record(&self) -> bool {
        matches!(
            self,
            Action::Genesis { .. }
                | Action::KeyRegister { .. }
                | Action::WitnessRegister { .. }
                | Action::RecordCreate { .. }
                | Action::HoldPlace { .. }
                | Action::ScheduleAdopt { .. }
                | Action::PurgePlan { .. }
                | Action::OrderRecord { .. }
        )
    }

    /// The record type an action that creates an internal record requires.
    pub fn internal_type(&self) -> Option<&'static str> {
        match self {
            Action::Genesis { .. } => Some("ledger"),
            Action::KeyRegister { .. } => Some("key"),
            Action::WitnessRegister { .. } => Some("witness"),
            Action::HoldPlace { .. } => Some("hold"),
            Action::ScheduleAdopt { .. } => Some("schedule"),
            Action::PurgePlan { .. } => Some("purge-plan"),
            Action::OrderRecord { .. } => Some("disposal-order"),
            _ => None,
        }
    }

    /// The action's name as the CLI and reports print it.
    pub fn name(&self) -> &'static str {
        match self {
            Action::Genesis { .. } => "genesis",
            Action::KeyRegister { .. } => "key.register",
            Action::KeyRevoke { .. } => "key.revoke",
            Action::WitnessRegister { .. } => "witness.register",
            Action::RecordCreate { .. } => "record.create",
            Action::RecordAmend => "record.amend",
            Action::RecordAttach { .. } => "record.attach",
            Action::RecordStatus { .. } => "record.status",
            Action::RecordSeal => "record.seal",
            Action::RecordUnseal => "record.unseal",
            Action::RecordConfidential { .. } => "record.confidential",
            Action::Access { .. } => "access",
            Action::HoldPlace { .. } => "hold.place",
            Action::HoldRelease => "hold.release",
            Action::ScheduleAdopt { .. } => "schedule.adopt",
            Action::Settings { .. } => "settings",
            Action::PurgePlan { .. } => "purge.plan",
            Action::PurgeApprove { .. } => "purge.approve",
            Action::OrderRecord { .. } => "order.record",
            Action::OrderApprove { .. } => "order.approve",
            Action::Disposal { .. } => "disposal",
            Action::Transfer { .. } => "transfer",
            Action::Certificate { .. } => "certificate",
        }
    }

    pub(crate) fn write_body(&self, w: &mut Writer) -> Result<(), FormatError> {
        match self {
            Action::Genesis {
                ledger_key,
                person,
                settings,
            } => {
                w.bytes(ledger_key);
                write_person(w, person)?;
                w.bytes(settings);
            }
            Action::KeyRegister {
                key,
                person,
                role,
                replaces,
            } => {
                w.bytes(key);
                write_person(w, person)?;
                w.u8(role.code());
                w.opt32(replaces);
            }
            Action::KeyRevoke {
                key,
                compromised_since,
            } => {
                w.bytes(key);
                w.opt_u64(*compromised_since);
            }
            Action::WitnessRegister { key, name } => {
                w.bytes(key);
                check_note_name(name)?;
                w.short(name.as_bytes())?;
            }
            Action::RecordCreate { confidential } | Action::RecordConfidential { confidential } => {
                w.u8(u8::from(*confidential))
            }
            Action::RecordAmend
            | Action::RecordSeal
            | Action::RecordUnseal
            | Action::HoldRelease => {}
            Action::RecordAttach { blob, size } => {
                w.bytes(blob);
                w.u64(*size);
            }
            Action::RecordStatus { status, date } => {
                w.u8(status.code());
                date.write(w);
            }
            Action::Access { target, change } => {
                w.u8(target.code());
                w.bytes(change);
            }
            Action::HoldPlace { kind, scope } => {
                w.u8(kind.code());
                match scope {
                    HoldScope::Records(ids) => {
                        if ids.is_empty() || ids.windows(2).any(|p| p[0] >= p[1]) {
                            return Err(FormatError::Invalid {
                                field: "hold scope",
                                detail: "record ids must be non-empty and strictly ascending"
                                    .into(),
                            });
                        }
                        w.u8(1);
                        let n = u16::try_from(ids.len())
                            .map_err(|_| FormatError::TooLong("hold scope", ids.len()))?;
                        w.u16(n);
                        ids.iter().for_each(|id| w.bytes(id));
                    }
                    HoldScope::Case(c) => {
                        w.u8(2);
                        w.bytes(c);
                    }
                }
            }
            Action::ScheduleAdopt { document }
            | Action::Settings { document }
            | Action::PurgeApprove { document }
            | Action::OrderRecord { document }
            | Action::OrderApprove { document }
            | Action::Certificate { document } => w.bytes(document),
            Action::PurgePlan { document, as_of } => {
                w.bytes(document);
                as_of.write(w);
            }
            Action::Disposal { kind, authority } => {
                w.u8(kind.code());
                w.bytes(authority);
            }
            Action::Transfer { authority, archive } => {
                w.bytes(authority);
                w.bytes(archive);
            }
        }
        Ok(())
    }

    pub(crate) fn read_body(code: u16, body: &[u8]) -> Result<Action, FormatError> {
        let mut r = Reader::new(body);
        let a = match code {
            0x0001 => Action::Genesis {
                ledger_key: r.array("ledger key")?,
                person: read_person(&mut r)?,
                settings: r.array("settings hash")?,
            },
            0x0010 => Action::KeyRegister {
                key: r.array("key")?,
                person: read_person(&mut r)?,
                role: Role::from_code(r.u8("role")?)?,
                replaces: r.opt32("replaces")?,
            },
            0x0011 => Action::KeyRevoke {
                key: r.array("key")?,
                compromised_since: r.opt_u64("compromised since")?,
            },
            0x0012 => {
                let key = r.array("witness key")?;
                let name = utf8(r.short("witness name")?, "witness name")?;
                check_note_name(&name)?;
                Action::WitnessRegister { key, name }
            }
            0x0020 => Action::RecordCreate {
                confidential: r.flag("confidential")?,
            },
            0x0021 => Action::RecordAmend,
            0x0022 => Action::RecordAttach {
                blob: r.array("blob commitment")?,
                size: r.u64("size")?,
            },
            0x0023 => Action::RecordStatus {
                status: RecordStatus::from_code(r.u8("status")?)?,
                date: Date::read(&mut r, "status date")?,
            },
            0x0024 => Action::RecordSeal,
            0x0025 => Action::RecordUnseal,
            0x0026 => Action::RecordConfidential {
                confidential: r.flag("confidential")?,
            },
            0x0030 => Action::Access {
                target: AccessTarget::from_code(r.u8("access target")?)?,
                change: r.array("accessed change")?,
            },
            0x0040 => {
                let kind = HoldKind::from_code(r.u8("hold kind")?)?;
                let scope = match r.u8("hold scope")? {
                    1 => {
                        let n = r.u16("hold scope count")? as usize;
                        let mut ids = Vec::with_capacity(n.min(4096));
                        for _ in 0..n {
                            ids.push(r.array::<16>("hold record id")?);
                        }
                        if ids.is_empty() || ids.windows(2).any(|p| p[0] >= p[1]) {
                            return Err(FormatError::NonCanonical {
                                field: "hold scope",
                                offset: 0,
                                detail: "record ids must be non-empty and strictly ascending"
                                    .into(),
                            });
                        }
                        HoldScope::Records(ids)
                    }
                    2 => HoldScope::Case(r.array("hold case commitment")?),
                    s => {
                        return Err(FormatError::Invalid {
                            field: "hold scope",
                            detail: format!("unknown scope {s}"),
                        })
                    }
                };
                Action::HoldPlace { kind, scope }
            }
            0x0041 => Action::HoldRelease,
            0x0050 => Action::ScheduleAdopt {
                document: r.array("document hash")?,
            },
            0x0051 => Action::Settings {
                document: r.array("document hash")?,
            },
            0x0060 => Action::PurgePlan {
                document: r.array("document hash")?,
                as_of: Date::read(&mut r, "as-of date")?,
            },
            0x0061 => Action::PurgeApprove {
                document: r.array("document hash")?,
            },
            0x0070 => Action::OrderRecord {
                document: r.array("document hash")?,
            },
            0x0071 => Action::OrderApprove {
                document: r.array("document hash")?,
            },
            0x0080 => Action::Disposal {
                kind: DisposalKind::from_code(r.u8("disposal kind")?)?,
                authority: r.array("authority")?,
            },
            0x0081 => Action::Transfer {
                authority: r.array("authority")?,
                archive: r.array("archive hash")?,
            },
            0x0082 => Action::Certificate {
                document: r.array("document hash")?,
            },
            other => return Err(FormatError::UnknownAction(other)),
        };
        r.finish("action body")?;
        Ok(a)
    }
}

fn utf8(b: &[u8], field: &'static str) -> Result<String, FormatError> {
    String::from_utf8(b.to_vec()).map_err(|_| FormatError::Invalid {
        field,
        detail: "not UTF-8".into(),
    })
}

/// A person id (badge or employee number): 1 to 64 printable ASCII characters, no spaces.
pub fn check_person(p: &str) -> Result<(), FormatError> {
    if p.is_empty() || p.len() > 64 || !p.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(FormatError::Invalid {
            field: "person id",
            detail: format!("{p:?} must be 1-64 printable ASCII characters without spaces"),
        });
    }
    Ok(())
}

fn write_person(w: &mut Writer, p: &str) -> Result<(), FormatError> {
    check_person(p)?;
    w.short(p.as_bytes())
}

fn read_person(r: &mut Reader<'_>) -> Result<String, FormatError> {
    let p = utf8(r.short("person id")?, "person id")?;
    check_person(&p)?;
    Ok(p)
}

/// A signed-note key name: non-empty, no spaces, no `+`, no control characters.
pub fn check_note_name(name: &str) -> Result<(), FormatError> {
    if name.is_empty()
        || name.len() > 255
        || name
            .chars()
            .any(|c| c.is_whitespace() || c == '+' || c.is_control())
    {
        return Err(FormatError::Invalid {
            field: "origin",
            detail: format!("{name:?} must be a schemeless URL-like name without spaces or '+', e.g. records.example-pd.gov/ledger"),
        });
    }
    Ok(())
}

/// Record types reserved for the ledger's own records (keys, holds, plans, ...).
pub const INTERNAL_TYPES: &[&str] = &[
    "ledger",
    "key",
    "witness",
    "schedule",
    "hold",
    "purge-plan",
    "disposal-order",
];

/// Checks a record type name (see [`check_name`]).
pub fn check_type(t: &str) -> Result<(), FormatError> {
    check_name("record type", t)
}
