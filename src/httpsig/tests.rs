use super::*;
use http::HeaderValue;

// ---------------------------------------------------------------------------------------
// The profile.
// ---------------------------------------------------------------------------------------

const NOW: i64 = 1_700_000_000;
const URI: &str = "http://127.0.0.1:8080/v1/records?type=arrest";
const BODY: &[u8] = b"{\"type\":\"arrest\"}";
const NONCE: &str = "dGhpcy1pcy1hLW5vbmNl";

fn hv(s: &str) -> HeaderValue {
    HeaderValue::from_str(s).unwrap()
}

fn key(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32])
}

fn keyid(key: &SigningKey) -> String {
    hex::encode(key.verifying_key().as_bytes())
}

/// A request signed by `sign_request`.
fn signed(key: &SigningKey, created: i64, nonce: &str) -> HeaderMap {
    let digest = content_digest(BODY);
    let s = sign_request(key, "POST", URI, &digest, created, nonce);
    let mut h = HeaderMap::new();
    h.insert("content-type", hv("application/json"));
    h.insert("content-digest", hv(&digest));
    h.insert("signature-input", hv(&s.signature_input));
    h.insert("signature", hv(&s.signature));
    h
}

/// Profile parameters after a component list, with one of them replaced or dropped.
fn params(components: &str, key: &SigningKey, change: Option<(&str, &str)>) -> String {
    let mut out = format!("({components})");
    let kid = format!("\"{}\"", keyid(key));
    let nonce = format!("\"{NONCE}\"");
    let created = NOW.to_string();
    for (name, value) in [
        ("created", created.as_str()),
        ("keyid", &kid),
        ("alg", "\"ed25519\""),
        ("nonce", &nonce),
    ] {
        match change {
            Some((n, "")) if n == name => {}
            Some((n, v)) if n == name => out.push_str(&format!(";{name}={v}")),
            _ => out.push_str(&format!(";{name}={value}")),
        }
    }
    if let Some((n, v)) = change {
        if !["created", "keyid", "alg", "nonce"].contains(&n) {
            out.push_str(&format!(";{n}={v}"));
        }
    }
    out
}

const PROFILE: &str = "\"@method\" \"@target-uri\" \"content-digest\"";

/// `headers` signed by `key` under arbitrary signature parameters, with a signature that
/// verifies whenever `signature_base` can build the base: a refusal then comes from the
/// rule under test, not from the signature.
fn signed_with(key: &SigningKey, mut headers: HeaderMap, params: &str) -> HeaderMap {
    if !headers.contains_key("content-digest") {
        headers.insert("content-digest", hv(&content_digest(BODY)));
    }
    let base = signature_base("POST", URI, &headers, params).unwrap_or_default();
    let sig = STANDARD.encode(key.sign(base.as_bytes()).to_bytes());
    headers.insert("signature-input", hv(&format!("sig1={params}")));
    headers.insert("signature", hv(&format!("sig1=:{sig}:")));
    headers
}

fn verify(h: &HeaderMap) -> Result<Verified, AuthError> {
    verify_request("POST", URI, h, NOW)
}

fn malformed_mentioning(r: Result<Verified, AuthError>, word: &str) {
    match r {
        Err(AuthError::Malformed(m)) => assert!(m.contains(word), "{m:?} lacks {word:?}"),
        other => panic!("expected Malformed mentioning {word:?}, got {other:?}"),
    }
}

#[test]
fn round_trip() {
    let k = key(1);
    let v = verify(&signed(&k, NOW, NONCE)).unwrap();
    assert_eq!(v.key, *k.verifying_key().as_bytes());
    assert_eq!(v.created, NOW);
    assert_eq!(v.nonce, NONCE);
    assert_eq!(v.content_digest, content_digest(BODY));
    v.check_digest(&content_digest(BODY)).unwrap();
    assert_eq!(
        v.check_digest(&content_digest(b"other")),
        Err(AuthError::DigestMismatch)
    );
}

#[test]
fn sign_request_writes_the_profile() {
    let k = key(1);
    let s = sign_request(&k, "POST", URI, &content_digest(BODY), NOW, NONCE);
    assert_eq!(
        s.signature_input,
        format!(
            "sig1=(\"@method\" \"@target-uri\" \"content-digest\");created={NOW};keyid=\"{}\";\
             alg=\"ed25519\";nonce=\"{NONCE}\"",
            keyid(&k)
        )
    );
    assert!(s.signature.starts_with("sig1=:") && s.signature.ends_with("==:"));
    // The generic base of the same parameters is what sign_request signed.
    assert_eq!(
        signed_with(&k, HeaderMap::new(), &s.signature_input[5..])["signature"],
        s.signature
    );
}

#[test]
fn new_nonces_are_fresh_and_accepted() {
    let (a, b) = (new_nonce(), new_nonce());
    assert_ne!(a, b);
    assert_eq!(a.len(), 22);
    assert!(a
        .bytes()
        .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
    verify(&signed(&key(1), NOW, &a)).unwrap();
}

#[test]
fn refuses_missing_signature_input_or_signature() {
    let mut h = signed(&key(1), NOW, NONCE);
    h.remove("signature-input");
    assert_eq!(verify(&h), Err(AuthError::Missing("Signature-Input")));
    let mut h = signed(&key(1), NOW, NONCE);
    h.remove("signature");
    assert_eq!(verify(&h), Err(AuthError::Missing("Signature")));
}

#[test]
fn refuses_two_labels() {
    let h = signed(&key(1), NOW, NONCE);
    let (input, sig) = (
        h["signature-input"].to_str().unwrap(),
        h["signature"].to_str().unwrap(),
    );
    let second = |v: &str| v.replacen("sig1=", "sig2=", 1);

    let mut two = h.clone();
    two.insert(
        "signature-input",
        hv(&format!("{input}, {}", second(input))),
    );
    two.insert("signature", hv(&format!("{sig}, {}", second(sig))));
    malformed_mentioning(verify(&two), "2 signatures");

    // The same label twice would be folded into one by RFC 8941 parsing.
    let mut dup = h.clone();
    dup.insert("signature-input", hv(&format!("{input}, {input}")));
    malformed_mentioning(verify(&dup), "canonical");

    // Two field lines are one dictionary.
    let mut lines = h.clone();
    lines.append("signature-input", hv(&second(input)));
    malformed_mentioning(verify(&lines), "2 signatures");
}

#[test]
fn refuses_wrong_label() {
    let h = signed(&key(1), NOW, NONCE);
    let mut wrong = h.clone();
    for name in ["signature-input", "signature"] {
        let v = h[name].to_str().unwrap().replacen("sig1=", "sig2=", 1);
        wrong.insert(name, hv(&v));
    }
    assert!(matches!(verify(&wrong), Err(AuthError::Unsupported(m)) if m.contains("sig2")));
}

#[test]
fn refuses_missing_each_required_component() {
    let k = key(1);
    for missing in REQUIRED {
        let components: Vec<String> = REQUIRED
            .iter()
            .filter(|c| **c != missing)
            .map(|c| format!("\"{c}\""))
            .collect();
        let h = signed_with(
            &k,
            HeaderMap::new(),
            &params(&components.join(" "), &k, None),
        );
        malformed_mentioning(verify(&h), missing);
    }
}

#[test]
fn accepts_more_components_and_refuses_an_absent_one() {
    let k = key(1);
    let mut headers = HeaderMap::new();
    headers.insert("content-type", hv("application/json"));
    let p = params(
        &format!("{PROFILE} \"@authority\" \"content-type\""),
        &k,
        None,
    );
    let h = signed_with(&k, headers, &p);
    verify(&h).unwrap();

    let mut altered = h.clone();
    altered.insert("content-type", hv("text/plain"));
    assert_eq!(verify(&altered), Err(AuthError::BadSignature));

    let mut absent = h.clone();
    absent.remove("content-type");
    assert_eq!(
        verify(&absent),
        Err(AuthError::MissingCovered("content-type".into()))
    );
}

#[test]
fn refuses_duplicate_and_unsupported_components() {
    let k = key(1);
    let dup = params(&format!("{PROFILE} \"@method\""), &k, None);
    malformed_mentioning(verify(&signed_with(&k, HeaderMap::new(), &dup)), "twice");
    for extra in [
        "\"@request-target\"",
        "\"content-type\";sf",
        "\"@query-param\";name=\"a\"",
    ] {
        let p = params(&format!("{PROFILE} {extra}"), &k, None);
        let r = verify(&signed_with(&k, HeaderMap::new(), &p));
        assert!(
            matches!(r, Err(AuthError::Unsupported(_))),
            "{extra}: {r:?}"
        );
    }
    let many: Vec<String> = (0..MAX_COMPONENTS).map(|i| format!("\"x-h{i}\"")).collect();
    let p = params(&format!("{PROFILE} {}", many.join(" ")), &k, None);
    let r = verify(&signed_with(&k, HeaderMap::new(), &p));
    assert!(matches!(r, Err(AuthError::Unsupported(m)) if m.contains("at most")));
    let upper = params(&format!("{PROFILE} \"Content-Type\""), &k, None);
    malformed_mentioning(
        verify(&signed_with(&k, HeaderMap::new(), &upper)),
        "lowercase",
    );
}

#[test]
fn refuses_alg_other_than_ed25519() {
    let k = key(1);
    let check = |change, want: fn(&AuthError) -> bool| {
        let r = verify(&signed_with(
            &k,
            HeaderMap::new(),
            &params(PROFILE, &k, Some(change)),
        ));
        assert!(r.as_ref().is_err_and(want), "{change:?}: {r:?}");
    };
    check(("alg", "\"rsa-pss-sha512\""), |e| {
        matches!(e, AuthError::Unsupported(_))
    });
    check(("alg", "\"ED25519\""), |e| {
        matches!(e, AuthError::Unsupported(_))
    });
    check(("alg", "ed25519"), |e| matches!(e, AuthError::Malformed(_)));
    check(("alg", ""), |e| matches!(e, AuthError::Malformed(_)));
}

#[test]
fn refuses_bad_keyid() {
    let k = key(1);
    let good = keyid(&k);
    for bad in [
        good.to_uppercase(),
        good[..62].to_string(),
        format!("{good}00"),
        format!("zz{}", &good[2..]),
        "test-key-ed25519".to_string(),
        String::new(),
    ] {
        let p = params(PROFILE, &k, Some(("keyid", &format!("\"{bad}\""))));
        malformed_mentioning(verify(&signed_with(&k, HeaderMap::new(), &p)), "keyid");
    }
    malformed_mentioning(
        verify(&signed_with(
            &k,
            HeaderMap::new(),
            &params(PROFILE, &k, Some(("keyid", ""))),
        )),
        "keyid",
    );
}

#[test]
fn refuses_stale_or_future_created() {
    let k = key(1);
    for created in [NOW - MAX_SKEW_SECS, NOW + MAX_SKEW_SECS] {
        verify(&signed(&k, created, NONCE)).unwrap();
    }
    for created in [NOW - 61, NOW + 61, 0, -999_999_999_999_999] {
        assert_eq!(
            verify(&signed(&k, created, NONCE)),
            Err(AuthError::Stale { created, now: NOW })
        );
    }
    let none = params(PROFILE, &k, Some(("created", "")));
    malformed_mentioning(verify(&signed_with(&k, HeaderMap::new(), &none)), "created");
    let text = params(PROFILE, &k, Some(("created", "\"1700000000\"")));
    malformed_mentioning(verify(&signed_with(&k, HeaderMap::new(), &text)), "created");
}

#[test]
fn refuses_expired() {
    let k = key(1);
    let at = |expires: i64| {
        let p = params(PROFILE, &k, Some(("expires", &expires.to_string())));
        verify(&signed_with(&k, HeaderMap::new(), &p))
    };
    at(NOW).unwrap();
    assert_eq!(
        at(NOW - 1),
        Err(AuthError::Expired {
            expires: NOW - 1,
            now: NOW
        })
    );
}

#[test]
fn refuses_missing_or_bad_nonce() {
    let k = key(1);
    let with = |nonce: &str| {
        let p = params(PROFILE, &k, Some(("nonce", nonce)));
        verify(&signed_with(&k, HeaderMap::new(), &p))
    };
    malformed_mentioning(with(""), "nonce");
    malformed_mentioning(with(&format!("\"{}\"", "a".repeat(15))), "nonce");
    malformed_mentioning(with(&format!("\"{}\"", "a".repeat(129))), "nonce");
    malformed_mentioning(with("tokennonce-1234567"), "nonce");
    with(&format!("\"{}\"", "a".repeat(16))).unwrap();
    with(&format!("\"{}\"", "a".repeat(128))).unwrap();
    // A nonce the client cannot write as a string is refused, not mangled.
    let h = signed(&k, NOW, "nonce-with-\u{e9}-in-it-xx");
    assert!(matches!(verify(&h), Err(AuthError::Malformed(_))));
}

#[test]
fn refuses_unknown_parameter() {
    let k = key(1);
    let p = params(PROFILE, &k, Some(("foo", "1")));
    let r = verify(&signed_with(&k, HeaderMap::new(), &p));
    assert!(matches!(r, Err(AuthError::Unsupported(m)) if m.contains("foo")));
    // tag is RFC 9421's and accepted.
    let p = params(PROFILE, &k, Some(("tag", "\"blotter\"")));
    verify(&signed_with(&k, HeaderMap::new(), &p)).unwrap();
}

#[test]
fn refuses_altered_method_or_target_uri() {
    let h = signed(&key(1), NOW, NONCE);
    assert_eq!(
        verify_request("PUT", URI, &h, NOW),
        Err(AuthError::BadSignature)
    );
    for uri in [
        "http://127.0.0.1:8080/v1/record?type=arrest",
        "http://127.0.0.1:8080/v1/records?type=warrant",
        "http://127.0.0.1:8080/v1/records",
        "http://127.0.0.1:8081/v1/records?type=arrest",
    ] {
        assert_eq!(
            verify_request("POST", uri, &h, NOW),
            Err(AuthError::BadSignature)
        );
    }
}

#[test]
fn refuses_altered_or_missing_content_digest() {
    let h = signed(&key(1), NOW, NONCE);
    let mut altered = h.clone();
    altered.insert(
        "content-digest",
        hv(&content_digest(b"{\"type\":\"warrant\"}")),
    );
    assert_eq!(verify(&altered), Err(AuthError::BadSignature));

    let mut missing = h.clone();
    missing.remove("content-digest");
    assert_eq!(verify(&missing), Err(AuthError::Missing("Content-Digest")));

    let sha512 = "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:";
    let mut other_alg = h.clone();
    other_alg.insert("content-digest", hv(sha512));
    malformed_mentioning(verify(&other_alg), "sha-256");

    let mut short = h.clone();
    short.insert("content-digest", hv("sha-256=:AAAA:"));
    malformed_mentioning(verify(&short), "32 bytes");

    // Another algorithm beside sha-256 is allowed; Verified gives the sha-256 alone.
    let k = key(1);
    let mut both = HeaderMap::new();
    both.insert(
        "content-digest",
        hv(&format!("{}, {sha512}", content_digest(BODY))),
    );
    let v = verify(&signed_with(&k, both, &params(PROFILE, &k, None))).unwrap();
    assert_eq!(v.content_digest, content_digest(BODY));
}

#[test]
fn refuses_signature_by_another_key() {
    let (claimed, signer) = (key(1), key(2));
    let h = signed_with(&signer, HeaderMap::new(), &params(PROFILE, &claimed, None));
    assert_eq!(verify(&h), Err(AuthError::BadSignature));
}

#[test]
fn refuses_truncated_or_non_canonical_signature() {
    let h = signed(&key(1), NOW, NONCE);
    let sig = h["signature"].to_str().unwrap().to_string();
    let b64 = &sig[6..sig.len() - 1];
    let raw = STANDARD.decode(b64).unwrap();
    let with = |v: &str| {
        let mut h = h.clone();
        h.insert("signature", hv(v));
        verify(&h)
    };
    let truncated = format!("sig1=:{}:", STANDARD.encode(&raw[..63]));
    malformed_mentioning(with(&truncated), "63 bytes");
    malformed_mentioning(with("sig1=::"), "0 bytes");

    // 64 bytes leave 4 unused bits in the last character: set one of them.
    let last = b64.as_bytes()[85];
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let idx = alphabet.iter().position(|c| *c == last).unwrap();
    assert_eq!(idx & 0b1111, 0);
    let flipped = format!("sig1=:{}{}==:", &b64[..85], alphabet[idx | 1] as char);
    malformed_mentioning(with(&flipped), "canonical");
    // Without its padding.
    malformed_mentioning(with(&format!("sig1=:{}:", &b64[..86])), "canonical");
    // Not a byte sequence, or with a parameter.
    malformed_mentioning(with(&format!("sig1=\"{b64}\"")), "byte sequence");
    malformed_mentioning(with(&format!("{sig};x=1")), "byte sequence");
}

#[test]
fn refuses_non_canonical_signature_input() {
    let h = signed(&key(1), NOW, NONCE);
    let input = h["signature-input"].to_str().unwrap();
    for bad in [
        input.replacen("\" \"", "\"  \"", 1),
        input.replacen(";created", "; created", 1),
        format!("{input};created={NOW}"),
    ] {
        let mut h = h.clone();
        h.insert("signature-input", hv(&bad));
        malformed_mentioning(verify(&h), "canonical");
    }
    let mut h = h.clone();
    h.insert(
        "signature-input",
        HeaderValue::from_bytes(b"sig1=(\"\xff\")").unwrap(),
    );
    malformed_mentioning(verify(&h), "visible ASCII");
    h.insert("signature-input", hv("sig1=\"not a list\""));
    malformed_mentioning(verify(&h), "inner list");
    h.insert("signature-input", hv(""));
    malformed_mentioning(verify(&h), "empty");
}

// ---------------------------------------------------------------------------------------
// Content-Digest.
// ---------------------------------------------------------------------------------------

#[test]
fn content_digest_rfc9530_examples() {
    assert_eq!(
        content_digest(b""),
        "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:"
    );
    // The content of RFC 9421's test request (its sha-512 is in B.2).
    assert_eq!(
        content_digest(b"{\"hello\": \"world\"}"),
        "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"
    );
    // RFC 9530 Appendix B: the same with a line feed.
    assert_eq!(
        content_digest(b"{\"hello\": \"world\"}\n"),
        "sha-256=:RK/0qy18MlBSVnWgjwz6lZEWjP/lF5HF9bvEF8FabDg=:"
    );
}

#[test]
fn digest_writer_equals_content_digest() {
    let body: Vec<u8> = (0..10_000u32).map(|i| (i * 7 % 251) as u8).collect();
    for chunk in [1, 7, 64, 4096, 10_000] {
        let mut w = DigestWriter::new();
        for piece in body.chunks(chunk) {
            w.update(piece);
        }
        assert_eq!(w.finish(), content_digest(&body));
    }
    assert_eq!(DigestWriter::default().finish(), content_digest(b""));
}

/// A server's registry answers for the key: an unregistered key is refused before any
/// signature work, and a registered one must still have signed.
#[test]
fn verify_with_a_registry() {
    let k = key(3);
    let h = signed(&k, NOW, NONCE);
    let vk = k.verifying_key();
    let ok = verify_request_with("POST", URI, &h, NOW, |_| Ok(vk)).unwrap();
    assert_eq!(ok.key, vk.to_bytes());
    assert_eq!(
        verify_request_with("POST", URI, &h, NOW, |_| Err(AuthError::UnknownKey)),
        Err(AuthError::UnknownKey)
    );
    let other = key(4).verifying_key();
    assert_eq!(
        verify_request_with("POST", URI, &h, NOW, |_| Ok(other)),
        Err(AuthError::BadSignature)
    );
}
