//! HTTP Message Signatures (RFC 9421) in one fixed Ed25519 profile, shared by the daemon
//! (which verifies) and the HTTP client (which signs).
//!
//! The profile, in full:
//!
//! ```text
//! Content-Digest: sha-256=:<base64 of SHA-256(body)>:
//! Signature-Input: sig1=("@method" "@target-uri" "content-digest");created=<unix secs>
//!                  ;keyid="<64 lowercase hex: the Ed25519 public key>";alg="ed25519"
//!                  ;nonce="<16..=128 characters>"
//! Signature: sig1=:<base64 of the 64-byte Ed25519 signature over the signature base>:
//! ```
//!
//! (`Signature-Input` is one line; it is wrapped here.) A verifier also accepts more
//! covered components (the other derived components of [`signature_base`] and header
//! fields the request carries), `expires` and `tag`.
//!
//! - The signature base is RFC 9421 §2.5's: one `"<component>": <value>` line per covered
//!   component, then `"@signature-params": <the inner list>`, joined by `\n`.
//! - `Signature-Input`, `Signature` and `Content-Digest` are parsed as RFC 8941 dictionaries
//!   (with `sfv`) and must be in their canonical serialization: that rules out duplicate
//!   labels and parameters (which RFC 8941 parsing would silently fold into the last one),
//!   non-canonical base64, and any gap between the text signed and the text parsed.
//! - Signatures are checked with `verify_strict`, the one rule of [`crate::crypto`].
//!
//! What this module does not do: I/O, reading a clock (`now` is an argument), checking a
//! body against its digest (the caller hashes the body it reads, with [`content_digest`]
//! or a [`DigestWriter`], and calls [`Verified::check_digest`]), knowing which keys are
//! registered, or remembering nonces on its own ([`ReplayCache`] is the caller's to keep
//! and consult after a signature verifies).
//!
//! INVARIANTS:
//! - [`verify_request`] never accepts a signature that does not cover every component of
//!   [`REQUIRED`], or whose `created` is more than [`MAX_SKEW_SECS`] from `now`.
//! - Nothing here panics on input: every header, URI and parameter is checked and refused
//!   with an [`AuthError`].
//! - `@target-uri` is compared byte for byte: the verifier must be given the same absolute
//!   URI text the client signed.

mod base;
mod replay;
#[cfg(test)]
mod tests;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};
use http::header::{HeaderMap, HeaderName};
use sfv::{BareItem, Dictionary, FieldType, InnerList, Item, ListEntry, Parser, Version};
use sha2::{Digest, Sha256};

pub use base::signature_base;
pub use replay::ReplayCache;

use base::{base_for, base_text, covered_components, field_value, serialize_inner_list};

/// The one signature label of the profile.
pub const LABEL: &str = "sig1";
/// Accepted distance between `created` and the server's clock.
pub const MAX_SKEW_SECS: i64 = 60;
/// The components every request must cover.
pub const REQUIRED: [&str; 3] = ["@method", "@target-uri", "content-digest"];
/// The only signature algorithm of the profile (RFC 9421 §3.3.6).
pub const ALG: &str = "ed25519";
/// Bounds on the length of a nonce, in characters.
pub const NONCE_LEN: std::ops::RangeInclusive<usize> = 16..=128;
/// At most this many covered components: bounds the work a request can ask for.
pub const MAX_COMPONENTS: usize = 32;

const SIGNATURE_INPUT: HeaderName = HeaderName::from_static("signature-input");
const SIGNATURE: HeaderName = HeaderName::from_static("signature");
const CONTENT_DIGEST: HeaderName = HeaderName::from_static("content-digest");

/// Why a request's signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("the request has no {0} header")]
    Missing(&'static str),
    #[error("the signature covers the header field `{0}`, which the request does not have")]
    MissingCovered(String),
    #[error("malformed signature: {0}")]
    Malformed(String),
    #[error("unsupported signature: {0}")]
    Unsupported(String),
    #[error("the signature does not verify")]
    BadSignature,
    #[error(
        "the signature was created at {created}, more than {MAX_SKEW_SECS} s from the \
         server's clock ({now}): check the client's clock"
    )]
    Stale { created: i64, now: i64 },
    #[error("the signature expired at {expires} (the server's clock says {now})")]
    Expired { expires: i64, now: i64 },
    #[error("this key already used this nonce: the request is a replay")]
    Replayed,
    #[error("the body does not match the Content-Digest header")]
    DigestMismatch,
    #[error("the server is tracking too many recent requests; retry in a minute")]
    ReplayCacheFull,
    #[error("the signing key is not registered")]
    UnknownKey,
}

fn malformed(msg: impl Into<String>) -> AuthError {
    AuthError::Malformed(msg.into())
}

/// RFC 9530 Content-Digest of a whole body: `sha-256=:BASE64:`.
pub fn content_digest(body: &[u8]) -> String {
    let mut w = DigestWriter::new();
    w.update(body);
    w.finish()
}

/// Incremental form of [`content_digest`] for streamed bodies.
#[derive(Clone, Default)]
pub struct DigestWriter(Sha256);

impl DigestWriter {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn update(&mut self, b: &[u8]) {
        self.0.update(b);
    }
    /// The `Content-Digest` value of everything passed to `update`.
    pub fn finish(self) -> String {
        digest_field(&self.0.finalize())
    }
}

fn digest_field(sha256: &[u8]) -> String {
    format!("sha-256=:{}:", STANDARD.encode(sha256))
}

/// The two header fields that carry a signature.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeaders {
    /// The value of `Signature-Input`.
    pub signature_input: String,
    /// The value of `Signature`.
    pub signature: String,
}

/// Signs a request in the profile: covered components exactly
/// `("@method" "@target-uri" "content-digest")`, parameters
/// `created=<unix secs>;keyid="<64 lowercase hex of the public key>";alg="ed25519";nonce="<nonce>"`,
/// label `sig1`.
///
/// `method` is uppercase, `target_uri` the absolute URI the client requests (e.g.
/// `http://127.0.0.1:8080/v1/records?type=arrest`), `content_digest` the value the request
/// sends as `Content-Digest` (from [`content_digest`] or a [`DigestWriter`]), `nonce` one
/// from [`new_nonce`]. A nonce that is not printable ASCII cannot be written as a
/// structured-field string, and the verifier refuses the headers made with it.
pub fn sign_request(
    key: &SigningKey,
    method: &str,
    target_uri: &str,
    content_digest: &str,
    created: i64,
    nonce: &str,
) -> SignedHeaders {
    let keyid = hex::encode(key.verifying_key().as_bytes());
    let params = format!(
        "(\"@method\" \"@target-uri\" \"content-digest\");created={created};keyid=\"{keyid}\";\
         alg=\"{ALG}\";nonce={}",
        sf_string(nonce)
    );
    let base = base_text(
        [
            ("@method", method),
            ("@target-uri", target_uri),
            ("content-digest", content_digest.trim()),
        ],
        &params,
    );
    let signature = key.sign(base.as_bytes());
    SignedHeaders {
        signature_input: format!("{LABEL}={params}"),
        signature: format!("{LABEL}=:{}:", STANDARD.encode(signature.to_bytes())),
    }
}

/// An RFC 8941 string: `"` and `\` escaped. (Other characters outside printable ASCII
/// are not representable; they are written as they are, and parsing refuses them.)
fn sf_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// A fresh random nonce (16 random bytes, base64url without padding: 22 characters).
pub fn new_nonce() -> String {
    URL_SAFE_NO_PAD.encode(crate::crypto::random::<16>())
}

/// What a verified signature established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// The signer's Ed25519 public key (from `keyid`). Whether it is registered, and for
    /// what, is the caller's question.
    pub key: [u8; 32],
    /// The signature's `created`, within [`MAX_SKEW_SECS`] of the `now` it was checked at.
    pub created: i64,
    /// The signature's `nonce`, for the [`ReplayCache`].
    pub nonce: String,
    /// The covered digest in the form [`content_digest`] gives: `sha-256=:BASE64:`.
    pub content_digest: String,
}

impl Verified {
    /// Compares the digest of the body actually received (from [`content_digest`] or a
    /// [`DigestWriter`]) with the one the signature covers.
    pub fn check_digest(&self, body_digest: &str) -> Result<(), AuthError> {
        if body_digest == self.content_digest {
            Ok(())
        } else {
            Err(AuthError::DigestMismatch)
        }
    }
}

/// Verifies a request's signature in the profile.
///
/// Checks: `Signature-Input` and `Signature` each hold exactly one member, labelled `sig1`;
/// the covered components contain every one of [`REQUIRED`] (more are allowed: derived
/// components of [`signature_base`] and header fields present in `headers`, lowercase
/// names; a covered header that is absent is an error); no duplicate components;
/// `alg="ed25519"`; `keyid` is 64 lowercase hex digits; `created` is present and
/// `|now - created| <= MAX_SKEW_SECS`; `expires`, if present, has not passed; `nonce` is
/// present, 16..=128 characters; the `Content-Digest` header is present and holds a
/// `sha-256` member; the signature is 64 bytes and verifies with `verify_strict` over the
/// signature base. `Signature-Input`, `Signature` and `Content-Digest` must be in canonical
/// RFC 8941 form (what [`sign_request`] and [`content_digest`] write).
///
/// Does NOT check the body against the digest ([`Verified::check_digest`]), key
/// registration, or replay ([`ReplayCache`]).
pub fn verify_request(
    method: &str,
    target_uri: &str,
    headers: &HeaderMap,
    now: i64,
) -> Result<Verified, AuthError> {
    verify_request_with(method, target_uri, headers, now, |k| {
        VerifyingKey::from_bytes(k).map_err(|_| malformed("keyid is not an Ed25519 public key"))
    })
}

/// [`verify_request`] with the key `keyid` names looked up by `key` (a server's registry
/// of decompressed keys; `Err(UnknownKey)` refuses before any signature work).
pub fn verify_request_with(
    method: &str,
    target_uri: &str,
    headers: &HeaderMap,
    now: i64,
    key: impl FnOnce(&[u8; 32]) -> Result<VerifyingKey, AuthError>,
) -> Result<Verified, AuthError> {
    let input =
        field_value(headers, &SIGNATURE_INPUT)?.ok_or(AuthError::Missing("Signature-Input"))?;
    let signature = field_value(headers, &SIGNATURE)?.ok_or(AuthError::Missing("Signature"))?;
    let input = parse_dictionary("Signature-Input", &input)?;
    let signature = parse_dictionary("Signature", &signature)?;

    let inner = match only_member("Signature-Input", &input)? {
        ListEntry::InnerList(inner) => inner,
        ListEntry::Item(_) => return Err(malformed("Signature-Input's sig1 is not an inner list")),
    };
    let signature = match only_member("Signature", &signature)? {
        ListEntry::Item(Item {
            bare_item: BareItem::ByteSequence(bytes),
            params,
        }) if params.is_empty() => bytes,
        _ => {
            return Err(malformed(
                "Signature's sig1 is not a byte sequence without parameters",
            ))
        }
    };
    let signature: [u8; 64] = signature.as_slice().try_into().map_err(|_| {
        malformed(format!(
            "the signature has {} bytes; Ed25519's has 64",
            signature.len()
        ))
    })?;

    let components = covered_components(inner)?;
    for required in REQUIRED {
        if !components.contains(&required) {
            return Err(malformed(format!(
                "the signature does not cover {required}"
            )));
        }
    }
    let params = ProfileParams::read(inner)?;
    if now.abs_diff(params.created) > MAX_SKEW_SECS.unsigned_abs() {
        return Err(AuthError::Stale {
            created: params.created,
            now,
        });
    }
    if let Some(expires) = params.expires {
        if now > expires {
            return Err(AuthError::Expired { expires, now });
        }
    }

    let digest =
        field_value(headers, &CONTENT_DIGEST)?.ok_or(AuthError::Missing("Content-Digest"))?;
    let content_digest = sha256_member(&parse_dictionary("Content-Digest", &digest)?)?;

    let base = base_for(
        method,
        target_uri,
        headers,
        &components,
        &serialize_inner_list(inner)?,
    )?;
    let vk = key(&params.key)?;
    vk.verify_strict(base.as_bytes(), &Signature::from_bytes(&signature))
        .map_err(|_| AuthError::BadSignature)?;

    Ok(Verified {
        key: params.key,
        created: params.created,
        nonce: params.nonce,
        content_digest,
    })
}

/// Parses an RFC 8941 dictionary and insists that the text is its canonical serialization.
fn parse_dictionary(field: &str, value: &str) -> Result<Dictionary, AuthError> {
    let dict: Dictionary = Parser::new(value)
        .with_version(Version::Rfc8941)
        .parse()
        .map_err(|e| malformed(format!("{field}: {e}")))?;
    match dict.serialize() {
        Some(canonical) if canonical == value => Ok(dict),
        Some(_) => Err(malformed(format!(
            "{field} is not in canonical structured-field form (RFC 8941 §4.1): \
             no duplicate keys or parameters, single spaces, padded base64"
        ))),
        None => Err(malformed(format!("{field} is empty"))),
    }
}

fn only_member<'a>(field: &str, dict: &'a Dictionary) -> Result<&'a ListEntry, AuthError> {
    match dict.first() {
        Some((label, entry)) if dict.len() == 1 => {
            if label.as_str() == LABEL {
                Ok(entry)
            } else {
                Err(AuthError::Unsupported(format!(
                    "{field} is labelled `{}`; only `{LABEL}` is accepted",
                    label.as_str()
                )))
            }
        }
        _ => Err(malformed(format!(
            "{field} holds {} signatures; exactly one, `{LABEL}`, is accepted",
            dict.len()
        ))),
    }
}

/// The signature parameters of the profile, read and checked.
struct ProfileParams {
    key: [u8; 32],
    created: i64,
    expires: Option<i64>,
    nonce: String,
}

impl ProfileParams {
    fn read(inner: &InnerList) -> Result<Self, AuthError> {
        let (mut created, mut expires, mut keyid, mut alg, mut nonce) =
            (None, None, None, None, None);
        for (key, value) in &inner.params {
            let key = key.as_str();
            match (key, value) {
                ("created", BareItem::Integer(v)) => created = Some(i64::from(*v)),
                ("expires", BareItem::Integer(v)) => expires = Some(i64::from(*v)),
                ("keyid", BareItem::String(v)) => keyid = Some(v.as_str()),
                ("alg", BareItem::String(v)) => alg = Some(v.as_str()),
                ("nonce", BareItem::String(v)) => nonce = Some(v.as_str()),
                ("tag", BareItem::String(_)) => {}
                ("created" | "expires", _) => {
                    return Err(malformed(format!("the parameter {key} is not an integer")))
                }
                ("keyid" | "alg" | "nonce" | "tag", _) => {
                    return Err(malformed(format!("the parameter {key} is not a string")))
                }
                _ => {
                    return Err(AuthError::Unsupported(format!(
                        "the signature parameter `{key}`"
                    )))
                }
            }
        }
        match alg {
            Some(ALG) => {}
            Some(other) => {
                return Err(AuthError::Unsupported(format!(
                    "alg=\"{other}\"; only alg=\"{ALG}\" is accepted"
                )))
            }
            None => {
                return Err(malformed(format!(
                    "no alg parameter; alg=\"{ALG}\" is required"
                )))
            }
        }
        let keyid = keyid.ok_or_else(|| malformed("no keyid parameter"))?;
        let key =
            parse_keyid(keyid).ok_or_else(|| malformed("keyid is not 64 lowercase hex digits"))?;
        let created = created.ok_or_else(|| malformed("no created parameter"))?;
        let nonce = nonce.ok_or_else(|| malformed("no nonce parameter"))?;
        if !NONCE_LEN.contains(&nonce.chars().count()) {
            return Err(malformed(format!(
                "the nonce has {} characters; {}..={} are accepted",
                nonce.chars().count(),
                NONCE_LEN.start(),
                NONCE_LEN.end()
            )));
        }
        Ok(ProfileParams {
            key,
            created,
            expires,
            nonce: nonce.to_string(),
        })
    }
}

fn parse_keyid(keyid: &str) -> Option<[u8; 32]> {
    if keyid.len() != 64
        || !keyid
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        return None;
    }
    let mut key = [0u8; 32];
    hex::decode_to_slice(keyid, &mut key).ok()?;
    Some(key)
}

/// The `sha-256` member of a Content-Digest dictionary, in [`content_digest`]'s form.
fn sha256_member(dict: &Dictionary) -> Result<String, AuthError> {
    match dict
        .iter()
        .find(|(k, _)| k.as_str() == "sha-256")
        .map(|(_, v)| v)
    {
        Some(ListEntry::Item(Item {
            bare_item: BareItem::ByteSequence(bytes),
            params,
        })) if bytes.len() == 32 && params.is_empty() => Ok(digest_field(bytes)),
        Some(_) => Err(malformed("Content-Digest's sha-256 is not 32 bytes")),
        None => Err(malformed("Content-Digest has no sha-256 member")),
    }
}
