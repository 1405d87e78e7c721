//! The end of the pass: the BagIt manifests and bag-info against what was read.

use super::*;

impl Verifier {
    /// After the last file: the manifests and bag-info against what was read.
    pub fn finish(
        mut self,
        seen: &BTreeMap<String, [u8; 32]>,
        payload_bytes: u64,
    ) -> Result<Checked, ArchiveError> {
        self.finish_record()?;
        let cp = self
            .cp
            .clone()
            .ok_or_else(|| wrong(format!("{}: missing", bag::CHECKPOINT)))?;
        if self.keys.origin().is_none() {
            return Err(wrong("data/ledger/: no genesis entry"));
        }
        let need = |v: &Option<Vec<u8>>, name: &str| {
            v.clone().ok_or_else(|| wrong(format!("{name}: missing")))
        };
        let info = need(&self.info, "bag-info.txt")?;
        let manifest = need(&self.manifest, "manifest-sha256.txt")?;
        let tags = need(&self.tagmanifest, "tagmanifest-sha256.txt")?;
        let m = bag::parse_manifest("manifest-sha256.txt", &manifest).map_err(wrong)?;
        let data = seen
            .iter()
            .filter(|(p, _)| p.starts_with("data/"))
            .collect();
        compare("manifest-sha256.txt", &m, &data)?;
        let t = bag::parse_manifest("tagmanifest-sha256.txt", &tags).map_err(wrong)?;
        let tag_files = ["bagit.txt", "bag-info.txt", "manifest-sha256.txt"];
        let tagged = seen
            .iter()
            .filter(|(p, _)| tag_files.contains(&p.as_str()))
            .collect();
        compare("tagmanifest-sha256.txt", &t, &tagged)?;
        let bag_info = parse_info(&info)?;
        let payload = seen.keys().filter(|p| p.starts_with("data/")).count();
        let oxum = format!("{payload_bytes}.{payload}");
        match bag_info.get("Payload-Oxum") {
            Some(ox) if *ox == oxum => {}
            Some(ox) => {
                return Err(wrong(format!(
                    "bag-info.txt: Payload-Oxum {ox} does not match the payload ({oxum})"
                )))
            }
            None => return Err(wrong("bag-info.txt: no Payload-Oxum")),
        }
        match bag_info.get("Blotter-Archive-Format").map(String::as_str) {
            Some(bag::ARCHIVE_FORMAT) => {}
            other => {
                return Err(wrong(format!(
                    "bag-info.txt: Blotter-Archive-Format {other:?}; this blotter reads format {}",
                    bag::ARCHIVE_FORMAT
                )))
            }
        }
        if bag_info.get("Blotter-Record-Count") != Some(&self.done.len().to_string()) {
            return Err(wrong(format!(
                "bag-info.txt: Blotter-Record-Count does not match the {} record folders",
                self.done.len()
            )));
        }
        if bag_info.get("Blotter-Origin") != Some(&cp.origin) {
            return Err(wrong(
                "bag-info.txt: Blotter-Origin is not the checkpoint's origin",
            ));
        }
        self.flagged.sort();
        Ok(Checked {
            origin: cp.origin,
            checkpoint_size: cp.size,
            records: self.done.len() as u64,
            entries: self.entries,
            files: seen.len() as u64,
            payload_bytes,
            blake3: String::new(),
            record_ids: {
                let mut ids: Vec<String> = self.done.iter().map(hex::encode).collect();
                ids.sort();
                ids
            },
            flagged: self.flagged,
            bag_info,
        })
    }
}

fn compare(
    name: &str,
    listed: &BTreeMap<String, [u8; 32]>,
    seen: &BTreeMap<&String, &[u8; 32]>,
) -> Result<(), ArchiveError> {
    for (p, h) in seen {
        match listed.get(*p) {
            None => return Err(wrong(format!("{p}: not listed in {name}: an extra file"))),
            Some(l) if l != *h => {
                return Err(wrong(format!(
                    "{p}: its SHA-256 differs from {name} (altered)"
                )))
            }
            _ => {}
        }
    }
    if let Some(p) = listed.keys().find(|p| !seen.contains_key(p)) {
        return Err(wrong(format!(
            "{p}: listed in {name} but missing from the bag"
        )));
    }
    Ok(())
}

fn parse_info(bytes: &[u8]) -> Result<BTreeMap<String, String>, ArchiveError> {
    let text = std::str::from_utf8(bytes).map_err(|_| wrong("bag-info.txt: not UTF-8"))?;
    let mut out = BTreeMap::new();
    for (i, line) in text.lines().enumerate() {
        let (k, v) = line.split_once(": ").ok_or_else(|| {
            wrong(format!(
                "bag-info.txt line {}: expected `Label: value`",
                i + 1
            ))
        })?;
        out.insert(k.to_string(), v.to_string());
    }
    Ok(out)
}
