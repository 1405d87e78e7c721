//! clap definitions. Parsing touches no disk, so `--help` and `--version` always work.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(
    name = "blotter",
    version,
    about = "A signed, hash-chained records ledger for police records units"
)]
pub struct Cli {
    /// The ledger folder a command opens.
    #[arg(long, global = true, env = "BLOTTER_LEDGER")]
    pub ledger: Option<PathBuf>,
    /// The actor's secret key file that signs a change.
    #[arg(long, global = true, env = "BLOTTER_KEY")]
    pub key: Option<PathBuf>,
    /// Send the command to a daemon (`blotter serve`) at this URL instead, e.g.
    /// http://127.0.0.1:7878; every request is signed with --key.
    #[arg(long, global = true, env = "BLOTTER_SERVER")]
    pub server: Option<String>,
    /// Print one JSON document on stdout and nothing else there.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a ledger: its ledger key, epoch keys, and the genesis entry signed by a first admin.
    Init(InitArgs),
    /// Manage keys, people and roles.
    #[command(subcommand)]
    Key(KeyCmd),
    /// Enter, amend, seal and read records.
    #[command(subcommand)]
    Record(RecordCmd),
    /// Import records and changes from a JSON-lines file, signed with --key.
    Import { file: PathBuf },
    /// Verify the whole history (or one record's) and name the first problem.
    Verify(VerifyArgs),
    /// Sign a checkpoint of the current head now (no subcommand), or show, list and
    /// cosign kept checkpoints.
    Checkpoint {
        #[command(subcommand)]
        cmd: Option<CheckpointCmd>,
    },
    /// Write an inclusion or consistency proof against a kept checkpoint.
    #[command(subcommand)]
    Proof(ProofCmd),
    /// Check proofs and checkpoints offline, with no ledger folder: only files and the
    /// ledger's verifier key.
    #[command(subcommand)]
    Audit(AuditCmd),
    /// Register and list the outside witnesses that cosign checkpoints.
    #[command(subcommand)]
    Witness(WitnessCmd),
    /// Check, adopt and list retention schedules (docs/RETENTION.md).
    #[command(subcommand)]
    Schedule(ScheduleCmd),
    /// Place, release and list legal holds (supervisor).
    #[command(subcommand)]
    Hold(HoldCmd),
    /// Which records become eligible when, and why, under the schedule in force.
    #[command(subcommand)]
    Retention(RetentionCmd),
    /// Plan, approve (another person), apply and certify retention purges.
    #[command(subcommand)]
    Purge(PurgeCmd),
    /// Court-ordered destruction, expungement or sealing outside the schedule.
    #[command(subcommand)]
    Order(OrderCmd),
    /// Export, verify, restore and transfer encrypted archives of records (docs/ARCHIVES.md).
    #[command(subcommand)]
    Archive(ArchiveCmd),
    /// Run the daemon: the authenticated HTTP API for the whole unit (docs/API.md).
    Serve(ServeArgs),
    /// Write a consistent copy of the ledger into a new folder that opens as a ledger
    /// (docs/BACKUP.md).
    Backup(BackupArgs),
    /// Build a demo ledger with its actors' keys in DIR/keys/, then verify it.
    Demo {
        #[arg(default_value = "blotter-demo")]
        dir: PathBuf,
        /// Number of records to create.
        #[arg(long, default_value_t = 3000)]
        records: usize,
    },
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address to listen on (default from --config, else 127.0.0.1:7878; port 0 picks one).
    #[arg(long)]
    pub listen: Option<std::net::SocketAddr>,
    /// TOML configuration file (docs/API.md, "Configuration").
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Listen on a non-loopback address without TLS. Requests stay signed, but record
    /// contents cross the network in clear: use only behind a TLS-terminating proxy.
    #[arg(long)]
    pub insecure_non_loopback: bool,
}

#[derive(Args, Debug)]
pub struct BackupArgs {
    /// The folder to create (never an existing one, nor one inside the ledger folder).
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Args, Debug)]
pub struct InitArgs {
    pub dir: PathBuf,
    /// The ledger's origin: a schemeless URL-like name, e.g. records.example-pd.gov/ledger.
    #[arg(long)]
    pub origin: String,
    /// Person id (badge or employee number) of the first administrator.
    #[arg(long)]
    pub person: String,
    /// Where to write the first admin's secret key (outside the ledger folder).
    #[arg(long, default_value = "admin.key")]
    pub admin_key: PathBuf,
    /// Where to write the ledger (checkpoint) key; default DIR/ledger.key.
    #[arg(long)]
    pub ledger_key: Option<PathBuf>,
    /// Protect the admin key with a passphrase (BLOTTER_PASSPHRASE or a prompt).
    #[arg(long)]
    pub protect: bool,
    /// Agency settings JSON file (default: built-in settings).
    #[arg(long)]
    pub settings: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum KeyCmd {
    /// Create a new secret key file (0600) and print its public key.
    New {
        #[arg(long)]
        out: PathBuf,
        /// Protect it with a passphrase (BLOTTER_PASSPHRASE or a prompt).
        #[arg(long)]
        protect: bool,
        /// scrypt work factor (log2 N) for --protect; lower only for tests.
        #[arg(long, hide = true)]
        scrypt_work_factor: Option<u8>,
    },
    /// Print the public key of a secret key file.
    Public { file: PathBuf },
    /// Register a public key for a person with a role (admin).
    Register {
        public_key: String,
        #[arg(long)]
        person: String,
        #[arg(long)]
        role: String,
    },
    /// Revoke a key (admin); --compromised-since flags its entries from that sequence number.
    Revoke {
        public_key: String,
        #[arg(long)]
        compromised_since: Option<u64>,
    },
    /// Register NEW for the same person and role as OLD, retiring OLD (admin).
    Rotate { old: String, new: String },
    /// List registered keys.
    List,
    /// Print the ledger's checkpoint verifier key (origin+keyid+base64) for auditors.
    Ledger,
}

#[derive(Subcommand, Debug)]
pub enum CheckpointCmd {
    /// Sign a checkpoint of the current head (the same as no subcommand).
    Make {
        /// The ledger key file, if it is not DIR/ledger.key.
        #[arg(long)]
        ledger_signing_key: Option<PathBuf>,
    },
    /// Print the latest kept checkpoint (or the one of --size) as a signed note.
    Show {
        #[arg(long)]
        size: Option<u64>,
    },
    /// List the kept checkpoints.
    List,
    /// Accept a checkpoint note carrying registered witnesses' cosignatures and keep them.
    Cosign { file: PathBuf },
}

#[derive(Subcommand, Debug)]
pub enum ProofCmd {
    /// Inclusion of entry --seq in the kept checkpoint of --size (default the latest), as
    /// a C2SP tlog-proof.
    Inclusion {
        #[arg(long)]
        seq: u64,
        #[arg(long)]
        size: Option<u64>,
        /// Also write the entry's stored bytes to this file (what `audit inclusion` checks).
        #[arg(long)]
        entry_out: Option<PathBuf>,
    },
    /// Consistency from tree size --from to the kept checkpoint of --to (default the
    /// latest), in the C2SP tlog-witness `old N` form (`--from 0`: a witness's first
    /// request, no proof).
    Consistency {
        #[arg(long)]
        from: u64,
        #[arg(long)]
        to: Option<u64>,
    },
}

#[derive(Subcommand, Debug)]
pub enum AuditCmd {
    /// Check that an entry is in the checkpoint you hold.
    Inclusion {
        /// The ledger's verifier key (or a file holding it), from `blotter key ledger`.
        #[arg(long)]
        ledger_key: String,
        #[arg(long)]
        checkpoint: PathBuf,
        /// The entry's stored bytes (`proof inclusion --entry-out`).
        #[arg(long)]
        entry: PathBuf,
        /// The C2SP tlog-proof (`proof inclusion`).
        #[arg(long)]
        proof: PathBuf,
    },
    /// Check that the new checkpoint extends the old one (nothing removed or changed).
    Consistency {
        #[arg(long)]
        ledger_key: String,
        #[arg(long)]
        old: PathBuf,
        #[arg(long)]
        new: PathBuf,
        /// The consistency proof (`proof consistency`).
        #[arg(long)]
        proof: PathBuf,
    },
    /// Check that witnesses cosigned the checkpoint you hold (C2SP tlog-cosignature).
    Cosignature {
        #[arg(long)]
        ledger_key: String,
        #[arg(long)]
        checkpoint: PathBuf,
        /// A witness's verifier key NAME+KEYID+BASE64 (key type 0x04), or a file
        /// holding it; repeat for each witness that must have cosigned.
        #[arg(long = "witness-key", required = true)]
        witness_keys: Vec<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum WitnessCmd {
    /// Register a witness by its verifier key NAME+KEYID+BASE64 (key type 0x04) (admin).
    Register { vkey: String },
    /// List registered witnesses.
    List,
}

#[derive(Subcommand, Debug)]
pub enum RecordCmd {
    /// Create a record; prints its id.
    Create {
        #[arg(long = "type")]
        record_type: String,
        /// JSON content file, or - for stdin.
        #[arg(long)]
        payload: PathBuf,
        #[arg(long)]
        case: Option<String>,
        /// The date the record itself was made (default today).
        #[arg(long)]
        created_on: Option<String>,
        #[arg(long)]
        confidential: bool,
    },
    /// Replace a record's content.
    Amend {
        id: String,
        #[arg(long)]
        payload: PathBuf,
    },
    /// Set a record's status (open, closed, served, ...) with its date.
    Status {
        id: String,
        #[arg(long)]
        status: String,
        #[arg(long)]
        date: Option<String>,
    },
    /// Seal a record on court order (supervisor).
    Seal {
        id: String,
        #[arg(long)]
        court_order: String,
    },
    /// Unseal a record (supervisor).
    Unseal {
        id: String,
        #[arg(long)]
        court_order: String,
    },
    /// Mark or unmark a record confidential (supervisor).
    Confidential {
        id: String,
        #[arg(long, action = clap::ArgAction::Set)]
        set: bool,
    },
    /// Print a record's state and content (sealed/confidential reads are logged first).
    Show { id: String },
    /// Print a record's changes.
    History { id: String },
    /// List records.
    List {
        #[arg(long = "type")]
        record_type: Option<String>,
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        case: Option<String>,
        #[arg(long)]
        from: Option<String>,
        #[arg(long)]
        to: Option<String>,
    },
    /// Attach a file (streamed, sealed on the way).
    Attach { id: String, file: PathBuf },
    /// List a record's attachments.
    Attachments { id: String },
    /// Write an attachment out, checking it against its commitment.
    GetAttachment {
        id: String,
        blob: String,
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// Check signatures and payloads from this sequence number on.
    #[arg(long, default_value_t = 0)]
    pub from: u64,
    /// Verify one record's history.
    #[arg(long)]
    pub record: Option<String>,
    /// The head you hold, SIZE:HASH; a shorter or different log is reported.
    #[arg(long)]
    pub expect_head: Option<String>,
    /// A checkpoint you hold (a signed note file); truncation or rollback relative to it
    /// is reported, naming both sizes.
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// The ledger's verifier key you pinned (or a file holding it), for --checkpoint.
    #[arg(long)]
    pub ledger_key: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum ScheduleCmd {
    /// Validate a schedule file; writes nothing (exit 2 with FILE:LINE:COL on an error).
    Check { file: PathBuf },
    /// Adopt a schedule file: keep it and append an entry committing to its hash.
    Adopt { file: PathBuf },
    /// List adopted schedules; the last is in force.
    List,
    /// Show a schedule's items (default: the one in force).
    Show {
        /// The schedule record id (from `schedule list`).
        id: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum HoldCmd {
    /// Place a hold on records, or on every record of a case (also ones added later).
    Place {
        /// litigation, records-request, investigation, audit or court-order.
        #[arg(long)]
        kind: String,
        /// The docket, request or order number the hold is under.
        #[arg(long)]
        authority: String,
        /// Hold every record of this case number.
        #[arg(long, conflicts_with = "records")]
        case: Option<String>,
        /// Record ids to hold.
        records: Vec<String>,
    },
    /// Release a hold.
    Release { hold: String },
    /// List holds (active ones; --all for released too).
    List {
        #[arg(long)]
        all: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum RetentionCmd {
    /// Per record: the item, trigger date, eligible date, the reason, what blocks it.
    Report {
        /// Evaluate as of this date (default: today in the agency's time zone).
        #[arg(long)]
        as_of: Option<String>,
        /// Only records with this status (eligible, not_yet, blocked, permanent,
        /// review, uncovered, no_trigger_yet).
        #[arg(long)]
        status: Option<String>,
    },
}

#[derive(Subcommand, Debug)]
pub enum PurgeCmd {
    /// Plan the disposition of everything eligible as of DATE (supervisor).
    Plan {
        #[arg(long)]
        as_of: String,
    },
    /// Approve a plan (a supervisor who is another person than the planner).
    Approve { plan: String },
    /// Apply an approved plan: dispose of each record still eligible and not held,
    /// destroy its data, and certify. Resumable after a crash.
    Apply { plan: String },
    /// Print the destruction certificate of an applied plan or order.
    Certificate {
        plan: String,
        /// A readable page instead of the signed JSON.
        #[arg(long)]
        text: bool,
    },
    /// List plans.
    List,
    /// Show a plan's document.
    Show { plan: String },
}

#[derive(Subcommand, Debug)]
pub enum OrderCmd {
    /// Record a court order to destroy, expunge or seal records (supervisor or admin).
    Record {
        #[arg(long)]
        court_order: String,
        /// destroy, expunge or seal.
        #[arg(long)]
        action: String,
        #[arg(required = true)]
        records: Vec<String>,
    },
    /// Approve an order (another person) and carry it out.
    Approve { order: String },
    /// Carry out an approved order again (after a crash).
    Apply { order: String },
    /// List disposal orders.
    List,
}

#[derive(Subcommand, Debug)]
pub enum ArchiveCmd {
    /// Write records as one `tar | zstd | age` file holding a BagIt bag that proves
    /// itself (admin, --key).
    Export(ExportArgs),
    /// Check an archive with nothing but the file, an age identity and the ledger's
    /// verifier key. Exit 1: the archive is wrong; exit 2: the check could not run.
    Verify(OpenArgs),
    /// Check an archive, then unpack it into a new read-only folder (the bag itself).
    Restore {
        #[command(flatten)]
        open: OpenArgs,
        /// The folder to create.
        #[arg(long)]
        into: PathBuf,
    },
    /// Transfer a plan's transfer records to the archives (admin, --key): export,
    /// verify the written archive, append a transfer entry per record naming the
    /// archive's BLAKE3, then destroy the live copies.
    Transfer {
        #[arg(long)]
        plan: String,
        #[arg(long)]
        out: PathBuf,
        /// An age X25519 recipient (age1…); repeat for several.
        #[arg(short = 'r', long = "recipient", required = true)]
        recipients: Vec<String>,
        /// An age identity file that opens the archive (one of the recipients'), used
        /// to verify it before anything is destroyed.
        #[arg(short = 'i', long = "identity", required = true)]
        identities: Vec<PathBuf>,
    },
}

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// The archive file to create (never overwritten).
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub select: SelectArgs,
    /// With --type: records whose status (not open) was set before this date.
    #[arg(long, requires = "record_type")]
    pub closed_before: Option<String>,
    /// An age X25519 recipient (age1…); repeat for several.
    #[arg(
        short = 'r',
        long = "recipient",
        required_unless_present = "passphrase"
    )]
    pub recipients: Vec<String>,
    /// Encrypt to a passphrase (BLOTTER_PASSPHRASE or a prompt) instead of recipients.
    #[arg(long, conflicts_with = "recipients")]
    pub passphrase: bool,
    /// Export sealed and confidential records too.
    #[arg(long)]
    pub include_restricted: bool,
}

#[derive(Args, Debug)]
#[group(required = true, multiple = false)]
pub struct SelectArgs {
    /// The records a purge plan lists for transfer.
    #[arg(long)]
    pub plan: Option<String>,
    /// These records (repeat).
    #[arg(long = "record")]
    pub records: Vec<String>,
    /// Records of this type (with --closed-before).
    #[arg(long = "type")]
    pub record_type: Option<String>,
}

#[derive(Args, Debug)]
pub struct OpenArgs {
    pub file: PathBuf,
    /// An age identity file (AGE-SECRET-KEY-1…); repeat for several.
    #[arg(short = 'i', long = "identity", required_unless_present = "passphrase")]
    pub identities: Vec<PathBuf>,
    /// The archive is encrypted to a passphrase (BLOTTER_PASSPHRASE or a prompt).
    #[arg(long)]
    pub passphrase: bool,
    /// The ledger's verifier key (or a file holding it), from `blotter key ledger`.
    #[arg(long)]
    pub ledger_key: String,
}
