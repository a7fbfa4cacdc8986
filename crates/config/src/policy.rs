//! The retention and anonymization policy a device is audited against: the
//! rig's own, or one written down from a vendor's claims. Same file rules as
//! the rig's configuration: TOML, unknown keys refused, errors located.
//!
//! ```toml
//! [retention]
//! raw_frames_s = 0          # raw frames are never persisted
//! device_state_s = 86400    # per-device state in memory (one key epoch)
//! key_epoch_s = 86400       # how long one pseudonym key lives
//! summaries_days = 7        # published summaries kept on the device
//!
//! [anonymity]
//! k = 5
//! pseudonyms_leave_device = false
//! ssids_leave_device = false
//!
//! [images]
//! persisted = false
//! ```

use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use crate::{ConfigError, Unlocated, bad, defaults, rules};

const DAY_S: u64 = 86_400;

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    #[serde(default)]
    retention: RetentionFile,
    #[serde(default)]
    anonymity: AnonymityFile,
    #[serde(default)]
    images: ImagesFile,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RetentionFile {
    raw_frames_s: Option<Spanned<u64>>,
    device_state_s: Option<Spanned<u64>>,
    key_epoch_s: Option<Spanned<u64>>,
    summaries_days: Option<Spanned<u64>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct AnonymityFile {
    k: Option<Spanned<u32>>,
    pseudonyms_leave_device: Option<bool>,
    ssids_leave_device: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ImagesFile {
    persisted: Option<bool>,
}

/// What a device promises, with the defaults of an honest rig.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Longest a raw frame may exist on disk: 0 means never persisted.
    pub raw_frames_s: u64,
    /// Longest per-device state (pseudonyms, fingerprints) may live in memory.
    pub device_state_s: u64,
    /// Longest one pseudonym key may be used.
    pub key_epoch_s: u64,
    /// Longest a summary may stay on the device.
    pub summaries_s: u64,
    pub k: u32,
    pub pseudonyms_leave_device: bool,
    pub ssids_leave_device: bool,
    pub images_persisted: bool,
}

impl Default for Policy {
    /// What a rig with the configuration's defaults keeps: per-device
    /// state for one key epoch, summaries as long as its spool does.
    fn default() -> Self {
        let epoch_s = defaults::EPOCH_HOURS * 3600;
        Policy {
            raw_frames_s: 0,
            device_state_s: epoch_s,
            key_epoch_s: epoch_s,
            summaries_s: defaults::RETENTION_DAYS * DAY_S,
            k: defaults::K,
            pseudonyms_leave_device: false,
            ssids_leave_device: false,
            images_persisted: false,
        }
    }
}

impl Policy {
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        crate::read_located(path, "policy", Self::parse)
    }

    pub fn parse(text: &str) -> Result<Self, Unlocated> {
        let f: PolicyFile = toml::from_str(text).map_err(|e| crate::toml_error_in(text, e))?;
        let d = Policy::default();
        let r = &f.retention;
        if let Some(v) = &r.key_epoch_s
            && *v.get_ref() == 0
        {
            return Err(bad("retention.key_epoch_s", v, "must be positive"));
        }
        if let (Some(state), Some(epoch)) = (&r.device_state_s, &r.key_epoch_s)
            && state.get_ref() > epoch.get_ref()
        {
            return Err(bad(
                "retention.device_state_s",
                state,
                "per-device state cannot outlive the key epoch it is keyed by",
            ));
        }
        // The rig's own rule for k.
        if let Some(v) = &f.anonymity.k {
            rules::k(v.get_ref()).map_err(|m| bad("anonymity.k", v, &m))?;
        }
        let summaries_s = match &r.summaries_days {
            None => d.summaries_s,
            Some(v) => v
                .get_ref()
                .checked_mul(DAY_S)
                .ok_or_else(|| bad("retention.summaries_days", v, "too many days to count"))?,
        };
        let get =
            |v: &Option<Spanned<u64>>, default: u64| v.as_ref().map_or(default, |v| *v.get_ref());
        Ok(Policy {
            raw_frames_s: get(&r.raw_frames_s, d.raw_frames_s),
            device_state_s: get(&r.device_state_s, d.device_state_s),
            key_epoch_s: get(&r.key_epoch_s, d.key_epoch_s),
            summaries_s,
            k: f.anonymity.k.as_ref().map_or(d.k, |v| *v.get_ref()),
            pseudonyms_leave_device: f.anonymity.pseudonyms_leave_device.unwrap_or(false),
            ssids_leave_device: f.anonymity.ssids_leave_device.unwrap_or(false),
            images_persisted: f.images.persisted.unwrap_or(false),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_policy_is_the_honest_default() {
        let p = Policy::parse("").unwrap();
        assert_eq!(p, Policy::default());
        assert_eq!(p.raw_frames_s, 0);
        assert!(!p.pseudonyms_leave_device && !p.ssids_leave_device && !p.images_persisted);
    }

    #[test]
    fn the_honest_default_is_what_a_rig_with_the_default_configuration_keeps() {
        let rig = crate::Settings::load(None, &crate::Overrides::default()).unwrap();
        let p = Policy::default();
        assert_eq!(p.k, rig.k);
        assert_eq!(p.key_epoch_s, rig.epoch_hours * 3600);
        assert_eq!(p.device_state_s, p.key_epoch_s);
        assert_eq!(p.summaries_s, rig.spool.retention_days * 86_400);
    }

    #[test]
    fn a_vendor_claim_is_read() {
        let p = Policy::parse(
            "[retention]\nsummaries_days = 30\nkey_epoch_s = 3600\ndevice_state_s = 600\n\n[anonymity]\nk = 10\npseudonyms_leave_device = true\n",
        )
        .unwrap();
        assert_eq!(
            (p.summaries_s, p.key_epoch_s, p.device_state_s, p.k),
            (30 * 86_400, 3600, 600, 10)
        );
        assert!(p.pseudonyms_leave_device && !p.ssids_leave_device);
    }

    #[test]
    fn bad_policies_name_their_key() {
        let e = Policy::parse("[anonymity]\nk = 1\n").unwrap_err();
        assert_eq!(e.key, "anonymity.k");
        // In the words of the rig's own key, windows.k.
        assert_eq!(
            e.message,
            crate::rules::k(&1).unwrap_err(),
            "one rule for k, in the policy and the configuration"
        );
        // A claim too long to count in seconds is refused, not wrapped.
        let e = Policy::parse("[retention]\nsummaries_days = 18446744073709551615\n").unwrap_err();
        assert_eq!(e.key, "retention.summaries_days");
        let e =
            Policy::parse("[retention]\ndevice_state_s = 7200\nkey_epoch_s = 3600\n").unwrap_err();
        assert_eq!(e.key, "retention.device_state_s");
        let e = Policy::parse("[retention]\nraw_frame_s = 0\n").unwrap_err();
        assert!(e.message.contains("unknown field"), "{}", e.message);
    }
}
