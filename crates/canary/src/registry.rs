//! The canaries of one audit: identifiers nobody else uses, sent over the
//! air, then looked for everywhere. The registry is the auditor's: it holds
//! the canaries in clear and stays off the device under audit (or only in
//! the auditing process's memory). Reports name canaries by id only.

use std::path::Path;

use rand::Rng;
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::encoding::{Form, mac_forms, ssid_forms};

/// What a canary is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "lowercase")]
pub enum CanaryValue {
    /// A transmitter address, as `aa:bb:cc:dd:ee:ff`.
    #[serde(with = "mac_text")]
    Mac([u8; 6]),
    /// A network name a canary device probes for.
    Ssid(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Canary {
    /// Stable, meaningless name: `mac-07`, `ssid-02`. Reports use this.
    pub id: String,
    #[serde(flatten)]
    pub value: CanaryValue,
    /// When it was sent over the air (or planted), oldest first.
    #[serde(default, with = "rfc3339_list")]
    pub emitted: Vec<OffsetDateTime>,
}

impl Canary {
    /// Every form this canary is searched for in.
    pub fn forms(&self) -> Vec<Form> {
        match &self.value {
            CanaryValue::Mac(mac) => mac_forms(mac),
            CanaryValue::Ssid(s) => ssid_forms(s.as_bytes()),
        }
    }

    pub fn mac(&self) -> Option<[u8; 6]> {
        match self.value {
            CanaryValue::Mac(m) => Some(m),
            CanaryValue::Ssid(_) => None,
        }
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
    pub canaries: Vec<Canary>,
}

impl Registry {
    /// `macs` fresh MAC canaries and `ssids` SSID canaries. MACs are
    /// globally administered unicast addresses under `ouis` (taken in turn),
    /// like a real phone's burned-in address, so that hash reversal over the
    /// OUI space can find them; SSIDs are random and unmistakable.
    pub fn generate(macs: usize, ssids: usize, ouis: &[[u8; 3]], rng: &mut impl Rng) -> Registry {
        assert!(
            !ouis.is_empty() || macs == 0,
            "MAC canaries need at least one OUI"
        );
        let mut canaries = Vec::with_capacity(macs + ssids);
        for i in 0..macs {
            let oui = ouis[i % ouis.len()];
            let nic: [u8; 3] = rng.random();
            canaries.push(Canary {
                id: format!("mac-{:02}", i + 1),
                value: CanaryValue::Mac([oui[0], oui[1], oui[2], nic[0], nic[1], nic[2]]),
                emitted: Vec::new(),
            });
        }
        for i in 0..ssids {
            let tag: u64 = rng.random();
            canaries.push(Canary {
                id: format!("ssid-{:02}", i + 1),
                value: CanaryValue::Ssid(format!("canary-{tag:016x}")),
                emitted: Vec::new(),
            });
        }
        Registry { canaries }
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

    /// Notes that every canary was emitted at `at`.
    pub fn mark_emitted(&mut self, at: OffsetDateTime) {
        for c in &mut self.canaries {
            c.emitted.push(at);
        }
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
            CanaryValue::Mac(_) => None,
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
