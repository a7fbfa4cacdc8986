//! Epoch keys and the keyed pseudonymizer.

use rand::{TryRngCore, rngs::OsRng};
use zeroize::Zeroize;

use crate::{Fingerprint, Pseudonym, RawMac};

/// A random 256-bit key for one epoch.
///
/// Lives only in memory: in a page of its own, locked into RAM when the
/// system allows it (so it is never swapped out), drawn straight from the
/// operating system's generator (no user-space generator keeps a copy),
/// overwritten in place on rotation, zeroized when dropped, and never
/// serialized or printed. A new process starts with a new key, so pseudonyms
/// are unlinkable across restarts too.
pub struct EpochKey {
    page: Box<KeyPage>,
    locked: Option<region::LockGuard>,
}

/// One page, so that locking and unlocking it affects nothing else.
#[repr(C, align(4096))]
struct KeyPage {
    key: [u8; 32],
    rest: [u8; 4096 - 32],
}

impl EpochKey {
    /// A fresh key from the operating system's CSPRNG.
    pub fn generate() -> Self {
        let mut page = Box::new(KeyPage {
            key: [0; 32],
            rest: [0; 4096 - 32],
        });
        // mlock can fail without CAP_IPC_LOCK over RLIMIT_MEMLOCK; the key is
        // still zeroized, and the audit reports whether swap is off.
        let locked = region::lock(page.key.as_ptr(), page.key.len()).ok();
        fill_from_os(&mut page.key);
        let _ = &page.rest;
        EpochKey { page, locked }
    }

    /// Replaces the key in place (the old bytes are overwritten, never copied).
    pub fn regenerate(&mut self) {
        self.page.key.zeroize();
        fill_from_os(&mut self.page.key);
    }

    /// Whether the key's memory is locked against swapping.
    pub fn is_locked(&self) -> bool {
        self.locked.is_some()
    }

    fn bytes(&self) -> &[u8; 32] {
        &self.page.key
    }
}

fn fill_from_os(key: &mut [u8; 32]) {
    OsRng
        .try_fill_bytes(key)
        .expect("the operating system's random generator is available");
}

impl Drop for EpochKey {
    fn drop(&mut self) {
        self.page.key.zeroize();
    }
}

impl std::fmt::Debug for EpochKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EpochKey")
            .field("bytes", &"<redacted>")
            .field("locked", &self.is_locked())
            .finish()
    }
}

/// When keys rotate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RotationPolicy {
    /// Length of one key epoch in seconds (default 24 h).
    pub period_s: u64,
}

impl Default for RotationPolicy {
    fn default() -> Self {
        RotationPolicy {
            period_s: 24 * 3600,
        }
    }
}

/// Turns raw identifiers into per-epoch pseudonyms and rotates the key.
#[derive(Debug)]
pub struct Pseudonymizer {
    key: EpochKey,
    policy: RotationPolicy,
    epoch: u64,
    epoch_start_us: Option<i64>,
}

const DOMAIN_MAC: u8 = 1;
const DOMAIN_FINGERPRINT: u8 = 2;

impl Pseudonymizer {
    pub fn new(policy: RotationPolicy) -> Self {
        Pseudonymizer {
            key: EpochKey::generate(),
            policy,
            epoch: 0,
            epoch_start_us: None,
        }
    }

    /// Consumes the raw MAC: after this call nothing holds it.
    #[inline]
    pub fn pseudonym(&self, mac: RawMac) -> Pseudonym {
        let mut input = [0u8; 7];
        input[0] = DOMAIN_MAC;
        input[1..].copy_from_slice(mac.bytes());
        let hash = blake3::keyed_hash(self.key.bytes(), &input);
        input.zeroize();
        Pseudonym(first_u64(hash.as_bytes()))
    }

    /// A keyed digest of the given byte strings (a device's information
    /// elements, already stripped of anything that names a network).
    pub fn fingerprint<'a>(&self, parts: impl IntoIterator<Item = &'a [u8]>) -> Fingerprint {
        let mut hasher = blake3::Hasher::new_keyed(self.key.bytes());
        hasher.update(&[DOMAIN_FINGERPRINT]);
        for part in parts {
            hasher.update(&(part.len() as u32).to_le_bytes());
            hasher.update(part);
        }
        Fingerprint(first_u64(hasher.finalize().as_bytes()))
    }

    /// The number of key rotations so far (0 for the first epoch).
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// Advances the clock; rotates the key (zeroizing the old one) when the
    /// epoch has run its period. Returns true when a rotation happened, in
    /// which case every pseudonym handed out before is now meaningless.
    pub fn advance(&mut self, now_us: i64) -> bool {
        let period_us = (self.policy.period_s as i64).saturating_mul(1_000_000);
        match self.epoch_start_us {
            None => {
                self.epoch_start_us = Some(now_us);
                false
            }
            Some(start) if now_us.saturating_sub(start) >= period_us => {
                self.rotate();
                let elapsed = now_us - start;
                self.epoch_start_us = Some(start + elapsed - elapsed % period_us.max(1));
                true
            }
            Some(_) => false,
        }
    }

    /// Replaces the key now, in place: the old key is overwritten.
    pub fn rotate(&mut self) {
        self.key.regenerate();
        self.epoch += 1;
    }

    pub fn key_is_locked(&self) -> bool {
        self.key.is_locked()
    }
}

fn first_u64(bytes: &[u8; 32]) -> u64 {
    u64::from_le_bytes(bytes[..8].try_into().expect("32 >= 8"))
}

/// A random 64-bit id in hex, e.g. a boot id: unique per daemon run, not
/// derived from anything on the device.
pub fn random_id() -> String {
    let mut b = [0u8; 8];
    OsRng
        .try_fill_bytes(&mut b)
        .expect("the operating system's random generator is available");
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Makes the process refuse core dumps and ptrace attachment by other
/// unprivileged processes, so keys and raw frames cannot leave through a
/// crash dump.
pub fn harden_process() -> nix::Result<()> {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    // Under systemd (LimitCORE=0) the limit is already zero and setrlimit is
    // filtered out of the allowed system calls.
    if getrlimit(Resource::RLIMIT_CORE)? != (0, 0) {
        setrlimit(Resource::RLIMIT_CORE, 0, 0)?;
    }
    nix::sys::prctl::set_dumpable(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mac(last: u8) -> RawMac {
        RawMac::from_bytes([0x02, 0xca, 0xfe, 0, 0, last])
    }

    #[test]
    fn same_mac_same_epoch_gives_the_same_pseudonym() {
        let p = Pseudonymizer::new(RotationPolicy::default());
        assert_eq!(p.pseudonym(mac(1)), p.pseudonym(mac(1)));
        assert_ne!(p.pseudonym(mac(1)), p.pseudonym(mac(2)));
    }

    #[test]
    fn rotation_makes_the_same_mac_unlinkable() {
        let mut p = Pseudonymizer::new(RotationPolicy { period_s: 60 });
        assert!(!p.advance(0));
        let before = p.pseudonym(mac(1));
        assert!(!p.advance(59_999_999));
        assert_eq!(p.pseudonym(mac(1)), before);
        assert!(p.advance(60_000_000));
        assert_eq!(p.epoch(), 1);
        assert_ne!(p.pseudonym(mac(1)), before);
    }

    #[test]
    fn two_processes_never_share_a_key() {
        let a = Pseudonymizer::new(RotationPolicy::default());
        let b = Pseudonymizer::new(RotationPolicy::default());
        assert_ne!(a.pseudonym(mac(1)), b.pseudonym(mac(1)));
    }

    #[test]
    fn fingerprints_depend_on_element_boundaries_and_key() {
        let p = Pseudonymizer::new(RotationPolicy::default());
        let a = p.fingerprint([&b"ab"[..], b"c"]);
        assert_eq!(a, p.fingerprint([&b"ab"[..], b"c"]));
        assert_ne!(a, p.fingerprint([&b"a"[..], b"bc"]));
        let q = Pseudonymizer::new(RotationPolicy::default());
        assert_ne!(a, q.fingerprint([&b"ab"[..], b"c"]));
    }

    #[test]
    fn rotation_overwrites_the_key_in_its_locked_page() {
        let mut k = EpochKey::generate();
        let before = *k.bytes();
        let page = k.bytes().as_ptr();
        k.regenerate();
        assert_ne!(*k.bytes(), before);
        assert_eq!(
            k.bytes().as_ptr(),
            page,
            "the key stays where it was locked"
        );
        assert_eq!(page as usize % 4096, 0);
    }

    #[test]
    fn epoch_key_debug_is_redacted() {
        let k = EpochKey::generate();
        let hex: String = k.bytes().iter().map(|b| format!("{b:02x}")).collect();
        let dbg = format!("{k:?}");
        assert!(!dbg.contains(&hex[..8]));
    }
}
