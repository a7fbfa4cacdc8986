//! What both binaries (`vitrined`, `vitrine-audit`) do around their work:
//!
//! - logs on stderr; when stderr is the journal's stream (systemd sets
//!   `JOURNAL_STREAM` to its device and inode), every line starts with its
//!   syslog priority, `<3>` to `<7>` (sd-daemon(3)), which journald turns into
//!   the entry's `PRIORITY` (`SyslogLevelPrefix=`, on by default), so
//!   `journalctl -p warning` finds warnings and errors;
//! - [`fatal`]: the one line a failed run ends with;
//! - [`docs_requested`]: the man pages and bash/zsh completions, written
//!   from the clap definitions when `cargo xtask package` asks for them.

use std::fmt::Display;
use std::io::{IsTerminal as _, Write};
use std::os::fd::AsFd as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::Path;
use std::process::ExitCode;

use tracing::Level;
use tracing_subscriber::fmt::MakeWriter;

/// The variable `cargo xtask package` sets to a folder: the binary writes
/// its man pages and completions there and exits, running nothing else.
pub const DOCS_VARIABLE: &str = "VITRINE_GENERATE_DOCS";

/// Whether stderr is the stream systemd connected to the journal: the
/// device and inode in `JOURNAL_STREAM` are stderr's own. (A child of such
/// a process inherits the variable but may have another stderr.)
pub fn stderr_is_journal() -> bool {
    let Some(value) = std::env::var_os("JOURNAL_STREAM") else {
        return false;
    };
    let Ok(meta) = std::io::stderr()
        .as_fd()
        .try_clone_to_owned()
        .map(std::fs::File::from)
        .and_then(|f| f.metadata())
    else {
        return false;
    };
    names_stream(&value.to_string_lossy(), meta.dev(), meta.ino())
}

/// `JOURNAL_STREAM` is `DEVICE:INODE`, both decimal.
fn names_stream(value: &str, dev: u64, ino: u64) -> bool {
    value
        .split_once(':')
        .and_then(|(d, i)| Some((d.parse::<u64>().ok()?, i.parse::<u64>().ok()?)))
        == Some((dev, ino))
}

/// Syslog priority of a tracing level.
fn priority(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        _ => 7,
    }
}

/// `text` with `<priority>` at the start of every line: journald reads each
/// line of the stream as an entry, so a field value that spans lines keeps
/// its priority.
fn prefixed(priority: u8, text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + 4);
    for line in text.split_inclusive(|&b| b == b'\n') {
        out.extend_from_slice(format!("<{priority}>").as_bytes());
        out.extend_from_slice(line);
    }
    out
}

/// Logs from `VITRINE_LOG` (an `EnvFilter`), else `default_filter`, to
/// stderr as text or JSON lines; with priorities when stderr is the
/// journal, and colours only on a terminal.
pub fn init_logging(default_filter: &str, json: bool) {
    let journal = stderr_is_journal();
    let filter = tracing_subscriber::EnvFilter::try_from_env("VITRINE_LOG")
        .unwrap_or_else(|_| default_filter.into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(!journal && std::io::stderr().is_terminal())
        .with_writer(Stderr { journal });
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

/// Reports the error a run ends with: one line on stderr, at priority
/// `err` in the journal. It is not also logged as an event, so it is seen
/// once.
pub fn fatal(line: impl Display) {
    let line = line.to_string().replace('\n', " ");
    let mut text = format!("{line}\n").into_bytes();
    if stderr_is_journal() {
        text = prefixed(3, &text);
    }
    let _ = std::io::stderr().write_all(&text);
}

struct Stderr {
    journal: bool,
}

/// One event's text, written to stderr in one call.
struct Event {
    priority: Option<u8>,
}

impl<'a> MakeWriter<'a> for Stderr {
    type Writer = Event;

    fn make_writer(&'a self) -> Event {
        Event {
            priority: self.journal.then_some(6),
        }
    }

    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> Event {
        Event {
            priority: self.journal.then(|| priority(meta.level())),
        }
    }
}

impl Write for Event {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.write_all(buf)?;
        Ok(buf.len())
    }

    // The formatter hands over a whole event at once.
    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        match self.priority {
            Some(p) => std::io::stderr().write_all(&prefixed(p, buf)),
            None => std::io::stderr().write_all(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// When [`DOCS_VARIABLE`] names a folder: writes the man pages of
/// `command()` (one per subcommand) to `man/` and its bash and zsh
/// completions to `completions/` in it, and returns the exit status.
pub fn docs_requested(command: impl FnOnce() -> clap::Command) -> Option<ExitCode> {
    let dir = std::env::var_os(DOCS_VARIABLE)?;
    let cmd = command();
    let name = cmd.get_name().to_string();
    Some(match write_docs(cmd, Path::new(&dir)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            fatal(format!("{name}: writing man pages and completions: {e}"));
            ExitCode::FAILURE
        }
    })
}

/// Man pages in `dir/man`, completions in `dir/completions` (`NAME.bash`,
/// `_NAME`).
pub fn write_docs(cmd: clap::Command, dir: &Path) -> std::io::Result<()> {
    use clap_complete::Shell;
    let name = cmd.get_name().to_string();
    let man = dir.join("man");
    let completions = dir.join("completions");
    std::fs::create_dir_all(&man)?;
    std::fs::create_dir_all(&completions)?;
    clap_mangen::generate_to(cmd.clone(), &man)?;
    let mut cmd = cmd;
    for shell in [Shell::Bash, Shell::Zsh] {
        clap_complete::generate_to(shell, &mut cmd, &name, &completions)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_stream_is_device_colon_inode() {
        assert!(names_stream("8:1234", 8, 1234));
        assert!(!names_stream("8:1234", 8, 1235));
        assert!(!names_stream("8:1234", 9, 1234));
        assert!(!names_stream("", 0, 0));
        assert!(!names_stream("8", 8, 0));
    }

    #[test]
    fn every_line_carries_the_priority() {
        assert_eq!(prefixed(4, b"one\n"), b"<4>one\n");
        assert_eq!(prefixed(3, b"one\ntwo\n"), b"<3>one\n<3>two\n");
        // A last line without its newline still gets the prefix.
        assert_eq!(prefixed(6, b"a\nb"), b"<6>a\n<6>b");
    }

    #[test]
    fn levels_map_to_syslog_priorities() {
        assert_eq!(priority(&Level::ERROR), 3);
        assert_eq!(priority(&Level::WARN), 4);
        assert_eq!(priority(&Level::INFO), 6);
        assert_eq!(priority(&Level::DEBUG), 7);
        assert_eq!(priority(&Level::TRACE), 7);
    }

    #[test]
    fn docs_are_one_page_per_subcommand_and_two_completions() {
        let cmd = clap::Command::new("tool")
            .version("1.0")
            .about("Does things")
            .subcommand(clap::Command::new("run").about("Runs"))
            .subcommand(clap::Command::new("secret").hide(true));
        let dir = std::env::temp_dir().join(format!("vitrine-runtime-docs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        write_docs(cmd, &dir).unwrap();
        let page = std::fs::read_to_string(dir.join("man/tool.1")).unwrap();
        assert!(page.contains("Does things"), "{page}");
        assert!(dir.join("man/tool-run.1").exists());
        assert!(
            !dir.join("man/tool-secret.1").exists(),
            "hidden commands have no page"
        );
        let bash = std::fs::read_to_string(dir.join("completions/tool.bash")).unwrap();
        assert!(bash.contains("complete") && bash.contains("run"), "{bash}");
        let zsh = std::fs::read_to_string(dir.join("completions/_tool")).unwrap();
        assert!(zsh.starts_with("#compdef tool"), "{zsh}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
