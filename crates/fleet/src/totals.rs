//! Usage totals per module (pages) and per symbology (scans): what the devices recorded, and
//! what the server holds as `licet-server usage --json` prints it, summed over its licenses.
//! The check compares them: after a run the server must hold what it held before plus exactly
//! what the devices recorded. It reads the server's totals only through that command, never
//! through the store's files.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use licet_protocol::wire::SlotUsage;
use serde::Serialize;

use crate::FleetError;

/// Counts per module and per symbology.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub pages: BTreeMap<String, u64>,
    pub scans: BTreeMap<String, u64>,
}

impl Totals {
    /// Adds the usage of one slot.
    pub fn add_slot(&mut self, slot: &SlotUsage) {
        for (module, count) in &slot.pages {
            *self.pages.entry(module.as_str().to_owned()).or_default() += count;
        }
        for (symbology, count) in &slot.scans {
            *self.scans.entry(symbology.clone()).or_default() += count;
        }
    }

    /// Adds another set of totals.
    pub fn merge(&mut self, other: &Totals) {
        for (module, count) in &other.pages {
            *self.pages.entry(module.clone()).or_default() += count;
        }
        for (symbology, count) in &other.scans {
            *self.scans.entry(symbology.clone()).or_default() += count;
        }
    }

    /// Reads the JSON of `licet-server usage --json`, summing every license's counts.
    pub fn from_usage_json(text: &str) -> Result<Totals, FleetError> {
        #[derive(serde::Deserialize)]
        struct Usage {
            licenses: Vec<License>,
        }
        #[derive(serde::Deserialize)]
        struct License {
            pages: BTreeMap<String, u64>,
            scans: BTreeMap<String, u64>,
        }
        let usage: Usage = serde_json::from_str(text)
            .map_err(|e| FleetError::Usage(format!("its JSON has an unexpected shape ({e}): {text}")))?;
        let mut totals = Totals::default();
        for license in usage.licenses {
            totals.merge(&Totals { pages: license.pages, scans: license.scans });
        }
        Ok(totals)
    }

    /// One line per count, e.g. `core pages 1234`.
    pub fn lines(&self) -> Vec<String> {
        let pages = self.pages.iter().map(|(module, n)| format!("{module} pages {n}"));
        pages.chain(self.scans.iter().map(|(symbology, n)| format!("{symbology} scans {n}"))).collect()
    }
}

/// Where `licet-server` finds the store it reports on.
#[derive(Debug, Clone)]
pub enum Store {
    /// `--data DIR`: a SQLite data directory.
    Data(PathBuf),
    /// `--database URL`: a database the server names by URL.
    Database(String),
}

impl Store {
    fn args(&self) -> Vec<std::ffi::OsString> {
        match self {
            Store::Data(dir) => vec!["--data".into(), dir.into()],
            Store::Database(url) => vec!["--database".into(), url.into()],
        }
    }
}

/// The server's totals now, by `bin usage <store> --json`.
pub fn server_totals(bin: &Path, store: &Store) -> Result<Totals, FleetError> {
    let output = Command::new(bin)
        .arg("usage")
        .args(store.args())
        .arg("--json")
        .output()
        .map_err(|source| FleetError::ServerBin { bin: bin.to_owned(), source })?;
    if !output.status.success() {
        return Err(FleetError::Usage(format!(
            "{} exited with {}: {}",
            bin.display(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Totals::from_usage_json(String::from_utf8_lossy(&output.stdout).trim())
}

/// Checks that the server holds, for every module and symbology, what it held `before` the run
/// plus what the devices `recorded`: no count lost, none counted twice, none invented.
pub fn check(recorded: &Totals, before: &Totals, after: &Totals) -> Result<(), FleetError> {
    let mut wrong = Vec::new();
    type Pick = fn(&Totals) -> &BTreeMap<String, u64>;
    let kinds: [(&str, Pick); 2] = [("pages", |t| &t.pages), ("scans", |t| &t.scans)];
    for (kind, pick) in kinds {
        let (recorded, before, after) = (pick(recorded), pick(before), pick(after));
        let names: BTreeSet<&String> = recorded.keys().chain(before.keys()).chain(after.keys()).collect();
        for name in names {
            let [r, b, a] = [recorded, before, after].map(|m| m.get(name).copied().unwrap_or(0));
            if b + r != a {
                wrong.push(format!("  {name} {kind}: the server holds {a}, expected {b} from before the run + {r} the devices recorded = {}", b + r));
            }
        }
    }
    if wrong.is_empty() {
        Ok(())
    } else {
        Err(FleetError::Mismatch(wrong.join("\n")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn totals(pages: &[(&str, u64)], scans: &[(&str, u64)]) -> Totals {
        let map = |items: &[(&str, u64)]| items.iter().map(|(k, n)| ((*k).to_owned(), *n)).collect();
        Totals { pages: map(pages), scans: map(scans) }
    }

    #[test]
    fn the_server_json_is_summed_over_licenses() {
        let json = r#"{"licenses":[
            {"license":"A","pages":{"core":5,"ocr":1},"scans":{"QR_CODE":2}},
            {"license":"B","pages":{"core":7},"scans":{}}]}"#;
        assert_eq!(Totals::from_usage_json(json).unwrap(), totals(&[("core", 12), ("ocr", 1)], &[("QR_CODE", 2)]));
        assert!(matches!(Totals::from_usage_json(r#"{"devices":[]}"#), Err(FleetError::Usage(_))));
    }

    #[test]
    fn the_check_wants_before_plus_recorded_exactly() {
        let before = totals(&[("core", 10)], &[]);
        let recorded = totals(&[("core", 5), ("ocr", 2)], &[("QR_CODE", 3)]);
        assert!(check(&recorded, &before, &totals(&[("core", 15), ("ocr", 2)], &[("QR_CODE", 3)])).is_ok());
        // One page lost, one scan of a symbology nobody recorded.
        let after = totals(&[("core", 14), ("ocr", 2)], &[("QR_CODE", 3), ("EAN_13", 1)]);
        let Err(FleetError::Mismatch(text)) = check(&recorded, &before, &after) else { panic!("the check passed") };
        assert!(text.contains("core pages: the server holds 14, expected 10"), "{text}");
        assert!(text.contains("EAN_13 scans: the server holds 1, expected 0"), "{text}");
        assert!(!text.contains("ocr"), "{text}");
    }
}
