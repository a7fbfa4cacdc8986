//! Channel plans: which channels a rig listens on, and for how long.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// One stop of a channel plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hop {
    pub channel: u8,
    pub dwell: Duration,
}

impl Hop {
    /// Centre frequency in MHz (channels 1-14 in 2.4 GHz, 32-177 in 5 GHz).
    pub fn frequency_mhz(&self) -> u32 {
        frequency_mhz(self.channel)
    }
}

/// Channel number to centre frequency (MHz), as in IEEE 802.11 Annex E.
pub fn frequency_mhz(channel: u8) -> u32 {
    match channel {
        14 => 2484,
        1..=13 => 2407 + 5 * u32::from(channel),
        _ => 5000 + 5 * u32::from(channel),
    }
}

/// The channels a rig listens on, in order, each for its dwell time. A plan
/// with one channel is fixed: it is tuned once and never hops.
///
/// Written `1,6,11` (each for the default dwell), `1:200,6:400,11:200`
/// (dwell in milliseconds per channel) or `6` (fixed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelPlan {
    hops: Vec<Hop>,
}

/// Dwell time of a channel written without one.
pub const DEFAULT_DWELL: Duration = Duration::from_millis(250);

impl ChannelPlan {
    pub fn new(hops: Vec<Hop>) -> Result<Self, String> {
        if hops.is_empty() {
            return Err("a channel plan needs at least one channel".into());
        }
        for h in &hops {
            if !valid_channel(h.channel) {
                return Err(format!(
                    "channel {} is not a 2.4 or 5 GHz Wi-Fi channel",
                    h.channel
                ));
            }
            if h.dwell < Duration::from_millis(50) || h.dwell > Duration::from_secs(60) {
                return Err(format!(
                    "dwell of {} ms on channel {} is outside 50..60000 ms",
                    h.dwell.as_millis(),
                    h.channel
                ));
            }
        }
        Ok(ChannelPlan { hops })
    }

    pub fn fixed(channel: u8) -> Result<Self, String> {
        Self::new(vec![Hop {
            channel,
            dwell: DEFAULT_DWELL,
        }])
    }

    pub fn hops(&self) -> &[Hop] {
        &self.hops
    }

    pub fn is_fixed(&self) -> bool {
        self.hops.len() == 1
    }
}

/// 2.4 GHz channels 1-14; 5 GHz 20 MHz channels 32-144 (every fourth) and
/// 149-177.
fn valid_channel(ch: u8) -> bool {
    match ch {
        1..=14 => true,
        32..=144 => ch.is_multiple_of(4),
        149..=177 => (ch - 149).is_multiple_of(4),
        _ => false,
    }
}

impl FromStr for ChannelPlan {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let mut hops = Vec::new();
        for part in s.split(',').map(str::trim) {
            let (ch, dwell) = match part.split_once(':') {
                Some((ch, ms)) => {
                    let ms: u64 = ms
                        .trim()
                        .parse()
                        .map_err(|_| format!("{part:?}: dwell must be milliseconds, e.g. 6:250"))?;
                    (ch, Duration::from_millis(ms))
                }
                None => (part, DEFAULT_DWELL),
            };
            let channel: u8 = ch
                .trim()
                .parse()
                .map_err(|_| format!("{part:?}: not a channel number"))?;
            hops.push(Hop { channel, dwell });
        }
        ChannelPlan::new(hops)
    }
}

impl fmt::Display for ChannelPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, h) in self.hops.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{}:{}", h.channel, h.dwell.as_millis())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frequencies_follow_the_standard() {
        assert_eq!(frequency_mhz(1), 2412);
        assert_eq!(frequency_mhz(6), 2437);
        assert_eq!(frequency_mhz(11), 2462);
        assert_eq!(frequency_mhz(14), 2484);
        assert_eq!(frequency_mhz(36), 5180);
        assert_eq!(frequency_mhz(149), 5745);
    }

    #[test]
    fn plans_parse_with_and_without_dwell() {
        let p: ChannelPlan = "1,6,11".parse().unwrap();
        assert_eq!(p.hops().len(), 3);
        assert!(p.hops().iter().all(|h| h.dwell == DEFAULT_DWELL));
        let p: ChannelPlan = "1:200, 6:400 ,11:200".parse().unwrap();
        assert_eq!(
            p.hops()[1],
            Hop {
                channel: 6,
                dwell: Duration::from_millis(400)
            }
        );
        assert_eq!(p.to_string(), "1:200,6:400,11:200");
        assert!("6".parse::<ChannelPlan>().unwrap().is_fixed());
    }

    #[test]
    fn bad_plans_say_what_is_wrong() {
        assert!(
            "".parse::<ChannelPlan>()
                .unwrap_err()
                .contains("not a channel")
        );
        assert!(
            "15".parse::<ChannelPlan>()
                .unwrap_err()
                .contains("channel 15")
        );
        assert!(
            "37".parse::<ChannelPlan>()
                .unwrap_err()
                .contains("channel 37")
        );
        assert!(
            "6:10"
                .parse::<ChannelPlan>()
                .unwrap_err()
                .contains("outside")
        );
        assert!(
            "6:x"
                .parse::<ChannelPlan>()
                .unwrap_err()
                .contains("milliseconds")
        );
    }
}
