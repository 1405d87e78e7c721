//! A host cannot make the applier sign more than the authority's document says.

use super::*;
use crate::format::{Date, Role};
use crate::ledger::{InitOptions, Ledger, Settings};
use ed25519_dalek::SigningKey;

fn key() -> SigningKey {
    SigningKey::generate(&mut rand::rngs::OsRng)
}

/// An approved plan over three records, and one record it does not name.
fn fixture(dir: &std::path::Path) -> (Ledger, SigningKey, [u8; 16], [u8; 16]) {
    let admin = key();
    let opts = InitOptions {
        origin: "pd.example/apply".into(),
        admin_person: "A-1".into(),
        settings: Settings::default(),
        ledger_key_path: None,
    };
    let mut l = Ledger::init(dir, &admin, opts).unwrap();
    let (clerk, sup1, sup2) = (key(), key(), key());
    for (k, p, r) in [
        (&clerk, "C-1", Role::Clerk),
        (&sup1, "S-1", Role::Supervisor),
        (&sup2, "S-2", Role::Supervisor),
    ] {
        let d = Draft::key_registration(k.verifying_key().to_bytes(), p, r);
        let s = l.sign(&admin, d).unwrap();
        l.append(vec![s]).unwrap();
    }
    let create = |l: &mut Ledger| {
        let action = Action::RecordCreate {
            confidential: false,
        };
        let mut d = Draft::new_record("incident", Date::new(2025, 5, 1).unwrap(), action);
        d.content = Some(b"{}".to_vec());
        let id = d.record;
        let s = l.sign(&clerk, d).unwrap();
        l.append(vec![s]).unwrap();
        id
    };
    for _ in 0..3 {
        create(&mut l);
    }
    let plan = crate::ledger::testing::approved_test_plan(&mut l, &sup1, &sup2);
    let outsider = create(&mut l);
    (l, sup1, plan, outsider)
}

/// The ledger as a host that lies in one way.
#[derive(Default)]
struct Lies {
    /// Adds this record to the targets.
    extra: Option<[u8; 16]>,
    /// Offers another plan document naming `extra` in place of the authority's.
    swap_document: bool,
    /// Offers a certificate naming this applier.
    applied_by: Option<String>,
    /// Offers a certificate that also lists this record.
    certify_extra: Option<[u8; 16]>,
}

struct Lying<'a> {
    inner: InProcess<'a>,
    lies: Lies,
}

impl Lying<'_> {
    /// The authority's document with `extra` added as a destroy entry.
    fn fake(&self, real: &[u8; 32]) -> (Vec<u8>, [u8; 32]) {
        let bytes = self.inner.document(real).unwrap();
        let mut plan: PlanDoc = serde_json::from_slice(&bytes).unwrap();
        let mut e = plan.records[0].clone();
        e.record = hex::encode(self.lies.extra.unwrap());
        plan.records.push(e);
        let fake = serde_json::to_vec_pretty(&plan).unwrap();
        let h = *blake3::hash(&fake).as_bytes();
        (fake, h)
    }
}

impl Host for Lying<'_> {
    type Error = LedgerError;
    fn targets(&self, a: &[u8; 16]) -> Result<Targets, LedgerError> {
        let mut t = self.inner.targets(a)?;
        t.records.extend(self.lies.extra.map(hex::encode));
        if self.lies.swap_document {
            t.document = self.fake(&t.document).1;
        }
        Ok(t)
    }
    fn document(&self, h: &[u8; 32]) -> Result<Vec<u8>, LedgerError> {
        match self.inner.document(h) {
            Err(_) if self.lies.swap_document => {
                // The fake is asked for by its hash; find the real one to build it.
                let real = self
                    .inner
                    .ledger
                    .internal_records("purge-plan")?
                    .into_iter()
                    .filter_map(|p| self.inner.ledger.record(&p).ok().flatten())
                    .filter_map(|s| s.document)
                    .find(|d| self.fake(d).1 == *h)
                    .ok_or_else(|| invalid("no such document"))?;
                Ok(self.fake(&real).0)
            }
            r => r,
        }
    }
    fn states(&self, ids: &[[u8; 16]]) -> Result<Vec<RecordState>, LedgerError> {
        let mut states = self.inner.states(ids)?;
        if self.lies.swap_document {
            for st in states.iter_mut().filter(|s| s.record_type == "purge-plan") {
                st.document = st.document.map(|d| self.fake(&d).1);
            }
        }
        Ok(states)
    }
    fn entry(&self, seq: u64) -> Result<Vec<u8>, LedgerError> {
        self.inner.entry(seq)
    }
    fn keys(&self) -> Result<Vec<KeyState>, LedgerError> {
        self.inner.keys()
    }
    fn person(&self) -> Result<String, LedgerError> {
        self.inner.person()
    }
    fn sign_all(&self, d: Vec<Draft>) -> Result<Vec<Submission>, LedgerError> {
        self.inner.sign_all(d)
    }
    fn append(&mut self, s: Vec<Submission>) -> Result<Vec<Outcome>, LedgerError> {
        self.inner.append(s)
    }
    fn finish(&mut self, a: &[u8; 16]) -> Result<Finish, LedgerError> {
        let mut f = self.inner.finish(a)?;
        if let Some(offer) = f.certificate.as_mut() {
            let mut cert: CertificateDoc = serde_json::from_str(&offer.text).unwrap();
            if let Some(who) = &self.lies.applied_by {
                cert.applied_by = who.clone();
            }
            if let Some(r) = self.lies.certify_extra {
                cert.records.push(hex::encode(r));
                cert.record_count += 1;
            }
            offer.text = serde_json::to_string_pretty(&cert).unwrap();
            offer.document = *blake3::hash(offer.text.as_bytes()).as_bytes();
        }
        Ok(f)
    }
}

/// Applying `plan` on `l` through a host with `lies` fails with a message containing
/// `says`, and appends nothing.
fn refused(l: &mut Ledger, key: &SigningKey, plan: &[u8; 16], lies: Lies, says: &str) {
    let size = l.head().size;
    let mut host = Lying {
        inner: InProcess { ledger: l, key },
        lies,
    };
    let e = apply_with(&mut host, plan, &|_, _| {}).unwrap_err();
    assert!(e.to_string().contains(says), "{e}");
    assert_eq!(l.head().size, size, "nothing signed, nothing appended");
}

#[test]
fn a_host_cannot_swap_the_authoritys_document() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut l, sup1, plan, outsider) = fixture(tmp.path());
    let lies = Lies {
        extra: Some(outsider),
        swap_document: true,
        ..Lies::default()
    };
    refused(
        &mut l,
        &sup1,
        &plan,
        lies,
        "do not make and approve the document offered",
    );
    assert!(l.record(&outsider).unwrap().unwrap().disposed.is_none());
}

#[test]
fn a_host_cannot_add_a_record_the_plan_does_not_name() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut l, sup1, plan, outsider) = fixture(tmp.path());
    let lies = Lies {
        extra: Some(outsider),
        ..Lies::default()
    };
    refused(&mut l, &sup1, &plan, lies, "is not named");
    assert!(l.record(&outsider).unwrap().unwrap().disposed.is_none());
}

#[test]
fn a_host_cannot_offer_a_certificate_naming_another_applier_or_record() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut l, sup1, plan, outsider) = fixture(tmp.path());
    for lies in [
        Lies {
            applied_by: Some("S-2".into()),
            ..Lies::default()
        },
        Lies {
            certify_extra: Some(outsider),
            ..Lies::default()
        },
    ] {
        let mut host = Lying {
            inner: InProcess {
                ledger: &mut l,
                key: &sup1,
            },
            lies,
        };
        let e = apply_with(&mut host, &plan, &|_, _| {}).unwrap_err();
        assert!(e.to_string().contains("is not this authority's"), "{e}");
        assert!(l.record(&plan).unwrap().unwrap().closed.is_none());
    }
    // The disposals are durable; applying honestly again certifies.
    let a = l.apply_disposition(&plan, &sup1, &|_, _| {}).unwrap();
    assert_eq!((a.disposed_now, a.already_disposed), (0, 3));
    assert!(a.certificate_seq.is_some());
    let (cert, _) = l.certificate(&plan).unwrap();
    assert_eq!((cert.record_count, cert.applied_by.as_str()), (3, "S-1"));
}
