//! A private PostgreSQL server (Debian's `postgresql` package) in a folder
//! of its own, on a free loopback port with trust authentication, stopped
//! and removed when dropped: the fleet collector's database in tests and
//! benchmarks. PostgreSQL refuses to run as root, so under root the folder
//! belongs to the `postgres` user and its programs run through `runuser`.

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

/// A running server.
#[derive(Debug)]
pub struct Postgres {
    base: PathBuf,
    bin: PathBuf,
    as_postgres: bool,
    pub port: u16,
}

/// How the server is started.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// `fsync = on` as in production; off makes tests faster.
    pub durable: bool,
    pub max_connections: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            durable: false,
            max_connections: 40,
        }
    }
}

/// The newest installed server's programs (`/usr/lib/postgresql/<ver>/bin`).
pub fn bin_dir() -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| {
            let e = e.ok()?;
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("pg_ctl").exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin)
}

fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|l| l.split_whitespace().next().map(|u| u == "0"))
        })
        .unwrap_or(false)
}

fn other(message: String) -> io::Error {
    io::Error::other(message)
}

impl Postgres {
    /// Creates a cluster and starts it; waits until it accepts connections.
    pub fn start(settings: Settings) -> io::Result<Postgres> {
        static N: AtomicU32 = AtomicU32::new(0);
        let bin = bin_dir().ok_or_else(|| {
            other(
                "no PostgreSQL server under /usr/lib/postgresql: apt-get install --no-install-recommends postgresql"
                    .into(),
            )
        })?;
        let base = std::env::temp_dir().join(format!(
            "vitrine-pg-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(&base)?;
        let as_postgres = running_as_root();
        let pg = Postgres {
            base,
            bin,
            as_postgres,
            port: crate::free_port(),
        };
        if as_postgres {
            pg.checked(
                Command::new("chown")
                    .args(["postgres:postgres"])
                    .arg(&pg.base),
            )?;
        }
        let data = pg.base.join("data");
        let mut initdb = pg.command("initdb");
        initdb.arg("-D").arg(&data).args([
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-sync",
        ]);
        pg.checked(&mut initdb)?;
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {} -c fsync={} -c synchronous_commit={} \
             -c max_connections={}",
            pg.port,
            pg.base.display(),
            if settings.durable { "on" } else { "off" },
            if settings.durable { "on" } else { "off" },
            settings.max_connections,
        );
        let mut start = pg.command("pg_ctl");
        start
            .arg("-D")
            .arg(&data)
            .arg("-l")
            .arg(pg.base.join("server.log"))
            .args(["-o", &options, "-w", "-t", "60", "start"]);
        pg.checked(&mut start)?;
        Ok(pg)
    }

    /// A program of the server's, run as the user that owns the cluster.
    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(path);
            c
        } else {
            Command::new(path)
        }
    }

    fn checked(&self, c: &mut Command) -> io::Result<Output> {
        let out = c.output()?;
        if out.status.success() {
            Ok(out)
        } else {
            Err(other(format!(
                "{c:?}: {}\n{}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr),
                std::fs::read_to_string(self.base.join("server.log")).unwrap_or_default()
            )))
        }
    }

    /// `postgresql://postgres@127.0.0.1:<port>/postgres`.
    pub fn url(&self) -> String {
        format!("postgresql://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// The postmaster's process id (the first line of postmaster.pid).
    pub fn pid(&self) -> Option<u32> {
        std::fs::read_to_string(self.base.join("data/postmaster.pid"))
            .ok()?
            .lines()
            .next()?
            .trim()
            .parse()
            .ok()
    }

    /// Runs `sql` with psql; its unaligned output, one row per line.
    pub fn psql(&self, sql: &str) -> io::Result<String> {
        let mut c = Command::new(self.bin.join("psql"));
        c.args(["-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1"])
            .args([
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-d",
                "postgres",
            ])
            .args(["-c", sql]);
        let out = self.checked(&mut c)?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// The server's folder (data, log, socket).
    pub fn dir(&self) -> &Path {
        &self.base
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let mut stop = self.command("pg_ctl");
        stop.arg("-D")
            .arg(self.base.join("data"))
            .args(["-m", "immediate", "-w", "stop"]);
        let _ = stop.output();
        let _ = std::fs::remove_dir_all(&self.base);
    }
}
