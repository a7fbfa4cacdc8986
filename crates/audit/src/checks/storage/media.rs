//! Telling captured imagery from a distribution's own images. An image is
//! set aside (reported apart, informational) when an installed package owns
//! it unchanged (the scanned root's dpkg database: `*.list` names the files,
//! `*.md5sums` their contents), or when it is icon-sized, without EXIF, in a
//! documentation or icon tree. Anything else is a finding, with its
//! dimensions and whether it carries EXIF (as cameras write) in the detail.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::path::{Path, PathBuf};

use md5::{Digest, Md5};

/// Image and video formats, by their magic bytes (never by file name).
pub fn media_kind(head: &[u8]) -> Option<&'static str> {
    let at = |i: usize, m: &[u8]| head.len() >= i + m.len() && &head[i..i + m.len()] == m;
    if at(0, &[0xff, 0xd8, 0xff]) {
        Some("JPEG image")
    } else if at(0, b"\x89PNG\r\n\x1a\n") {
        Some("PNG image")
    } else if at(0, b"GIF87a") || at(0, b"GIF89a") {
        Some("GIF image")
    } else if at(0, b"RIFF") && at(8, b"WEBP") {
        Some("WebP image")
    } else if at(0, b"RIFF") && at(8, b"AVI ") {
        Some("AVI video")
    } else if at(4, b"ftyp") {
        Some("MP4/QuickTime video")
    } else if at(0, &[0x1a, 0x45, 0xdf, 0xa3]) {
        Some("Matroska/WebM video")
    } else if at(0, b"BM") && head.len() >= 26 && at(14, &[40, 0, 0, 0]) {
        Some("BMP image")
    } else if at(0, b"P5\n") || at(0, b"P6\n") {
        Some("PNM image")
    } else {
        None
    }
}

/// What an image's header says.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImageInfo {
    pub width: u32,
    pub height: u32,
    /// An EXIF block (cameras and phones write one).
    pub exif: bool,
}

/// Icons are at most this many pixels on their longer side.
pub const ICON_SIDE: u32 = 256;

/// Dimensions and EXIF from the first bytes of an image (64 KiB are enough
/// for every format here), `None` when the header cannot be read.
pub fn image_info(head: &[u8]) -> Option<ImageInfo> {
    let be16 = |i: usize| {
        head.get(i..i + 2)
            .map(|b| u32::from(u16::from_be_bytes([b[0], b[1]])))
    };
    let le16 = |i: usize| {
        head.get(i..i + 2)
            .map(|b| u32::from(u16::from_le_bytes([b[0], b[1]])))
    };
    let be32 = |i: usize| {
        head.get(i..i + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    let le32 = |i: usize| {
        head.get(i..i + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let le24 = |i: usize| {
        head.get(i..i + 3)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], 0]))
    };
    let info = |w: u32, h: u32| {
        Some(ImageInfo {
            width: w,
            height: h,
            exif: false,
        })
    };
    if head.starts_with(b"\x89PNG") {
        let exif = find(head, b"eXIf").is_some();
        return Some(ImageInfo {
            exif,
            ..info(be32(16)?, be32(20)?)?
        });
    }
    if head.starts_with(b"GIF8") {
        return info(le16(6)?, le16(8)?);
    }
    if head.starts_with(b"BM") {
        let h = le32(22)? as i32;
        return info(le32(18)?, h.unsigned_abs());
    }
    if head.starts_with(b"RIFF") && head.get(8..12) == Some(b"WEBP") {
        return match head.get(12..16)? {
            b"VP8X" => Some(ImageInfo {
                exif: head.get(20)? & 0x08 != 0,
                ..info(le24(24)? + 1, le24(27)? + 1)?
            }),
            b"VP8 " => info(le16(26)? & 0x3fff, le16(28)? & 0x3fff),
            b"VP8L" => {
                let b = le32(21)?;
                info((b & 0x3fff) + 1, ((b >> 14) & 0x3fff) + 1)
            }
            _ => None,
        };
    }
    if head.starts_with(b"P5\n") || head.starts_with(b"P6\n") {
        let text = std::str::from_utf8(head.get(3..head.len().min(64))?).ok()?;
        let mut nums = text
            .split(|c: char| c.is_ascii_whitespace())
            .filter(|s| !s.is_empty())
            .map(str::parse::<u32>);
        return info(nums.next()?.ok()?, nums.next()?.ok()?);
    }
    if head.starts_with(&[0xff, 0xd8]) {
        // Markers up to the frame header; APP1 "Exif" on the way.
        let mut i = 2;
        let mut exif = false;
        while i + 4 <= head.len() {
            if head[i] != 0xff {
                return None;
            }
            let marker = head[i + 1];
            let len = be16(i + 2)? as usize;
            if marker == 0xe1 && head.get(i + 4..i + 10) == Some(b"Exif\0\0") {
                exif = true;
            }
            if matches!(marker, 0xc0..=0xcf) && !matches!(marker, 0xc4 | 0xc8 | 0xcc) {
                return Some(ImageInfo {
                    width: be16(i + 7)?,
                    height: be16(i + 5)?,
                    exif,
                });
            }
            i += 2 + len;
        }
    }
    None
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Trees where a distribution keeps documentation and icons.
const ASSET_TREES: &[&str] = &[
    "usr/share/doc",
    "usr/share/help",
    "usr/share/gtk-doc",
    "usr/share/icons",
    "usr/share/pixmaps",
];

/// The files installed packages own, per system root found for the
/// searched trees.
#[derive(Debug, Default)]
pub struct Packages {
    /// A hash of the host path to (index in `names`, md5 hex when dpkg
    /// recorded one): a whole distribution's file list (300,000 paths)
    /// kept in a few MB.
    owned: HashMap<u64, (u32, Option<[u8; 16]>)>,
    names: Vec<String>,
    hasher: RandomState,
    /// System roots: the searched tree or its nearest ancestor that holds
    /// `var/lib/dpkg/info`.
    systems: Vec<PathBuf>,
}

impl Packages {
    /// Reads the dpkg database of the system each root belongs to: the
    /// root itself (a mounted image) or its nearest ancestor with one.
    pub fn load(roots: &[PathBuf]) -> Packages {
        let mut p = Packages::default();
        for root in roots {
            let Some(system) = root
                .ancestors()
                .find(|a| a.join("var/lib/dpkg/info").is_dir())
                .map(Path::to_path_buf)
            else {
                continue;
            };
            if p.systems.contains(&system) {
                continue;
            }
            p.read(&system);
            p.systems.push(system);
        }
        p
    }

    fn read(&mut self, system: &Path) {
        let Ok(dir) = std::fs::read_dir(system.join("var/lib/dpkg/info")) else {
            return;
        };
        let mut sums: Vec<PathBuf> = Vec::new();
        for entry in dir.flatten() {
            let path = entry.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if let Some(pkg) = name.strip_suffix(".list") {
                let Ok(text) = read_bounded(&path) else {
                    continue;
                };
                let index = self.names.len() as u32;
                self.names.push(pkg.to_string());
                for line in text.lines().filter(|l| l.starts_with('/')) {
                    let key = self.key(&system.join(&line[1..]));
                    self.owned.insert(key, (index, None));
                }
            } else if name.ends_with(".md5sums") {
                sums.push(path);
            }
        }
        for path in sums {
            let Ok(text) = read_bounded(&path) else {
                continue;
            };
            for line in text.lines() {
                let Some((sum, file)) = line.split_once("  ") else {
                    continue;
                };
                let key = self.key(&system.join(file));
                if let Some(entry) = self.owned.get_mut(&key)
                    && let Some(sum) = unhex(sum)
                {
                    entry.1 = Some(sum);
                }
            }
        }
    }

    /// `Some(why)` when an installed package owns `path` and its content
    /// `data` is what the package shipped (dpkg md5sums): a package's data,
    /// the same on every machine that installs it.
    pub fn owned_unchanged(&self, path: &Path, data: Option<&[u8]>) -> Option<String> {
        let (index, sum) = self.owned.get(&self.key(path))?;
        let (sum, data) = (sum.as_ref()?, data?);
        (Md5::digest(data).as_slice() == sum).then(|| {
            format!(
                "owned by package {}, unchanged (dpkg md5sums)",
                self.names[*index as usize]
            )
        })
    }

    /// Why the image at `path` (content `data`, if read whole) is not
    /// captured imagery, or `None` when it may be.
    pub fn set_aside(
        &self,
        path: &Path,
        data: Option<&[u8]>,
        info: Option<ImageInfo>,
    ) -> Option<String> {
        if let Some((index, sum)) = self.owned.get(&self.key(path)) {
            let pkg = &self.names[*index as usize];
            match (sum, data) {
                (Some(sum), Some(data)) => {
                    if Md5::digest(data).as_slice() == sum {
                        return Some(format!("owned by package {pkg}, unchanged (dpkg md5sums)"));
                    }
                    // A package's image replaced: judged like any other.
                }
                _ => return Some(format!("owned by package {pkg} (dpkg)")),
            }
        }
        let icon = info.is_some_and(|i| !i.exif && i.width.max(i.height) <= ICON_SIDE);
        let in_assets = self
            .systems
            .iter()
            .filter_map(|s| path.strip_prefix(s).ok())
            .chain(std::iter::once(path))
            .any(|rel| {
                let rel = rel.strip_prefix("/").unwrap_or(rel);
                ASSET_TREES.iter().any(|t| rel.starts_with(t))
            });
        (icon && in_assets).then(|| {
            let i = info.unwrap_or_default();
            format!(
                "{}x{} without EXIF in a documentation or icon tree",
                i.width, i.height
            )
        })
    }
}

/// dpkg lists are small; a hostile root's are bounded all the same.
fn read_bounded(path: &Path) -> std::io::Result<String> {
    use std::io::Read;
    let mut text = String::new();
    std::fs::File::open(path)?
        .take(64 << 20)
        .read_to_string(&mut text)?;
    Ok(text)
}

impl Packages {
    fn key(&self, path: &Path) -> u64 {
        self.hasher.hash_one(path)
    }
}

fn unhex(s: &str) -> Option<[u8; 16]> {
    let mut out = [0u8; 16];
    if s.len() != 32 {
        return None;
    }
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_and_jpeg_headers_give_dimensions_and_exif() {
        let mut png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        png.extend_from_slice(&48u32.to_be_bytes());
        png.extend_from_slice(&32u32.to_be_bytes());
        assert_eq!(
            image_info(&png),
            Some(ImageInfo {
                width: 48,
                height: 32,
                exif: false
            })
        );
        let mut jpeg = vec![0xff, 0xd8, 0xff, 0xe1, 0, 8];
        jpeg.extend_from_slice(b"Exif\0\0");
        jpeg.extend_from_slice(&[0xff, 0xc0, 0, 17, 8, 0x01, 0xe0, 0x02, 0x80]);
        assert_eq!(
            image_info(&jpeg),
            Some(ImageInfo {
                width: 640,
                height: 480,
                exif: true
            })
        );
        assert_eq!(image_info(b"\xff\xd8\xff\xe0"), None);
    }
}
