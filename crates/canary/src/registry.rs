//! The canaries of one audit: identifiers nobody else uses, sent over the
//! air, then looked for everywhere. The registry is the auditor's: it holds
//! the canaries in clear and stays off the device under audit (or only in
//! the auditing process's memory). Reports name canaries by id only.

use std::path::Path;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::encoding::{Form, mac_forms, ssid_forms};
use crate::visual::VisualCanary;

/// What a canary is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "lowercase")]
pub enum CanaryValue {
    /// A transmitter address, as `aa:bb:cc:dd:ee:ff`.
    #[serde(with = "mac_text")]
    Mac([u8; 6]),
    /// A network name a canary device probes for.
    Ssid(String),
    /// A patch of pixels shown to a camera ([`crate::visual`]); searched
    /// by [`crate::visual::VisualScanner`], not by the byte forms.
    Visual(VisualCanary),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Canary {
    /// Stable, meaningless name: `mac-07`, `ssid-02`. Reports use this.
    pub id: String,
    #[serde(flatten)]
    pub value: CanaryValue,
    /// When it was sent over the air (or planted; a visual canary: shown
    /// to the camera), oldest first.
    #[serde(default, with = "rfc3339_list")]
    pub emitted: Vec<OffsetDateTime>,
}

impl Canary {
    /// Every byte form this canary is searched for in (none for a visual
    /// canary: its rows are searched by [`crate::visual::VisualScanner`]).
    pub fn forms(&self) -> Vec<Form> {
        match &self.value {
            CanaryValue::Mac(mac) => mac_forms(mac),
            CanaryValue::Ssid(s) => ssid_forms(s.as_bytes()),
            CanaryValue::Visual(_) => Vec::new(),
        }
    }

    pub fn mac(&self) -> Option<[u8; 6]> {
        match self.value {
            CanaryValue::Mac(m) => Some(m),
            _ => None,
        }
    }

    /// A visual canary's patch seed.
    pub fn visual(&self) -> Option<VisualCanary> {
        match self.value {
            CanaryValue::Visual(v) => Some(v),
            _ => None,
        }
    }

    /// The last time it was emitted (a visual canary: last shown).
    pub fn last_emitted(&self) -> Option<OffsetDateTime> {
        self.emitted.last().copied()
    }

    /// The first time it was emitted.
    pub fn first_emitted(&self) -> Option<OffsetDateTime> {
        self.emitted.first().copied()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("cannot read the canary registry {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("the canary registry {path} is not valid: {source}")]
    Parse {
        path: String,
        source: serde_json::Error,
    },
    #[error("cannot write the canary registry {path}: {source}")]
    Write {
        path: String,
        source: std::io::Error,
    },
}

/// The canaries of one audit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registry {
    /// The seed every value of [`Registry::from_seed`] came from. Kept here
    /// only: whoever has it can make the canaries again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    pub canaries: Vec<Canary>,
}

/// Every MA-L block of the `vendors` vendors that hold the most, from an
/// OUI table ranked by block count (`vitrine_reverse::OuiTable::entries`:
/// one vendor's blocks together, most blocks first). Drawing uniformly from
/// it picks a vendor with a probability proportional to its block count,
/// the registry's own measure of how many devices a vendor ships. Blocks
/// of the IEEE Registration Authority (parents of MA-M and MA-S
/// assignments, no device vendor) and multicast or locally administered
/// prefixes are left out.
pub fn vendor_pool(ranked: &[([u8; 3], String)], vendors: usize) -> Vec<[u8; 3]> {
    let mut pool = Vec::new();
    let mut seen = 0;
    let mut last: Option<&str> = None;
    for (oui, vendor) in ranked {
        if vendor
            .to_ascii_lowercase()
            .contains("ieee registration authority")
        {
            continue;
        }
        if last != Some(vendor.as_str()) {
            if seen == vendors {
                break;
            }
            seen += 1;
            last = Some(vendor);
        }
        if oui[0] & 0b11 == 0 {
            pool.push(*oui);
        }
    }
    pool
}

/// Shortest canary SSID in bytes: shorter patterns would make the scanner
/// sample more often.
const MIN_SSID_BYTES: usize = 8;
/// Longest SSID 802.11 allows.
const MAX_SSID_BYTES: usize = 32;

/// The SSID word list: templates by weight and the sections they draw from.
struct Words {
    templates: Vec<(u32, &'static str)>,
    sections: Vec<(&'static str, Vec<&'static str>)>,
}

impl Words {
    fn load() -> Words {
        let mut templates = Vec::new();
        let mut sections: Vec<(&'static str, Vec<&'static str>)> = Vec::new();
        for line in include_str!("../data/ssid-words.txt").lines() {
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                sections.push((name, Vec::new()));
                continue;
            }
            let (name, lines) = sections.last_mut().expect("a section before any line");
            if *name == "template" {
                let (weight, template) = line.split_once(' ').expect("weight and template");
                templates.push((weight.parse().expect("a template's weight"), template));
            } else {
                lines.push(line);
            }
        }
        Words {
            templates,
            sections,
        }
    }

    fn section(&self, name: &str) -> &[&'static str] {
        self.sections
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, l)| l.as_slice())
            .unwrap_or_else(|| panic!("no [{name}] in ssid-words.txt"))
    }

    /// One network name: a template drawn by weight, filled in.
    fn ssid(&self, rng: &mut impl Rng) -> String {
        let total: u32 = self.templates.iter().map(|(w, _)| w).sum();
        let mut pick = rng.random_range(0..total);
        let template = self
            .templates
            .iter()
            .find(|(w, _)| {
                let hit = pick < *w;
                pick = pick.saturating_sub(*w);
                hit
            })
            .expect("weights add up")
            .1;
        let mut out = String::new();
        let mut rest = template;
        while let Some(open) = rest.find('{') {
            out.push_str(&rest[..open]);
            let close = open + rest[open..].find('}').expect("a closed placeholder");
            let key = &rest[open + 1..close];
            let digits = |set: &[u8], n: usize, rng: &mut dyn rand::RngCore| -> String {
                (0..n)
                    .map(|_| char::from(set[rng.random_range(0..set.len())]))
                    .collect()
            };
            match key {
                "X4" => out.push_str(&digits(b"0123456789ABCDEF", 4, rng)),
                "x4" => out.push_str(&digits(b"0123456789abcdef", 4, rng)),
                "D4" => out.push_str(&digits(b"0123456789", 4, rng)),
                "AA" => out.push_str(&digits(b"ABCDEFGHIJKLMNOPQRSTUVWXYZ", 2, rng)),
                section => {
                    let lines = self.section(section);
                    out.push_str(lines[rng.random_range(0..lines.len())]);
                }
            }
            rest = &rest[close + 1..];
        }
        out.push_str(rest);
        out
    }
}

impl Registry {
    /// `macs` fresh MAC canaries and `ssids` SSID canaries from a seed
    /// drawn from `rng` ([`Registry::from_seed`]).
    pub fn generate(macs: usize, ssids: usize, ouis: &[[u8; 3]], rng: &mut impl Rng) -> Registry {
        Registry::from_seed(macs, ssids, ouis, rng.random())
    }

    /// `macs` MAC canaries and `ssids` SSID canaries, all from `seed`
    /// (ChaCha20), which the registry records. A MAC is a globally
    /// administered unicast address like a real phone's burned-in one: an
    /// OUI drawn at random from `ouis` (pass [`vendor_pool`] so that common
    /// vendors come up as often as their devices do, and hash reversal over
    /// the OUI space can find it) and three random bytes. An SSID is an
    /// ordinary-looking network name made from the shipped word list
    /// (`data/ssid-words.txt`): nothing about either tells a canary apart
    /// from a shopper's phone.
    pub fn from_seed(macs: usize, ssids: usize, ouis: &[[u8; 3]], seed: u64) -> Registry {
        assert!(
            !ouis.is_empty() || macs == 0,
            "MAC canaries need at least one OUI"
        );
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let mut canaries: Vec<Canary> = Vec::with_capacity(macs + ssids);
        let taken = |c: &CanaryValue, canaries: &[Canary]| canaries.iter().any(|k| k.value == *c);
        for i in 0..macs {
            let value = loop {
                let oui = ouis[rng.random_range(0..ouis.len())];
                let nic: [u8; 3] = rng.random();
                let v = CanaryValue::Mac([oui[0], oui[1], oui[2], nic[0], nic[1], nic[2]]);
                if !taken(&v, &canaries) {
                    break v;
                }
            };
            canaries.push(Canary {
                id: format!("mac-{:02}", i + 1),
                value,
                emitted: Vec::new(),
            });
        }
        let words = Words::load();
        for i in 0..ssids {
            let value = loop {
                let ssid = words.ssid(&mut rng);
                let v = CanaryValue::Ssid(ssid.clone());
                if (MIN_SSID_BYTES..=MAX_SSID_BYTES).contains(&ssid.len()) && !taken(&v, &canaries)
                {
                    break v;
                }
            };
            canaries.push(Canary {
                id: format!("ssid-{:02}", i + 1),
                value,
                emitted: Vec::new(),
            });
        }
        Registry {
            seed: Some(seed),
            canaries,
        }
    }

    pub fn load(path: &Path) -> Result<Registry, RegistryError> {
        let text = std::fs::read_to_string(path).map_err(|source| RegistryError::Read {
            path: path.display().to_string(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| RegistryError::Parse {
            path: path.display().to_string(),
            source,
        })
    }

    pub fn save(&self, path: &Path) -> Result<(), RegistryError> {
        let text = serde_json::to_string_pretty(self).expect("a registry serializes");
        std::fs::write(path, text + "\n").map_err(|source| RegistryError::Write {
            path: path.display().to_string(),
            source,
        })
    }

    /// Notes that every canary sent over the air (MACs, SSIDs) was
    /// emitted at `at`.
    pub fn mark_emitted(&mut self, at: OffsetDateTime) {
        for c in &mut self.canaries {
            if c.visual().is_none() {
                c.emitted.push(at);
            }
        }
    }

    /// Notes that every visual canary was shown to the camera at `at`.
    pub fn mark_shown(&mut self, at: OffsetDateTime) {
        for c in &mut self.canaries {
            if c.visual().is_some() {
                c.emitted.push(at);
            }
        }
    }

    /// Adds a visual canary (`visual-01`, ...). Its patch's seed comes from
    /// the registry's seed (a ChaCha20 stream of its own, so the other
    /// canaries stay what the seed made them), or from the system's
    /// generator for a registry without one.
    pub fn add_visual(&mut self) -> &Canary {
        let n = self
            .canaries
            .iter()
            .filter(|c| c.visual().is_some())
            .count();
        let seed = match self.seed {
            Some(seed) => {
                let mut rng = ChaCha20Rng::seed_from_u64(seed);
                rng.set_stream(1);
                (0..=n)
                    .map(|_| rng.random::<u64>())
                    .last()
                    .expect("one seed")
            }
            None => rand::rng().random(),
        };
        self.canaries.push(Canary {
            id: format!("visual-{:02}", n + 1),
            value: CanaryValue::Visual(VisualCanary { seed }),
            emitted: Vec::new(),
        });
        self.canaries.last().expect("just pushed")
    }

    /// The visual canaries, with their index in the registry.
    pub fn visuals(&self) -> impl Iterator<Item = (usize, &Canary, VisualCanary)> {
        self.canaries
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.visual().map(|v| (i, c, v)))
    }

    pub fn get(&self, id: &str) -> Option<&Canary> {
        self.canaries.iter().find(|c| c.id == id)
    }

    pub fn macs(&self) -> impl Iterator<Item = (&Canary, [u8; 6])> {
        self.canaries.iter().filter_map(|c| c.mac().map(|m| (c, m)))
    }

    pub fn ssids(&self) -> impl Iterator<Item = (&Canary, &str)> {
        self.canaries.iter().filter_map(|c| match &c.value {
            CanaryValue::Ssid(s) => Some((c, s.as_str())),
            _ => None,
        })
    }
}

mod mac_text {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    use crate::encoding::{Case, Spelling, spelled};

    pub fn serialize<S: Serializer>(mac: &[u8; 6], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&spelled(mac, Spelling::Colon, Case::Lower))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 6], D::Error> {
        let text = String::deserialize(d)?;
        crate::parse_mac(&text)
            .ok_or_else(|| D::Error::custom(format!("not a MAC address: {text:?}")))
    }
}

mod rfc3339_list {
    use serde::{Deserialize, Deserializer, Serializer, de::Error, ser::SerializeSeq};
    use time::OffsetDateTime;
    use time::format_description::well_known::Rfc3339;

    pub fn serialize<S: Serializer>(list: &[OffsetDateTime], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(list.len()))?;
        for t in list {
            seq.serialize_element(&t.format(&Rfc3339).map_err(serde::ser::Error::custom)?)?;
        }
        seq.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<OffsetDateTime>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|t| OffsetDateTime::parse(t, &Rfc3339).map_err(D::Error::custom))
            .collect()
    }
}
