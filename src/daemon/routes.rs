//! The route table: every authenticated route, the roles that may call it (DESIGN.md's
//! roles table, checked here on the server before the handler runs), and whether it
//! streams its request body. The router, the OpenAPI check and the role-matrix test
//! all read this one table.

use axum::http::Method;
use axum::routing::{get, post, MethodRouter};

use super::handlers as h;
use super::AppState;
use crate::format::Role;

const ALL: &[Role] = &[Role::Clerk, Role::Supervisor, Role::Auditor, Role::Admin];
const WRITERS: &[Role] = &[Role::Clerk, Role::Supervisor];
const ADMIN: &[Role] = &[Role::Admin];
const SCHEDULERS: &[Role] = &[Role::Supervisor, Role::Admin];
const SUPERVISOR: &[Role] = &[Role::Supervisor];

/// One authenticated route.
pub struct RouteSpec {
    pub method: Method,
    pub path: &'static str,
    pub roles: &'static [Role],
    /// The handler checks the body's digest itself while streaming it.
    pub streams_body: bool,
    pub summary: &'static str,
}

const fn r(
    method: Method,
    path: &'static str,
    roles: &'static [Role],
    summary: &'static str,
) -> RouteSpec {
    RouteSpec {
        method,
        path,
        roles,
        streams_body: false,
        summary,
    }
}

/// Every authenticated route. Changes are checked again per action by the ledger
/// (`POST /v1/changes` answers 403 for an action the caller's role may not sign).
pub const ROUTES: &[RouteSpec] = &[
    r(Method::GET, "/v1/ledger", ALL, "The ledger's origin, head and checkpoint verifier key."),
    r(Method::GET, "/v1/whoami", ALL, "The caller's registered key, person and role."),
    r(Method::GET, "/v1/keys", ALL, "Every registered key (`key list`)."),
    r(Method::POST, "/v1/changes", ALL, "Append signed changes (group-committed, durable before the answer)."),
    r(Method::GET, "/v1/records", ALL, "List records (`record list`)."),
    r(Method::GET, "/v1/records/{id}", ALL, "A record's state (no content)."),
    r(Method::POST, "/v1/records/states", ALL, "Several records' states, in the order asked (at most 5,000)."),
    r(Method::GET, "/v1/records/{id}/history", ALL, "A record's changes (`record history`)."),
    r(Method::POST, "/v1/records/{id}/content", ALL, "A record's content; a sealed or confidential record's only to a supervisor or auditor, after their signed access change is appended."),
    r(Method::GET, "/v1/records/{id}/attachments", ALL, "A record's attachments."),
    RouteSpec {
        method: Method::POST,
        path: "/v1/records/{id}/blobs",
        roles: WRITERS,
        streams_body: true,
        summary: "Upload an attachment, sealed as it streams in; the change that attaches it follows.",
    },
    r(Method::POST, "/v1/records/{id}/attachments/{blob}", ALL, "Download an attachment (streamed); restricted records as for content."),
    r(Method::GET, "/v1/entries/{seq}", ALL, "An entry's stored bytes."),
    r(Method::POST, "/v1/verify", ALL, "Verify the whole log (`verify`)."),
    r(Method::GET, "/v1/checkpoints", ALL, "Kept checkpoints (`checkpoint list`)."),
    r(Method::POST, "/v1/checkpoints", ALL, "Sign a checkpoint of the current head now."),
    r(Method::GET, "/v1/checkpoints/{size}", ALL, "A kept checkpoint note (`checkpoint show`); `latest` for the newest."),
    r(Method::POST, "/v1/checkpoints/cosignatures", ADMIN, "Keep registered witnesses' cosignatures on a kept checkpoint (`checkpoint cosign`)."),
    r(Method::GET, "/v1/witnesses", ALL, "Registered witnesses (`witness list`)."),
    r(Method::GET, "/v1/proofs/inclusion", ALL, "A tlog-proof of entry `seq` in the kept checkpoint of `size`."),
    r(Method::GET, "/v1/proofs/consistency", ALL, "A consistency proof from `from` to the kept checkpoint of `to`."),
    r(Method::GET, "/tile/entries/{*path}", ALL, "C2SP tlog-tiles entry bundles."),
    r(Method::POST, "/v1/archives", ADMIN, "An archive export (`archive export`): written by the server and streamed back: its summary as one JSON line, then the archive."),
    r(Method::POST, "/v1/backup", ADMIN, "A consistent copy of the ledger, as a tar stream (writes wait meanwhile)."),
    r(Method::GET, "/v1/schedules", ALL, "Adopted schedules (`schedule list`)."),
    r(Method::POST, "/v1/schedules/documents", SCHEDULERS, "Store a checked schedule file as a document, before the `schedule.adopt` change that commits to it."),
    r(Method::GET, "/v1/holds", ALL, "Holds (`hold list --all`)."),
    r(Method::GET, "/v1/retention/report", ALL, "The retention report as JSON lines: the schedule, each record's outcome, the summary (`retention report`)."),
    r(Method::GET, "/v1/authorities", ALL, "Purge plans or disposal orders (`purge list`, `order list`): `?kind=purge-plan|disposal-order`."),
    r(Method::GET, "/v1/authorities/{id}", ALL, "A purge plan's document and state (`purge show`)."),
    r(Method::GET, "/v1/authorities/{id}/certificate", ALL, "A destruction certificate with its signed entry (`purge certificate`)."),
    r(Method::POST, "/v1/authorities/plans", SUPERVISOR, "Build and keep the plan as of `as_of`, planned by the caller; the caller checks it and signs the `purge.plan` change (`purge plan`)."),
    r(Method::POST, "/v1/authorities/orders", SCHEDULERS, "Keep a court order's document, recorded by the caller; the caller checks it and signs the `order.record` change (`order record`)."),
    r(Method::GET, "/v1/authorities/{id}/targets", SCHEDULERS, "The records an approved plan or order calls for now, re-checked (`purge apply`, `order apply`, step 1)."),
    r(Method::POST, "/v1/authorities/{id}/finish", SCHEDULERS, "Destroy the data of the disposed records and, when done, keep the certificate for the caller to sign (step 3)."),
    r(Method::GET, "/v1/authorities/{id}/transfer", ADMIN, "What an approved plan has left to transfer now, re-checked (`archive transfer`, step 1)."),
    r(Method::POST, "/v1/authorities/{id}/transfer/finish", ADMIN, "After the caller's transfer entries: destroy the live copies they left pending (`archive transfer`, last step)."),
    r(Method::GET, "/v1/documents/{hash}", ALL, "A kept document (schedule, plan, order, certificate) by its BLAKE3."),
];

/// The public read side (GET, no authentication): C2SP tlog-tiles' checkpoint and hash
/// tiles, which reveal only hashes and the signed checkpoint.
pub const PUBLIC: &[&str] = &["/checkpoint", "/tile/{*path}"];

/// The spec of an authenticated route, by method and matched path.
pub fn spec(method: &Method, path: &str) -> Option<&'static RouteSpec> {
    ROUTES.iter().find(|s| s.method == method && s.path == path)
}

/// The handler of each route in [`ROUTES`]; the router is built from both, so a route
/// cannot exist without its roles.
pub fn handler(method: &Method, path: &str) -> Option<MethodRouter<AppState>> {
    let m = match (method.as_str(), path) {
        ("GET", "/v1/ledger") => get(h::ledger_info),
        ("GET", "/v1/whoami") => get(h::whoami),
        ("GET", "/v1/keys") => get(h::keys),
        ("POST", "/v1/changes") => post(h::append),
        ("GET", "/v1/records") => get(h::list),
        ("GET", "/v1/records/{id}") => get(h::record),
        ("POST", "/v1/records/states") => post(h::states),
        ("GET", "/v1/records/{id}/history") => get(h::history),
        ("POST", "/v1/records/{id}/content") => post(h::content),
        ("GET", "/v1/records/{id}/attachments") => get(h::attachments),
        ("POST", "/v1/records/{id}/blobs") => post(h::upload),
        ("POST", "/v1/records/{id}/attachments/{blob}") => post(h::download),
        ("GET", "/v1/entries/{seq}") => get(h::entry),
        ("POST", "/v1/verify") => post(h::verify),
        ("GET", "/v1/checkpoints") => get(h::checkpoints),
        ("POST", "/v1/checkpoints") => post(h::checkpoint_now),
        ("GET", "/v1/checkpoints/{size}") => get(h::checkpoint_show),
        ("POST", "/v1/checkpoints/cosignatures") => post(h::cosign),
        ("GET", "/v1/witnesses") => get(h::witnesses),
        ("GET", "/v1/proofs/inclusion") => get(h::inclusion),
        ("GET", "/v1/proofs/consistency") => get(h::consistency),
        ("GET", "/tile/entries/{*path}") => get(h::entry_tile),
        ("POST", "/v1/archives") => post(h::export),
        ("POST", "/v1/backup") => post(h::backup),
        ("GET", "/v1/schedules") => get(h::schedules),
        ("POST", "/v1/schedules/documents") => post(h::schedule_document),
        ("GET", "/v1/holds") => get(h::holds),
        ("GET", "/v1/retention/report") => get(h::retention_report),
        ("GET", "/v1/authorities") => get(h::authorities),
        ("GET", "/v1/authorities/{id}") => get(h::authority),
        ("GET", "/v1/authorities/{id}/certificate") => get(h::certificate),
        ("POST", "/v1/authorities/plans") => post(h::keep_plan),
        ("POST", "/v1/authorities/orders") => post(h::keep_order),
        ("GET", "/v1/authorities/{id}/targets") => get(h::targets),
        ("POST", "/v1/authorities/{id}/finish") => post(h::finish),
        ("GET", "/v1/authorities/{id}/transfer") => get(h::transfer_targets),
        ("POST", "/v1/authorities/{id}/transfer/finish") => post(h::transfer_finish),
        ("GET", "/v1/documents/{hash}") => get(h::document),
        _ => return None,
    };
    Some(m)
}
