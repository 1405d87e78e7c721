//! Archives through the real binary: export, verify, restore, the standard tools, and
//! every kind of bad input (docs/ARCHIVES.md, docs/FORMAT.md §12).

mod common;

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::OnceLock;

use age::secrecy::ExposeSecret;
use common::{blotter, copy_dir, demo, tool};
use serde_json::Value;

/// A demo ledger with an attachment, and an archive of some of its records.
struct Fixture {
    root: PathBuf,
    ledger: PathBuf,
    identity: PathBuf,
    recipient: String,
    vkey: String,
    archive: PathBuf,
    records: Vec<String>,
    attached: String,
    attachment: Vec<u8>,
    sealed: String,
}

const MARK: &[u8] = b"DISTINCTIVE-ARCHIVE-ATTACHMENT-7f3a";

fn run(args: &[&str]) -> Output {
    blotter().args(args).output().expect("run blotter")
}

fn ok(args: &[&str]) -> Value {
    let out = run(&[&["--json"], args].concat());
    assert!(
        out.status.success(),
        "blotter {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json")
}

fn new_identity(dir: &Path, name: &str) -> (PathBuf, String) {
    let id = age::x25519::Identity::generate();
    let p = dir.join(name);
    std::fs::write(&p, format!("{}\n", id.to_string().expose_secret())).unwrap();
    (p, id.to_public().to_string())
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("archive-tests");
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).unwrap();
        let ledger = demo(&root, "ledger", 40);
        let l = ledger.to_str().unwrap().to_string();
        let clerk = format!("{l}/keys/clerk.key");
        let admin = format!("{l}/keys/admin.key");
        let list = ok(&["--ledger", &l, "record", "list"]);
        let ids: Vec<String> = list
            .as_array()
            .or_else(|| list["records"].as_array())
            .unwrap()
            .iter()
            .filter(|r| !r["sealed"].as_bool().unwrap_or(false))
            .filter(|r| !r["confidential"].as_bool().unwrap_or(false))
            .filter(|r| r["disposed"].is_null())
            .map(|r| r["id"].as_str().unwrap().to_string())
            .take(4)
            .collect();
        assert_eq!(ids.len(), 4, "the demo has live, unrestricted records");
        // At least three changes on the attached record (create, status, attach): the
        // tests that move or drop a middle change need one. The first records listed
        // are the demo's oldest (record ids are time-ordered) and may have one change.
        ok(&[
            "--ledger",
            &l,
            "--key",
            &clerk,
            "record",
            "status",
            &ids[0],
            "--status",
            "closed",
            "--date",
            "2026-01-05",
        ]);
        let mut attachment = Vec::new();
        for i in 0..200_000u32 {
            attachment.extend_from_slice(&(i.wrapping_mul(2_654_435_761)).to_le_bytes());
        }
        attachment.extend_from_slice(MARK);
        let scan = root.join("scan.bin");
        std::fs::write(&scan, &attachment).unwrap();
        ok(&[
            "--ledger",
            &l,
            "--key",
            &clerk,
            "record",
            "attach",
            &ids[0],
            scan.to_str().unwrap(),
        ]);
        let (identity, recipient) = new_identity(&root, "archive.key");
        let vkey = run(&["--ledger", &l, "key", "ledger"]);
        let vkey = String::from_utf8(vkey.stdout).unwrap().trim().to_string();
        let archive = root.join("a.age");
        let mut args = vec!["--ledger", &l, "--key", &admin, "archive", "export"];
        args.extend(["--out", archive.to_str().unwrap(), "-r", &recipient]);
        for id in &ids {
            args.extend(["--record", id]);
        }
        let x = ok(&args);
        assert_eq!(x["records"].as_array().unwrap().len(), 4);
        let sealed = demo_info(&ledger)["sealed_record"]
            .as_str()
            .unwrap()
            .to_string();
        Fixture {
            root,
            ledger,
            identity,
            recipient,
            vkey,
            archive,
            attached: ids[0].clone(),
            records: ids,
            attachment,
            sealed,
        }
    })
}

/// The demo's own JSON summary, rebuilt from a second small demo run is not needed:
/// the sealed record is the one `record list` marks sealed.
fn demo_info(ledger: &Path) -> Value {
    let l = ledger.to_str().unwrap();
    let list = ok(&["--ledger", l, "record", "list"]);
    let all = list
        .as_array()
        .or_else(|| list["records"].as_array())
        .unwrap()
        .clone();
    let sealed = all
        .iter()
        .find(|r| r["sealed"].as_bool() == Some(true) && r["disposed"].is_null())
        .map(|r| r["id"].clone())
        .unwrap_or(Value::Null);
    serde_json::json!({ "sealed_record": sealed })
}

fn verify(archive: &Path, identity: &Path, vkey: &str) -> Output {
    run(&[
        "--json",
        "archive",
        "verify",
        archive.to_str().unwrap(),
        "-i",
        identity.to_str().unwrap(),
        "--ledger-key",
        vkey,
    ])
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn assert_wrong(o: &Output, names: &str, context: &str) {
    assert_eq!(code(o), 1, "{context}: {}", text(o));
    assert!(
        text(o).contains(names),
        "{context}: expected {names:?} in {}",
        text(o)
    );
    assert!(!text(o).contains("panicked"), "{context}: {}", text(o));
}

#[test]
fn export_verifies_and_restores_read_only() {
    let f = fixture();
    let o = verify(&f.archive, &f.identity, &f.vkey);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["records"], 4);
    assert!(v["entries"].as_u64().unwrap() > 4);
    let into = f.root.join("restored");
    let _ = std::fs::remove_dir_all(&into);
    let args = |into: &Path| {
        run(&[
            "archive",
            "restore",
            f.archive.to_str().unwrap(),
            "-i",
            f.identity.to_str().unwrap(),
            "--ledger-key",
            &f.vkey,
            "--into",
            into.to_str().unwrap(),
        ])
    };
    let o = args(&into);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let rec = into.join("data/records").join(&f.attached);
    let att = std::fs::read_dir(&rec)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".attachment"))
        .find(|p| std::fs::read(p).unwrap() == f.attachment)
        .expect("the attachment is restored as attached");
    let summary: Value =
        serde_json::from_slice(&std::fs::read(rec.join("record.json")).unwrap()).unwrap();
    assert_eq!(summary["id"], f.attached.as_str());
    assert!(summary["entries"].to_string().contains("scan.bin"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&att).unwrap().permissions().mode();
        assert_eq!(mode & 0o222, 0, "restored files are read-only");
        let mode = std::fs::metadata(&rec).unwrap().permissions().mode();
        assert_eq!(mode & 0o222, 0, "restored folders are read-only");
    }
    // Never into an existing folder.
    let o = args(&into);
    assert_eq!(code(&o), 2, "{}", text(&o));
}

#[test]
fn opens_with_age_zstd_tar_and_bagit() {
    let f = fixture();
    let (Some(age), Some(zstd), Some(tar)) = (tool("age"), tool("zstd"), tool("tar")) else {
        return;
    };
    let out = f.root.join("by-tools");
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).unwrap();
    let sh = format!(
        "{} -d -i {} {} | {} -d | {} -x -C {}",
        age.display(),
        f.identity.display(),
        f.archive.display(),
        zstd.display(),
        tar.display(),
        out.display()
    );
    let o = std::process::Command::new("sh")
        .arg("-c")
        .arg(&sh)
        .output()
        .unwrap();
    assert!(o.status.success(), "{sh}: {}", text(&o));
    let bag = out.join("blotter-archive");
    let rec = bag.join("data/records").join(&f.attached);
    let found = std::fs::read_dir(&rec)
        .unwrap()
        .map(|e| e.unwrap().path())
        .any(|p| {
            std::fs::read(&p)
                .map(|b| b == f.attachment)
                .unwrap_or(false)
        });
    assert!(found, "tar -x yields the attachment as it was attached");
    let Some(bagit) = tool("bagit.py") else {
        return;
    };
    let o = std::process::Command::new(&bagit)
        .arg("--validate")
        .arg(&bag)
        .output()
        .unwrap();
    assert!(o.status.success(), "bagit.py --validate: {}", text(&o));
    // bagit.py notices an altered payload file too (the manifests mean something).
    let content = std::fs::read_dir(&rec)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".content"))
        .unwrap();
    std::fs::write(&content, b"{\"altered\": true}").unwrap();
    let o = std::process::Command::new(&bagit)
        .arg("--validate")
        .arg(&bag)
        .output()
        .unwrap();
    assert!(!o.status.success(), "bagit.py must refuse an altered bag");
}

#[test]
fn wrong_identity_missing_file_and_another_ledger() {
    let f = fixture();
    let (other, _) = new_identity(&f.root, "other.key");
    let o = verify(&f.archive, &other, &f.vkey);
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(
        text(&o).contains("none of the given identities"),
        "{}",
        text(&o)
    );
    let o = verify(&f.root.join("no-such.age"), &f.identity, &f.vkey);
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(text(&o).contains("no-such.age"), "{}", text(&o));
    // Another ledger's verifier key: the bag's checkpoint is not its.
    let other_ledger = demo(&f.root, "other-ledger", 3);
    let vk = run(&["--ledger", other_ledger.to_str().unwrap(), "key", "ledger"]);
    let vk = String::from_utf8(vk.stdout).unwrap().trim().to_string();
    let o = verify(&f.archive, &f.identity, &vk);
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(text(&o).contains("checkpoint"), "{}", text(&o));
    // A bag whose checkpoint was swapped for another ledger's, even a correctly signed one.
    let theirs = run(&[
        "--ledger",
        other_ledger.to_str().unwrap(),
        "checkpoint",
        "show",
    ]);
    let theirs = theirs.stdout;
    let swapped = repack(f, "swapped.age", |files| {
        set(files, "data/ledger/checkpoint", theirs.clone());
    });
    assert_wrong(
        &verify(&swapped, &f.identity, &f.vkey),
        "data/ledger/checkpoint",
        "swapped checkpoint",
    );
    let o = verify(&swapped, &f.identity, &vk);
    assert_eq!(
        code(&o),
        1,
        "their checkpoint does not prove our entries: {}",
        text(&o)
    );
}

// --- bags altered inside a correctly encrypted archive ---------------------------

type Files = Vec<(String, Vec<u8>)>;

fn unpack(f: &Fixture) -> Files {
    let file = std::fs::File::open(&f.archive).unwrap();
    let id: age::x25519::Identity = std::fs::read_to_string(&f.identity)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let d = age::Decryptor::new(file).unwrap();
    let r = d
        .decrypt(std::iter::once(&id as &dyn age::Identity))
        .unwrap();
    let z = zstd::stream::read::Decoder::new(r).unwrap();
    let mut a = tar::Archive::new(z);
    let mut out = Vec::new();
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let p = e.path().unwrap().to_string_lossy().into_owned();
        let mut b = Vec::new();
        e.read_to_end(&mut b).unwrap();
        out.push((p.trim_start_matches("blotter-archive/").to_string(), b));
    }
    out
}

fn pack(f: &Fixture, name: &str, files: &Files, raw: Option<tar::Header>) -> PathBuf {
    let mut tarball = tar::Builder::new(Vec::new());
    for (p, b) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(b.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        tarball
            .append_data(&mut h, format!("blotter-archive/{p}"), &b[..])
            .unwrap();
    }
    if let Some(mut h) = raw {
        h.set_cksum();
        tarball.append(&h, &[][..]).unwrap();
    }
    let tarball = tarball.into_inner().unwrap();
    pack_raw(f, name, &tarball, &[])
}

/// Compresses (one zstd frame with a checksum, as export writes), appends `after` to
/// the compressed stream, and encrypts to the fixture's recipient.
fn pack_raw(f: &Fixture, name: &str, tarball: &[u8], after: &[u8]) -> PathBuf {
    let mut enc = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
    enc.include_checksum(true).unwrap();
    enc.write_all(tarball).unwrap();
    let mut z = enc.finish().unwrap();
    z.extend_from_slice(after);
    encrypt(f, name, &z)
}

fn encrypt(f: &Fixture, name: &str, z: &[u8]) -> PathBuf {
    let r: age::x25519::Recipient = f.recipient.parse().unwrap();
    let e = age::Encryptor::with_recipients(std::iter::once(&r as &dyn age::Recipient)).unwrap();
    let path = f.root.join(name);
    let mut w = e
        .wrap_output(std::fs::File::create(&path).unwrap())
        .unwrap();
    w.write_all(z).unwrap();
    w.finish().unwrap();
    path
}

/// The fixture's tar stream, as export wrote it.
fn raw_tar(f: &Fixture) -> Vec<u8> {
    let file = std::fs::File::open(&f.archive).unwrap();
    let id: age::x25519::Identity = std::fs::read_to_string(&f.identity)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let r = age::Decryptor::new(file)
        .unwrap()
        .decrypt(std::iter::once(&id as &dyn age::Identity))
        .unwrap();
    let mut out = Vec::new();
    zstd::stream::read::Decoder::new(r)
        .unwrap()
        .read_to_end(&mut out)
        .unwrap();
    out
}

#[test]
fn streams_with_unchecked_bytes_are_refused() {
    let f = fixture();
    let tarball = raw_tar(f);
    // A zstd skippable frame after the real one: a decoder would pass over it.
    let mut skippable = vec![0x50, 0x2a, 0x4d, 0x18];
    skippable.extend_from_slice(&1000u32.to_le_bytes());
    skippable.extend(vec![0x41; 1000]);
    let p = pack_raw(f, "skippable.age", &tarball, &skippable);
    assert_wrong(&verify(&p, &f.identity, &f.vkey), "zstd", "skippable frame");
    // A frame without a content checksum.
    let p = encrypt(
        f,
        "nochecksum.age",
        &zstd::encode_all(&tarball[..], 3).unwrap(),
    );
    assert_wrong(&verify(&p, &f.identity, &f.vkey), "checksum", "no checksum");
    // The tar stream without its end-of-archive blocks.
    let cut = tarball.len() - 1024;
    assert!(tarball[cut..].iter().all(|b| *b == 0));
    let p = pack_raw(f, "noend.age", &tarball[..cut], &[]);
    assert_wrong(
        &verify(&p, &f.identity, &f.vkey),
        "end-of-archive",
        "no end blocks",
    );
    // Data after the end of the tar stream.
    let mut more = tarball.clone();
    more.extend(vec![7u8; 512]);
    let p = pack_raw(f, "after-tar.age", &more, &[]);
    assert_wrong(
        &verify(&p, &f.identity, &f.vkey),
        "after the end",
        "data after tar",
    );
    // A folder member that carries 4096 bytes of data, before bagit.txt.
    let mut hd = tar::Header::new_gnu();
    hd.set_entry_type(tar::EntryType::Directory);
    hd.set_path("blotter-archive/data/").unwrap();
    hd.set_size(4096);
    hd.set_cksum();
    let mut all = hd.as_bytes().to_vec();
    all.extend(vec![9u8; 4096]);
    all.extend(&tarball);
    let p = pack_raw(f, "dirdata.age", &all, &[]);
    assert_wrong(
        &verify(&p, &f.identity, &f.vkey),
        "Directory",
        "folder with data",
    );
}

#[test]
fn misplaced_entries_and_bag_info_are_refused() {
    let f = fixture();
    let files = unpack(f);
    // The record with the most entries.
    let dirs: Vec<String> = files
        .iter()
        .filter(|(p, _)| p.starts_with("data/records/") && p.ends_with(".entry"))
        .map(|(p, _)| p.rsplit_once('/').unwrap().0.to_string())
        .collect();
    let dir = dirs
        .iter()
        .max_by_key(|d| dirs.iter().filter(|x| x == d).count())
        .unwrap()
        .clone();
    let entries: Vec<String> = files
        .iter()
        .filter(|(p, _)| p.starts_with(&format!("{dir}/")) && p.ends_with(".entry"))
        .map(|(p, _)| p.clone())
        .collect();
    let seq_of = |p: &str| {
        p.rsplit_once('/')
            .unwrap()
            .1
            .split('.')
            .next()
            .unwrap()
            .to_string()
    };
    // The record's last entry (with its proof and openings) moved into the ledger part.
    let seq = seq_of(entries.last().unwrap());
    let mut fs = files.clone();
    let prefix = format!("{dir}/{seq}.");
    let moved: Vec<(String, Vec<u8>)> = fs
        .iter()
        .filter(|(p, _)| p.starts_with(&prefix))
        .map(|(p, b)| (p.replace(&dir, "data/ledger"), b.clone()))
        .collect();
    fs.retain(|(p, _)| !p.starts_with(&prefix));
    let at = fs
        .iter()
        .position(|(p, _)| p.starts_with("data/records/"))
        .unwrap();
    for (i, m) in moved.into_iter().enumerate() {
        fs.insert(at + i, m);
    }
    remanifest(&mut fs);
    assert_refused(f, "moved.age", &fs, "ledger part", "moved entry");
    // record.json before the record's entries.
    let mut fs = files.clone();
    let json = fs
        .iter()
        .position(|(p, _)| p == &format!("{dir}/record.json"))
        .unwrap();
    let item = fs.remove(json);
    let at = fs.iter().position(|(p, _)| p.starts_with(&dir)).unwrap();
    fs.insert(at, item);
    assert_refused(f, "json-first.age", &fs, "record.json", "record.json first");
    // A middle change removed: the next one's record_prev names another.
    assert!(
        entries.len() > 2,
        "the fixture's record has a middle change"
    );
    let mid = format!("{dir}/{}.", seq_of(&entries[1]));
    let mut fs = files.clone();
    fs.retain(|(p, _)| !p.starts_with(&mid));
    remanifest(&mut fs);
    assert_refused(f, "gap.age", &fs, "record_prev", "middle entry removed");
    // bag-info without Payload-Oxum, or of another archive format.
    for what in ["Payload-Oxum", "Blotter-Archive-Format"] {
        let mut fs = files.clone();
        let info = fs.iter_mut().find(|(p, _)| p == "bag-info.txt").unwrap();
        let text: String = String::from_utf8(info.1.clone())
            .unwrap()
            .lines()
            .filter(|l| !(what == "Payload-Oxum" && l.starts_with(what)))
            .map(|l| match l.starts_with(what) {
                true => format!("{what}: 99\n"),
                false => format!("{l}\n"),
            })
            .collect();
        info.1 = text.into_bytes();
        remanifest_tags(&mut fs);
        let p = pack(f, &format!("info-{what}.age"), &fs, None);
        assert_wrong(&verify(&p, &f.identity, &f.vkey), what, what);
    }
}

fn repack(f: &Fixture, name: &str, change: impl FnOnce(&mut Files)) -> PathBuf {
    let mut files = unpack(f);
    change(&mut files);
    pack(f, name, &files, None)
}

fn set(files: &mut Files, path: &str, bytes: Vec<u8>) {
    let slot = files.iter_mut().find(|(p, _)| p == path).expect(path);
    slot.1 = bytes;
}

/// Recomputes manifest-sha256.txt (and the tag manifest) after a change, as an
/// attacker who knows BagIt would.
fn remanifest(files: &mut Files) {
    use sha2::{Digest, Sha256};
    let (octets, count) = files
        .iter()
        .filter(|(p, _)| p.starts_with("data/"))
        .fold((0, 0), |(o, c), (_, b)| (o + b.len(), c + 1));
    let info = files.iter().find(|(p, _)| p == "bag-info.txt").unwrap();
    let info: String = String::from_utf8(info.1.clone())
        .unwrap()
        .lines()
        .map(|l| match l.starts_with("Payload-Oxum:") {
            true => format!("Payload-Oxum: {octets}.{count}\n"),
            false => format!("{l}\n"),
        })
        .collect();
    set(files, "bag-info.txt", info.into_bytes());
    let line = |p: &str, b: &[u8]| format!("{}  {p}\n", hex::encode(Sha256::digest(b)));
    let m: String = files
        .iter()
        .filter(|(p, _)| p.starts_with("data/"))
        .map(|(p, b)| line(p, b))
        .collect();
    set(files, "manifest-sha256.txt", m.into_bytes());
    let t: String = files
        .iter()
        .filter(|(p, _)| ["bagit.txt", "bag-info.txt", "manifest-sha256.txt"].contains(&p.as_str()))
        .map(|(p, b)| line(p, b))
        .collect();
    set(files, "tagmanifest-sha256.txt", t.into_bytes());
}

/// Recomputes only tagmanifest-sha256.txt (after an edit of bag-info.txt).
fn remanifest_tags(files: &mut Files) {
    use sha2::{Digest, Sha256};
    let t: String = files
        .iter()
        .filter(|(p, _)| ["bagit.txt", "bag-info.txt", "manifest-sha256.txt"].contains(&p.as_str()))
        .map(|(p, b)| format!("{}  {p}\n", hex::encode(Sha256::digest(b))))
        .collect();
    set(files, "tagmanifest-sha256.txt", t.into_bytes());
}

/// Packs `files` as archive `name` and asserts that verify refuses it, naming `names`.
fn assert_refused(f: &Fixture, name: &str, files: &Files, names: &str, context: &str) {
    let p = pack(f, name, files, None);
    assert_wrong(&verify(&p, &f.identity, &f.vkey), names, context);
}

fn first(files: &Files, suffix: &str) -> String {
    files
        .iter()
        .find(|(p, _)| p.starts_with("data/records/") && p.ends_with(suffix))
        .map(|(p, _)| p.clone())
        .expect(suffix)
}

#[test]
fn a_repacked_but_unchanged_bag_verifies() {
    // The harness itself: unpack + pack changes nothing a verifier cares about.
    let f = fixture();
    let p = repack(f, "same.age", |_| {});
    let o = verify(&p, &f.identity, &f.vkey);
    assert_eq!(code(&o), 0, "{}", text(&o));
}

#[test]
fn altered_files_are_named() {
    let f = fixture();
    let files = unpack(f);
    let content = first(&files, ".content");
    let attachment = first(&files, ".attachment");
    let entry = first(&files, ".entry");
    let proof = first(&files, ".proof");
    let json = first(&files, "record.json");
    // (what, file, byte to flip, manifest recomputed by the attacker)
    let cases = [
        ("content", &content, 0, true),
        ("attachment", &attachment, 1000, true),
        ("entry", &entry, 60, true),
        ("proof", &proof, 40, true),
        ("record.json", &json, 5, false),
        ("record.json", &json, 5, true),
    ];
    for (i, (what, path, at, fix_manifest)) in cases.into_iter().enumerate() {
        let mut fs = files.clone();
        flip(&mut fs, path, at);
        if fix_manifest {
            remanifest(&mut fs);
        }
        let p = pack(f, &format!("altered-{i}.age"), &fs, None);
        let o = verify(&p, &f.identity, &f.vkey);
        if what == "record.json" && fix_manifest {
            // record.json is informative; with the manifest recomputed the evidence
            // (entries, proofs, openings) is intact, so the archive still verifies.
            assert_eq!(code(&o), 0, "{}", text(&o));
            continue;
        }
        assert_wrong(&o, path, what);
    }
}

fn flip(files: &mut Files, path: &str, at: usize) {
    let slot = files.iter_mut().find(|(p, _)| p == path).expect(path);
    let n = slot.1.len();
    slot.1[at.min(n - 1)] ^= 0x01;
}

#[test]
fn extra_missing_and_misplaced_files_are_refused() {
    let f = fixture();
    let files = unpack(f);
    let content = first(&files, ".content");
    let dir = content.rsplit_once('/').unwrap().0.to_string();
    // An extra payload file, listed in a recomputed manifest.
    let mut fs = files.clone();
    let at = fs.iter().position(|(p, _)| p == &content).unwrap();
    fs.insert(at + 1, (format!("{dir}/notes.txt"), b"extra".to_vec()));
    remanifest(&mut fs);
    assert_refused(f, "extra.age", &fs, "notes.txt", "extra file");
    // A missing content file, manifest recomputed.
    let mut fs = files.clone();
    fs.retain(|(p, _)| p != &content);
    remanifest(&mut fs);
    assert_refused(
        f,
        "missing.age",
        &fs,
        ".content: missing",
        "missing content",
    );
    // A missing file the manifest still lists.
    let mut fs = files.clone();
    fs.retain(|(p, _)| p != &first(&files, "record.json"));
    assert_refused(
        f,
        "missing-json.age",
        &fs,
        "record.json",
        "missing record.json",
    );
    // A whole record removed, manifest recomputed: bag-info's count no longer matches.
    let mut fs = files.clone();
    fs.retain(|(p, _)| !p.starts_with(&dir));
    remanifest(&mut fs);
    assert_refused(
        f,
        "missing-record.age",
        &fs,
        "Blotter-Record-Count",
        "missing record",
    );
    // An entry removed from a record's chain.
    let mut fs = files.clone();
    let entries: Vec<String> = fs
        .iter()
        .filter(|(p, _)| p.starts_with(&dir) && p.ends_with(".entry"))
        .map(|(p, _)| p.clone())
        .collect();
    if entries.len() > 1 {
        let seq = entries[0]
            .rsplit_once('/')
            .unwrap()
            .1
            .split('.')
            .next()
            .unwrap()
            .to_string();
        fs.retain(|(p, _)| !p.contains(&format!("/{seq}.")));
        remanifest(&mut fs);
        let p = pack(f, "missing-entry.age", &fs, None);
        assert_wrong(
            &verify(&p, &f.identity, &f.vkey),
            "does not create it",
            "missing first entry",
        );
    }
    // Out of order: the content before its salt.
    let mut fs = files.clone();
    let salt = fs
        .iter()
        .position(|(p, _)| p == &format!("{content}.salt"))
        .unwrap();
    let c = fs.iter().position(|(p, _)| p == &content).unwrap();
    fs.swap(salt, c);
    assert_refused(f, "order.age", &fs, &content, "content before its salt");
}

#[test]
fn links_and_escaping_paths_are_refused() {
    let f = fixture();
    let files = unpack(f);
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_path("blotter-archive/data/records/evil").unwrap();
    h.set_link_name("/etc/passwd").unwrap();
    h.set_size(0);
    let p = pack(f, "link.age", &files, Some(h));
    assert_wrong(
        &verify(&p, &f.identity, &f.vkey),
        "regular files",
        "symlink",
    );
    let mut h = tar::Header::new_gnu();
    let name = b"blotter-archive/../../escape";
    h.as_gnu_mut().unwrap().name[..name.len()].copy_from_slice(name);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_size(0);
    let p = pack(f, "escape.age", &files, Some(h));
    let into = f.root.join("escape-restore");
    let o = run(&[
        "archive",
        "restore",
        p.to_str().unwrap(),
        "-i",
        f.identity.to_str().unwrap(),
        "--ledger-key",
        &f.vkey,
        "--into",
        into.to_str().unwrap(),
    ]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(!into.exists(), "a failed restore leaves no folder");
    assert!(!f.root.join("escape").exists());
}

#[test]
fn truncation_and_flipped_bytes_are_never_valid() {
    let f = fixture();
    let bytes = std::fs::read(&f.archive).unwrap();
    let n = bytes.len();
    let mut offsets: Vec<usize> = (0..24).map(|i| i * n / 24).collect();
    offsets.extend([1, 20, 100, 200, n - 17, n - 1]);
    let work = f.root.join("corrupt.age");
    for &at in &offsets {
        std::fs::write(&work, &bytes[..at]).unwrap();
        let o = verify(&work, &f.identity, &f.vkey);
        assert!(
            matches!(code(&o), 1 | 2) && !text(&o).contains("panicked"),
            "truncated at {at}: {}",
            text(&o)
        );
        // Past the age header (which names the recipients), a cut is a wrong archive.
        if at > 300 {
            assert_eq!(code(&o), 1, "truncated at {at}: {}", text(&o));
        }
    }
    for &at in &offsets {
        let mut b = bytes.clone();
        b[at.min(n - 1)] ^= 0x20;
        std::fs::write(&work, &b).unwrap();
        let o = verify(&work, &f.identity, &f.vkey);
        assert!(
            matches!(code(&o), 1 | 2) && !text(&o).contains("panicked"),
            "flipped at {at}: {}",
            text(&o)
        );
        if at > 300 {
            assert_eq!(code(&o), 1, "flipped at {at}: {}", text(&o));
        }
    }
}

#[test]
fn export_refuses_and_leaves_nothing() {
    let f = fixture();
    let l = f.root.join("refusals");
    let _ = std::fs::remove_dir_all(&l);
    copy_dir(&f.ledger, &l);
    let ls = l.to_str().unwrap();
    let admin = format!("{ls}/keys/admin.key");
    let clerk = format!("{ls}/keys/clerk.key");
    let outdir = f.root.join("refusals-out");
    let _ = std::fs::remove_dir_all(&outdir);
    std::fs::create_dir_all(&outdir).unwrap();
    let out = outdir.join("refused.age");
    let export = |key: &str, extra: &[&str]| {
        let mut a = vec!["--ledger", ls, "--key", key, "archive", "export"];
        a.extend(["--out", out.to_str().unwrap(), "-r", &f.recipient]);
        a.extend(extra);
        run(&a)
    };
    let leftovers = || std::fs::read_dir(&outdir).unwrap().count();
    let cases: Vec<(&str, Vec<&str>, &str)> = vec![
        (&clerk, vec!["--record", &f.records[1]], "administrator"),
        (&admin, vec!["--record", &f.sealed], "--include-restricted"),
        (
            &admin,
            vec!["--record", "00000000000000000000000000000000"],
            "not found",
        ),
        (
            &admin,
            vec!["--type", "incident", "--closed-before", "1900-01-01"],
            "no record",
        ),
    ];
    for (key, extra, says) in cases {
        let o = export(key, &extra);
        assert_eq!(code(&o), 2, "{extra:?}: {}", text(&o));
        assert!(text(&o).contains(says), "{extra:?}: {}", text(&o));
        assert!(!out.exists(), "{extra:?}: no archive");
    }
    // With the flag, the sealed record goes in.
    let o = export(&admin, &["--record", &f.sealed, "--include-restricted"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert_eq!(code(&verify(&out, &f.identity, &f.vkey)), 0);
    std::fs::remove_file(&out).unwrap();
    // A failure in the middle of the stream: the attachment's sealed blob is gone.
    for b in std::fs::read_dir(l.join("blobs")).unwrap() {
        std::fs::remove_file(b.unwrap().path()).unwrap();
    }
    let o = export(&admin, &["--record", &f.attached]);
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(!out.exists(), "no partial archive");
    assert_eq!(leftovers(), 0, "no temporary file left behind");
    // An existing file is never replaced.
    std::fs::write(&out, b"keep me").unwrap();
    let o = export(&admin, &["--record", &f.records[1]]);
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert_eq!(std::fs::read(&out).unwrap(), b"keep me");
    std::fs::remove_file(&out).unwrap();
}

#[test]
fn closed_records_by_type_and_a_passphrase() {
    let f = fixture();
    let l = f.root.join("closed");
    let _ = std::fs::remove_dir_all(&l);
    copy_dir(&f.ledger, &l);
    let ls = l.to_str().unwrap();
    let clerk = format!("{ls}/keys/clerk.key");
    let list = ok(&["--ledger", ls, "record", "list", "--type", "incident"]);
    let closed: Vec<String> = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["disposed"].is_null() && r["sealed"] == false && r["confidential"] == false)
        .map(|r| r["id"].as_str().unwrap().to_string())
        .take(2)
        .collect();
    assert_eq!(closed.len(), 2);
    for id in &closed {
        ok(&[
            "--ledger",
            ls,
            "--key",
            &clerk,
            "record",
            "status",
            id,
            "--status",
            "closed",
            "--date",
            "2020-03-01",
        ]);
    }
    let out = f.root.join("closed.age");
    let _ = std::fs::remove_file(&out);
    let x = blotter()
        .env("BLOTTER_PASSPHRASE", "correct horse")
        .args([
            "--json",
            "--ledger",
            ls,
            "--key",
            &format!("{ls}/keys/admin.key"),
            "archive",
            "export",
        ])
        .args([
            "--out",
            out.to_str().unwrap(),
            "--passphrase",
            "--type",
            "incident",
            "--closed-before",
            "2021-01-01",
        ])
        .output()
        .unwrap();
    assert!(x.status.success(), "{}", text(&x));
    let v: Value = serde_json::from_slice(&x.stdout).unwrap();
    let mut got: Vec<String> = v["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().to_string())
        .collect();
    got.sort();
    let mut want = closed.clone();
    want.sort();
    assert_eq!(got, want);
    let check = |pass: &str| {
        blotter()
            .env("BLOTTER_PASSPHRASE", pass)
            .args([
                "archive",
                "verify",
                out.to_str().unwrap(),
                "--passphrase",
                "--ledger-key",
                &vk(&l),
            ])
            .output()
            .unwrap()
    };
    assert_eq!(code(&check("correct horse")), 0);
    let o = check("wrong horse");
    assert_eq!(code(&o), 2, "{}", text(&o));
}

fn vk(l: &Path) -> String {
    let o = run(&["--ledger", l.to_str().unwrap(), "key", "ledger"]);
    String::from_utf8(o.stdout).unwrap().trim().to_string()
}
