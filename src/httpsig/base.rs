//! The RFC 9421 §2.5 signature base, for any covered components this module supports:
//! the derived components `@method`, `@target-uri`, `@authority`, `@scheme`, `@path`,
//! `@query`, and header fields, without component parameters.
//!
//! INVARIANT: no value enters a base with a line break in it (a header value cannot hold
//! one, and the derived values are checked), so a base's lines are exactly its components.

use http::header::{HeaderMap, HeaderName};
use sfv::{BareItem, FieldType, InnerList, List, ListEntry, Parser, Version};

use super::{malformed, AuthError, MAX_COMPONENTS};

/// The derived components [`signature_base`] can compute (RFC 9421 §2.2).
const DERIVED: [&str; 6] = [
    "@method",
    "@target-uri",
    "@authority",
    "@scheme",
    "@path",
    "@query",
];

/// The RFC 9421 §2.5 signature base of a request for the signature parameters
/// `signature_params`: the serialized inner list with its parameters, as it follows the
/// label in `Signature-Input` (e.g. `("@method" "@path");created=1618884473;keyid="k"`),
/// in canonical form. The covered components are read from it.
///
/// Computes the derived components `@method` (`method` as given), `@target-uri`
/// (`target_uri` as given), `@authority` (lowercase host, then `:port` unless it is the
/// scheme's default), `@scheme`, `@path` (`/` when empty) and `@query` (with its leading
/// `?`; `?` alone when there is none); and header fields (each line trimmed, several lines
/// joined with `", "`). Component parameters (`;sf`, `;key`, `;req`, `;bs`, `;tr`) and other
/// derived components are refused as unsupported.
pub fn signature_base(
    method: &str,
    target_uri: &str,
    headers: &HeaderMap,
    signature_params: &str,
) -> Result<String, AuthError> {
    let list: List = Parser::new(signature_params)
        .with_version(Version::Rfc8941)
        .parse()
        .map_err(|e| malformed(format!("signature parameters: {e}")))?;
    let inner = match list.as_slice() {
        [ListEntry::InnerList(inner)] => inner,
        _ => return Err(malformed("signature parameters are not one inner list")),
    };
    if serialize_inner_list(inner)? != signature_params {
        return Err(malformed("signature parameters are not in canonical form"));
    }
    base_for(
        method,
        target_uri,
        headers,
        &covered_components(inner)?,
        signature_params,
    )
}

/// The signature base of already checked components.
pub(super) fn base_for(
    method: &str,
    target_uri: &str,
    headers: &HeaderMap,
    components: &[&str],
    signature_params: &str,
) -> Result<String, AuthError> {
    let mut uri = None;
    let mut lines = Vec::with_capacity(components.len());
    for &name in components {
        let value = match name {
            "@method" => method.to_string(),
            "@target-uri" => target_uri.to_string(),
            "@authority" | "@scheme" | "@path" | "@query" => {
                if uri.is_none() {
                    uri = Some(parse_target(target_uri)?);
                }
                derived_from_uri(name, uri.as_ref())?
            }
            _ => field_value(headers, &header_name(name)?)?
                .ok_or_else(|| AuthError::MissingCovered(name.to_string()))?,
        };
        if value.chars().any(|c| c.is_control() && c != '\t') {
            return Err(malformed(format!(
                "the value of {name} has a control character"
            )));
        }
        lines.push((name, value));
    }
    Ok(base_text(
        lines.iter().map(|(n, v)| (*n, v.as_str())),
        signature_params,
    ))
}

/// Joins the lines of a signature base. Values must hold no line break: [`base_for`]
/// checks them; `sign_request` signs its caller's own values (and a verifier, rebuilding
/// the base with `base_for`, refuses a line break).
pub(super) fn base_text<'a>(
    lines: impl IntoIterator<Item = (&'a str, &'a str)>,
    signature_params: &str,
) -> String {
    let mut base = String::new();
    for (name, value) in lines {
        base.push_str(&format!("\"{name}\": {value}\n"));
    }
    base.push_str(&format!("\"@signature-params\": {signature_params}"));
    base
}

fn parse_target(target_uri: &str) -> Result<http::Uri, AuthError> {
    let uri: http::Uri = target_uri
        .parse()
        .map_err(|_| malformed("the target URI does not parse"))?;
    if uri.scheme().is_none() || uri.host().is_none() {
        return Err(malformed("the target URI is not absolute"));
    }
    Ok(uri)
}

fn derived_from_uri(name: &str, uri: Option<&http::Uri>) -> Result<String, AuthError> {
    let Some(uri) = uri else {
        return Err(malformed("the target URI does not parse"));
    };
    let scheme = uri.scheme_str().unwrap_or_default().to_ascii_lowercase();
    Ok(match name {
        "@scheme" => scheme,
        "@authority" => {
            let host = uri.host().unwrap_or_default().to_ascii_lowercase();
            let default = match scheme.as_str() {
                "http" => Some(80),
                "https" => Some(443),
                _ => None,
            };
            match uri.port_u16() {
                Some(port) if Some(port) != default => format!("{host}:{port}"),
                _ => host,
            }
        }
        "@path" if uri.path().is_empty() => "/".to_string(),
        "@path" => uri.path().to_string(),
        "@query" => format!("?{}", uri.query().unwrap_or_default()),
        _ => return Err(AuthError::Unsupported(format!("derived component {name}"))),
    })
}

/// A header field's value per RFC 9421 §2.1: each line trimmed, lines joined with ", ".
/// `None` when the request has no such field.
pub(super) fn field_value(
    headers: &HeaderMap,
    name: &HeaderName,
) -> Result<Option<String>, AuthError> {
    let mut out: Option<String> = None;
    for value in headers.get_all(name) {
        let value = value
            .to_str()
            .map_err(|_| malformed(format!("the {name} header is not visible ASCII")))?
            .trim();
        match out.as_mut() {
            Some(out) => {
                out.push_str(", ");
                out.push_str(value);
            }
            None => out = Some(value.to_string()),
        }
    }
    Ok(out)
}

fn header_name(name: &str) -> Result<HeaderName, AuthError> {
    match HeaderName::from_bytes(name.as_bytes()) {
        Ok(h) if h.as_str() == name => Ok(h),
        _ => Err(malformed(format!(
            "`{name}` is not a lowercase header field name"
        ))),
    }
}

/// The covered component names: strings without parameters, each supported, none twice.
pub(super) fn covered_components(inner: &InnerList) -> Result<Vec<&str>, AuthError> {
    if inner.items.len() > MAX_COMPONENTS {
        return Err(AuthError::Unsupported(format!(
            "{} covered components; at most {MAX_COMPONENTS}",
            inner.items.len()
        )));
    }
    let mut names: Vec<&str> = Vec::with_capacity(inner.items.len());
    for item in &inner.items {
        let BareItem::String(name) = &item.bare_item else {
            return Err(malformed("a covered component is not a string"));
        };
        let name = name.as_str();
        if !item.params.is_empty() {
            return Err(AuthError::Unsupported(format!(
                "parameters on the component {name}"
            )));
        }
        if name.starts_with('@') {
            if !DERIVED.contains(&name) {
                return Err(AuthError::Unsupported(format!("derived component {name}")));
            }
        } else {
            header_name(name)?;
        }
        if names.contains(&name) {
            return Err(malformed(format!("the component {name} is covered twice")));
        }
        names.push(name);
    }
    Ok(names)
}

pub(super) fn serialize_inner_list(inner: &InnerList) -> Result<String, AuthError> {
    let list: List = vec![ListEntry::InnerList(inner.clone())];
    list.serialize()
        .ok_or_else(|| malformed("empty signature parameters"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine as _;
    use ed25519_dalek::{Signature, Signer, SigningKey};
    use http::HeaderValue;

    fn hv(s: &str) -> HeaderValue {
        HeaderValue::from_str(s).unwrap()
    }

    // ---------------------------------------------------------------------------------------
    // RFC 9421 Appendix B, copied from the RFC (line wrapping per RFC 8792 undone).
    // ---------------------------------------------------------------------------------------

    /// B.1.4 `test-key-ed25519`, the body of its `-----BEGIN PRIVATE KEY-----` PEM.
    const TEST_KEY_ED25519_PRIVATE_PEM: &str =
        "MC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF";
    /// B.1.4, the body of its `-----BEGIN PUBLIC KEY-----` PEM.
    const TEST_KEY_ED25519_PUBLIC_PEM: &str =
        "MCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs=";

    /// B.2.6's signature base.
    const B26_BASE: &str = concat!(
        "\"date\": Tue, 20 Apr 2021 02:07:55 GMT\n",
        "\"@method\": POST\n",
        "\"@path\": /foo\n",
        "\"@authority\": example.com\n",
        "\"content-type\": application/json\n",
        "\"content-length\": 18\n",
        "\"@signature-params\": (\"date\" \"@method\" \"@path\" \"@authority\" ",
        "\"content-type\" \"content-length\");created=1618884473",
        ";keyid=\"test-key-ed25519\"",
    );
    /// B.2.6's `Signature-Input` after `sig-b26=`.
    const B26_PARAMS: &str = concat!(
        "(\"date\" \"@method\" \"@path\" \"@authority\" ",
        "\"content-type\" \"content-length\");created=1618884473",
        ";keyid=\"test-key-ed25519\"",
    );
    /// B.2.6's `Signature` between the colons.
    const B26_SIGNATURE: &str = concat!(
        "wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1",
        "u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==",
    );

    /// PKCS #8 v1 for Ed25519 (RFC 8410 §7): this fixed prefix, then the 32-byte seed.
    const PKCS8_ED25519_PREFIX: [u8; 16] = [
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    /// SubjectPublicKeyInfo for Ed25519: this fixed prefix, then the 32-byte key.
    const SPKI_ED25519_PREFIX: [u8; 12] = [
        0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
    ];

    fn test_key_ed25519() -> SigningKey {
        let der = STANDARD.decode(TEST_KEY_ED25519_PRIVATE_PEM).unwrap();
        assert_eq!(der.len(), 48);
        assert_eq!(der[..16], PKCS8_ED25519_PREFIX);
        SigningKey::from_bytes(&der[16..].try_into().unwrap())
    }

    /// The B.2 test request's header fields.
    fn b2_headers() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("host", hv("example.com"));
        h.insert("date", hv("Tue, 20 Apr 2021 02:07:55 GMT"));
        h.insert("content-type", hv("application/json"));
        h.insert(
        "content-digest",
        hv("sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:"),
    );
        h.insert("content-length", hv("18"));
        h
    }

    #[test]
    fn rfc9421_b14_test_key_public_half() {
        let spki = STANDARD.decode(TEST_KEY_ED25519_PUBLIC_PEM).unwrap();
        assert_eq!(spki[..12], SPKI_ED25519_PREFIX);
        assert_eq!(
            test_key_ed25519().verifying_key().as_bytes()[..],
            spki[12..]
        );
    }

    #[test]
    fn rfc9421_b26_signing_a_request_using_ed25519() {
        let base = signature_base(
            "POST",
            "https://example.com/foo?param=Value&Pet=dog",
            &b2_headers(),
            B26_PARAMS,
        )
        .unwrap();
        assert_eq!(base, B26_BASE);

        let key = test_key_ed25519();
        let signature = key.sign(base.as_bytes());
        assert_eq!(STANDARD.encode(signature.to_bytes()), B26_SIGNATURE);

        let rfc: [u8; 64] = STANDARD.decode(B26_SIGNATURE).unwrap().try_into().unwrap();
        key.verifying_key()
            .verify_strict(base.as_bytes(), &Signature::from_bytes(&rfc))
            .unwrap();
    }

    #[test]
    fn signature_base_refuses_non_canonical_or_unsupported_params() {
        let h = b2_headers();
        let uri = "https://example.com/foo";
        let base = |p: &str| signature_base("POST", uri, &h, p);
        let malformed = |r: Result<String, AuthError>| matches!(r, Err(AuthError::Malformed(_)));
        let unsupported = |r| matches!(r, Err(AuthError::Unsupported(_)));
        for (params, refused) in [
            ("(\"@method\"  \"@path\")", malformed as fn(_) -> bool),
            ("(\"@method\"), (\"@path\")", malformed),
            ("\"@method\"", malformed),
            ("(\"@status\")", unsupported),
            ("(\"date\";sf)", unsupported),
            ("(\"Date\")", malformed),
            ("(\"date\" \"date\")", malformed),
            ("(@method)", malformed),
        ] {
            assert!(refused(base(params)), "{params}: {:?}", base(params));
        }
        assert_eq!(
            base("(\"x-absent\")"),
            Err(AuthError::MissingCovered("x-absent".into()))
        );
    }

    #[test]
    fn derived_components() {
        let h = HeaderMap::new();
        let params = "(\"@scheme\" \"@authority\" \"@path\" \"@query\")";
        let lines = |uri: &str| {
            let base = signature_base("GET", uri, &h, params).unwrap();
            base.lines()
                .take(4)
                .map(|l| l.split_once(": ").unwrap().1.to_string())
                .collect::<Vec<_>>()
        };
        for (uri, want) in [
            (
                "http://127.0.0.1:8080/v1/records?type=arrest",
                ["http", "127.0.0.1:8080", "/v1/records", "?type=arrest"],
            ),
            (
                "https://Example.COM:443",
                ["https", "example.com", "/", "?"],
            ),
            (
                "http://example.com:80/a?",
                ["http", "example.com", "/a", "?"],
            ),
            ("https://[::1]:8443/x", ["https", "[::1]:8443", "/x", "?"]),
        ] {
            assert_eq!(lines(uri), want, "{uri}");
        }
        assert!(matches!(
            signature_base("GET", "/v1/records", &h, params),
            Err(AuthError::Malformed(_))
        ));
        // @target-uri alone needs no parsing: it is the text the client requested.
        let base = signature_base("GET", "/relative", &h, "(\"@target-uri\")").unwrap();
        assert!(base.starts_with("\"@target-uri\": /relative\n"));
        assert!(matches!(
            signature_base("GET\n", "/relative", &h, "(\"@method\")"),
            Err(AuthError::Malformed(_))
        ));
    }

    #[test]
    fn header_values_trimmed_and_joined() {
        let mut h = HeaderMap::new();
        h.append("x-list", hv(" a "));
        h.append("x-list", hv("b"));
        h.insert("x-empty", hv(""));
        let base = signature_base("GET", "/", &h, "(\"x-list\" \"x-empty\")").unwrap();
        assert_eq!(
            base,
            "\"x-list\": a, b\n\"x-empty\": \n\"@signature-params\": (\"x-list\" \"x-empty\")"
        );
    }
}
