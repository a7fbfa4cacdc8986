//! Looking inside compressed files and archives, within bounds. A file on
//! the audited device is hostile input (the self-audit searches folders
//! anyone can write to): every decompressor's output is bounded per file,
//! its memory is bounded (xz dictionary, zstd window), nesting and archive
//! members are bounded, and a bound that is hit is reported, never a silent
//! truncation.

use std::cell::Cell;
use std::io::{self, Read, Seek};

use vitrine_canary::{Match, Scanner};

/// The bounds, in one place (docs/audit.md lists them).
pub mod bounds {
    /// Decompressed bytes per file: at least this many...
    pub const INFLATE_FLOOR: u64 = 256 << 20;
    /// ...or this many times the file's size, whichever is larger. Logs
    /// compress 5 to 50 times; a bomb compresses thousands of times.
    pub const INFLATE_RATIO: u64 = 1000;
    /// The memory an xz block's dictionary may need (xz -9 needs 65 MiB).
    pub const XZ_MEMORY_KIB: u32 = 96 << 10;
    /// zstd's window, as log2 (zstd's own default limit: 128 MiB).
    pub const ZSTD_WINDOW_LOG: u32 = 27;
    /// Containers inside containers (a gzip'd tar of gzip'd logs is 3).
    pub const DEPTH: usize = 3;
    /// Members opened per archive.
    pub const MEMBERS: u64 = 100_000;
    /// A zip inside a compressed stream is opened in memory up to this size.
    pub const NESTED_ZIP: u64 = 8 << 20;
}

/// Formats looked inside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    Gzip,
    Zstd,
    Xz,
    Bzip2,
    Lz4,
    Tar,
    Zip,
}

impl Container {
    /// By content (magic bytes), never by name.
    pub fn sniff(head: &[u8]) -> Option<Container> {
        let at = |i: usize, m: &[u8]| head.get(i..i + m.len()) == Some(m);
        if at(0, &[0x1f, 0x8b]) {
            Some(Container::Gzip)
        } else if at(0, &[0x28, 0xb5, 0x2f, 0xfd]) {
            Some(Container::Zstd)
        } else if at(0, &[0xfd, b'7', b'z', b'X', b'Z', 0]) {
            Some(Container::Xz)
        } else if at(0, b"BZh")
            && head.get(3).is_some_and(|d| (b'1'..=b'9').contains(d))
            && (at(4, &[0x31, 0x41, 0x59, 0x26, 0x53, 0x59])
                || at(4, &[0x17, 0x72, 0x45, 0x38, 0x50, 0x90]))
        {
            Some(Container::Bzip2)
        } else if at(0, &[0x04, 0x22, 0x4d, 0x18]) {
            Some(Container::Lz4)
        } else if at(257, b"ustar") {
            Some(Container::Tar)
        } else if at(0, b"PK\x03\x04") {
            Some(Container::Zip)
        } else {
            None
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Container::Gzip => "gzip",
            Container::Zstd => "zstd",
            Container::Xz => "xz",
            Container::Bzip2 => "bzip2",
            Container::Lz4 => "lz4",
            Container::Tar => "tar",
            Container::Zip => "zip",
        }
    }

    fn compression(self) -> bool {
        !matches!(self, Container::Tar | Container::Zip)
    }
}

/// Where inside a file a match was.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Inside {
    /// Containers from the outside in, `/`-separated: `gzip`, `gzip/tar`.
    pub chain: String,
    /// The innermost archive member's path, if any.
    pub member: Option<String>,
}

/// What looking inside one file gave.
#[derive(Debug, Default)]
pub struct Opened {
    pub matches: Vec<(Match, Inside)>,
    /// Decompressed bytes read.
    pub inflated: u64,
    /// Bounds hit, in words (bound, where): the file was not read whole.
    pub bounds_hit: Vec<String>,
    /// What could not be opened or decoded to its end, in words.
    pub not_opened: Vec<String>,
}

/// Output budget shared by every decompressor of one file.
struct Budget {
    left: Cell<u64>,
    hit: Cell<bool>,
}

/// A decompressor's output, cut off (and the cut noted) at the budget.
struct Bounded<'b, R> {
    inner: R,
    budget: &'b Budget,
}

impl<R: Read> Read for Bounded<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.budget.left.get();
        if left == 0 {
            // At the bound: is there more? One byte tells.
            let mut probe = [0u8; 1];
            if self.inner.read(&mut probe)? > 0 {
                self.budget.hit.set(true);
            }
            return Ok(0);
        }
        let cap = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..cap])?;
        self.budget.left.set(left - n as u64);
        Ok(n)
    }
}

struct Walker<'s, 'b> {
    scanner: &'s Scanner,
    budget: &'b Budget,
    limit: u64,
    out: Opened,
}

/// Looks inside the file whose first bytes are `head`; `open` reads it from
/// its start. The file's own bytes have been searched already, so archive
/// members stored as they are (tar, stored zip entries) are not searched
/// again: only what had to be decoded is.
pub fn open_file<R: Read + Seek>(
    scanner: &Scanner,
    head: &[u8],
    file_len: u64,
    open: impl FnOnce() -> io::Result<R>,
) -> Opened {
    let Some(container) = Container::sniff(head) else {
        return Opened::default();
    };
    let limit = bounds::INFLATE_FLOOR.max(file_len.saturating_mul(bounds::INFLATE_RATIO));
    let budget = Budget {
        left: Cell::new(limit),
        hit: Cell::new(false),
    };
    let mut w = Walker {
        scanner,
        budget: &budget,
        limit,
        out: Opened::default(),
    };
    match open() {
        Err(e) => w.out.not_opened.push(format!("could not reopen: {e}")),
        Ok(file) => match container {
            Container::Zip => w.zip(file, "", 1, false),
            Container::Tar => w.tar(&mut { file }, "", 1, false),
            c => w.decode(c, Box::new(io::BufReader::new(file)), "", None, 1),
        },
    }
    if w.budget.hit.get() {
        w.out.bounds_hit.push(format!(
            "output bound ({} MiB decompressed from this file): read in part",
            w.limit >> 20
        ));
    }
    w.out.inflated = limit - w.budget.left.get();
    w.out
}

fn join(chain: &str, c: Container) -> String {
    if chain.is_empty() {
        c.name().to_string()
    } else {
        format!("{chain}/{}", c.name())
    }
}

impl Walker<'_, '_> {
    /// Decodes a compressed stream and searches what comes out.
    fn decode(
        &mut self,
        c: Container,
        input: Box<dyn io::BufRead + '_>,
        chain: &str,
        member: Option<&str>,
        depth: usize,
    ) {
        let chain = join(chain, c);
        let reader: Box<dyn Read + '_> = match c {
            Container::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(input)),
            Container::Zstd => match zstd::stream::read::Decoder::with_buffer(input) {
                Ok(mut d) => {
                    if let Err(e) = d.window_log_max(bounds::ZSTD_WINDOW_LOG) {
                        self.out.not_opened.push(format!("{chain}: {e}"));
                        return;
                    }
                    Box::new(d)
                }
                Err(e) => {
                    self.out.not_opened.push(format!("{chain}: {e}"));
                    return;
                }
            },
            Container::Xz => Box::new(lzma_rust2::XzReader::new_mem_limit(
                input,
                true,
                bounds::XZ_MEMORY_KIB,
            )),
            Container::Bzip2 => Box::new(bzip2::bufread::MultiBzDecoder::new(input)),
            Container::Lz4 => Box::new(lz4_flex::frame::FrameDecoder::new(input)),
            Container::Tar | Container::Zip => unreachable!("archives are not streams"),
        };
        let mut bounded = Bounded {
            inner: reader,
            budget: self.budget,
        };
        self.content(&mut bounded, &chain, member, depth, true);
    }

    /// Searches decoded content, looking inside it when it is itself a
    /// container; `search` false when its bytes were searched already.
    fn content(
        &mut self,
        reader: &mut dyn Read,
        chain: &str,
        member: Option<&str>,
        depth: usize,
        search: bool,
    ) {
        let mut head = Vec::with_capacity(512);
        let peeked = reader.take(512).read_to_end(&mut head);
        let inner = match peeked {
            Ok(_) => Container::sniff(&head),
            Err(_) => None,
        };
        let mut rest = io::Cursor::new(head).chain(reader);
        match inner {
            Some(c) if depth >= bounds::DEPTH => {
                self.bound(format!(
                    "nesting bound ({} containers deep): {} inside {chain} not opened",
                    bounds::DEPTH,
                    c.name()
                ));
                if search {
                    self.search(rest, chain, member);
                }
            }
            Some(c) if c.compression() => self.decode(
                c,
                Box::new(io::BufReader::new(rest)),
                chain,
                member,
                depth + 1,
            ),
            Some(Container::Tar) => self.tar(&mut rest, chain, depth + 1, search),
            Some(Container::Zip) => {
                let mut data = Vec::new();
                match rest.take(bounds::NESTED_ZIP + 1).read_to_end(&mut data) {
                    Ok(n) if n as u64 > bounds::NESTED_ZIP => self.bound(format!(
                        "nested zip bound ({} MiB): zip inside {chain} not opened",
                        bounds::NESTED_ZIP >> 20
                    )),
                    Ok(_) => {
                        if search {
                            self.search(data.as_slice(), chain, member);
                        }
                        self.zip(io::Cursor::new(data), chain, depth + 1, true);
                    }
                    Err(e) => self.failed(chain, &e),
                }
            }
            _ if search => self.search(rest, chain, member),
            _ => {}
        }
    }

    fn search(&mut self, reader: impl Read, chain: &str, member: Option<&str>) {
        let inside = Inside {
            chain: chain.to_string(),
            member: member.map(str::to_string),
        };
        let found = &mut self.out.matches;
        let r = self
            .scanner
            .scan_reader(reader, &mut |m| found.push((m, inside.clone())));
        // What came before a damaged or cut stream has been searched.
        if let Err(e) = r {
            self.failed(chain, &e);
        }
    }

    /// Members of a tar archive; `search` false when the tar's own bytes
    /// were searched (the file itself is the tar).
    fn tar(&mut self, reader: &mut dyn Read, chain: &str, depth: usize, search: bool) {
        let chain = join(chain, Container::Tar);
        let mut archive = tar::Archive::new(reader);
        let entries = match archive.entries() {
            Ok(e) => e,
            Err(e) => return self.failed(&chain, &e),
        };
        for (i, entry) in entries.enumerate() {
            if i as u64 >= bounds::MEMBERS {
                return self.bound(format!(
                    "member bound ({} members): the rest of {chain} not opened",
                    bounds::MEMBERS
                ));
            }
            let mut entry = match entry {
                Ok(e) => e,
                Err(e) => return self.failed(&chain, &e),
            };
            let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            if search {
                // Names are data too (a file named after a MAC address).
                let inside = Inside {
                    chain: chain.clone(),
                    member: Some(name.clone()),
                };
                let found = &mut self.out.matches;
                self.scanner.scan(&entry.path_bytes(), &mut |m| {
                    found.push((m, inside.clone()))
                });
            }
            if entry.header().entry_type().is_file() {
                self.content(&mut entry, &chain, Some(&name), depth, search);
            }
        }
    }

    /// Entries of a zip archive. Stored entries were searched with the
    /// zip's own bytes when `search_stored` is false.
    fn zip<R: Read + Seek>(&mut self, reader: R, chain: &str, depth: usize, search_stored: bool) {
        let chain = join(chain, Container::Zip);
        let mut archive = match zip::ZipArchive::new(reader) {
            Ok(a) => a,
            Err(e) => return self.failed(&chain, &io::Error::other(e)),
        };
        for i in 0..archive.len() {
            if i as u64 >= bounds::MEMBERS {
                return self.bound(format!(
                    "member bound ({} members): the rest of {chain} not opened",
                    bounds::MEMBERS
                ));
            }
            let entry = match archive.by_index(i) {
                Ok(e) => e,
                Err(e) => {
                    // Encrypted or an unsupported method: this member is unread.
                    self.out.not_opened.push(format!("{chain} member {i}: {e}"));
                    continue;
                }
            };
            if entry.is_dir() {
                continue;
            }
            let name = entry
                .name()
                .map_or_else(|_| format!("member {i}"), |n| n.into_owned());
            let stored = entry.compression() == zip::CompressionMethod::Stored;
            let mut bounded = Bounded {
                inner: entry,
                budget: self.budget,
            };
            self.content(
                &mut bounded,
                &chain,
                Some(&name),
                depth,
                search_stored || !stored,
            );
        }
    }

    fn failed(&mut self, chain: &str, e: &io::Error) {
        let text = e.to_string();
        // The decoders' own memory bounds come back as errors.
        if text.contains("mem_limit") || text.contains("too much memory") {
            let bound = if chain.ends_with("xz") {
                format!("xz memory bound ({} MiB)", bounds::XZ_MEMORY_KIB >> 10)
            } else {
                format!(
                    "zstd window bound ({} MiB)",
                    1u64 << (bounds::ZSTD_WINDOW_LOG - 20)
                )
            };
            self.bound(format!("{bound}: {chain} not decoded ({text})"));
        } else {
            self.out.not_opened.push(format!("{chain}: {text}"));
        }
    }

    fn bound(&mut self, what: String) {
        self.out.bounds_hit.push(what);
    }
}
