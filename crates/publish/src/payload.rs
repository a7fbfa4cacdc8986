//! Payload encoding: an [`Envelope`] as JSON, compressed with zstd and the
//! dictionary that ships with the daemon (the default), or plain
//! (`broker.payload = "json"`).
//!
//! A payload is one plain zstd frame, so the standard tool decodes it:
//! `zstd -d -D summary-v1.zdict`. The frame header carries the dictionary's
//! id; the dictionary itself is published retained on the `dict` topic.
//! The dictionary was trained on simulated summaries only
//! (`cargo xtask train-dict`): it holds field names and typical numbers,
//! nothing from a real capture.

pub use vitrine_schema::Envelope;

/// The dictionary shipped with this version.
pub const SHIPPED_DICT: &[u8] = include_bytes!("../dict/summary-v1.zdict");

const LEVEL: i32 = 19;

#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    #[error("not a zstd payload or the wrong dictionary: {0}")]
    Decompress(std::io::Error),
    #[error("payload is not a summary envelope: {0}")]
    Json(serde_json::Error),
    #[error("payload needs dictionary {needed}, this decoder has {have}")]
    WrongDictionary { needed: u32, have: u32 },
}

/// Compresses and decompresses payloads with one dictionary (or none).
pub struct Codec {
    dict: Vec<u8>,
    dict_id: u32,
}

impl std::fmt::Debug for Codec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Codec")
            .field("dict_id", &self.dict_id)
            .field("dict_len", &self.dict.len())
            .finish()
    }
}

impl Codec {
    /// The shipped dictionary.
    pub fn shipped() -> Self {
        Codec::with_dictionary(SHIPPED_DICT.to_vec())
    }

    /// A dictionary as trained by `zstd --train` or [`train`].
    pub fn with_dictionary(dict: Vec<u8>) -> Self {
        let dict_id = dictionary_id(&dict).unwrap_or(0);
        Codec { dict, dict_id }
    }

    /// No dictionary (for comparison).
    pub fn plain() -> Self {
        Codec {
            dict: Vec::new(),
            dict_id: 0,
        }
    }

    /// The dictionary's id, as written in every frame header (0: none).
    pub fn dict_id(&self) -> u32 {
        self.dict_id
    }

    pub fn dictionary(&self) -> &[u8] {
        &self.dict
    }

    /// The envelope in `format`: compressed, or plain JSON.
    pub fn encode_as(&self, format: vitrine_config::PayloadFormat, envelope: &Envelope) -> Vec<u8> {
        match format {
            vitrine_config::PayloadFormat::Zstd => self.encode(envelope),
            vitrine_config::PayloadFormat::Json => {
                serde_json::to_vec(envelope).expect("envelopes always serialize")
            }
        }
    }

    pub fn encode(&self, envelope: &Envelope) -> Vec<u8> {
        let json = serde_json::to_vec(envelope).expect("envelopes always serialize");
        self.compress(&json)
    }

    pub fn compress(&self, data: &[u8]) -> Vec<u8> {
        let mut c = zstd::bulk::Compressor::with_dictionary(LEVEL, &self.dict)
            .expect("zstd accepts its own dictionaries");
        c.compress(data)
            .expect("compressing into a growing buffer cannot fail")
    }

    pub fn decode(&self, payload: &[u8]) -> Result<Envelope, PayloadError> {
        let needed = frame_dictionary_id(payload).unwrap_or(0);
        if needed != 0 && needed != self.dict_id {
            return Err(PayloadError::WrongDictionary {
                needed,
                have: self.dict_id,
            });
        }
        let mut d = zstd::bulk::Decompressor::with_dictionary(&self.dict)
            .map_err(PayloadError::Decompress)?;
        // Summaries are small; 16 MiB bounds a hostile payload.
        let json = d
            .decompress(payload, 16 << 20)
            .map_err(PayloadError::Decompress)?;
        serde_json::from_slice(&json).map_err(PayloadError::Json)
    }
}

/// Trains a dictionary of `size` bytes on sample payloads (JSON envelopes).
pub fn train(samples: &[Vec<u8>], size: usize) -> std::io::Result<Vec<u8>> {
    zstd::dict::from_samples(samples, size)
}

/// The id in a zstd dictionary's header (magic 0xEC30A437, then the id).
pub fn dictionary_id(dict: &[u8]) -> Option<u32> {
    if dict.get(..4)? != [0x37, 0xa4, 0x30, 0xec] {
        return None;
    }
    Some(u32::from_le_bytes(dict.get(4..8)?.try_into().ok()?))
}

/// The dictionary id in a zstd frame header, if the frame names one.
pub fn frame_dictionary_id(frame: &[u8]) -> Option<u32> {
    if frame.get(..4)? != [0x28, 0xb5, 0x2f, 0xfd] {
        return None;
    }
    let descriptor = *frame.get(4)?;
    let single_segment = descriptor & 0x20 != 0;
    let id_len = [0, 1, 2, 4][usize::from(descriptor & 0x03)];
    let start = 5 + usize::from(!single_segment);
    let id = frame.get(start..start + id_len)?;
    let mut v = [0u8; 4];
    v[..id_len].copy_from_slice(id);
    Some(u32::from_le_bytes(v)).filter(|&id| id != 0)
}
