//! Persistent state in SQLite: bans (start, end, count per network and jail), file offsets with the
//! identity of the file they belong to, and journal cursors.
//!
//! Every daemon batch is saved in one transaction (`save`). WAL with `synchronous=NORMAL` keeps every
//! committed transaction across a `kill -9` of the daemon (only an OS crash can lose the newest ones).

use std::path::Path;

use ipnet::IpNet;
use rusqlite::{Connection, OptionalExtension, params};

use super::jail::Ban;

pub const DB_FILE: &str = "guard.sqlite3";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS bans (
    jail TEXT NOT NULL,
    net TEXT NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL,
    count INTEGER NOT NULL,
    failures INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (jail, net)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS bans_end ON bans(end);
CREATE TABLE IF NOT EXISTS offsets (
    path TEXT PRIMARY KEY,
    dev INTEGER NOT NULL,
    ino INTEGER NOT NULL,
    pos INTEGER NOT NULL,
    head BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS cursors (
    source TEXT PRIMARY KEY,
    cursor TEXT NOT NULL
);
";

#[derive(Debug, thiserror::Error)]
#[error("state database {path}: {source}")]
pub struct StateError {
    path: String,
    source: rusqlite::Error,
}

/// Where a file follower stopped, and which file that was.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileMark {
    pub dev: u64,
    pub ino: u64,
    pub pos: u64,
    /// The first bytes of the file, to tell a new file that reused an inode number.
    pub head: Vec<u8>,
}

/// Everything one daemon batch changed, saved atomically.
#[derive(Debug, Default)]
pub struct Batch {
    pub bans: Vec<(String, Ban)>,
    /// (jail, net); jail `None` lifts the net in every jail.
    pub unbans: Vec<(Option<String>, IpNet)>,
    pub unban_all: bool,
    pub offsets: Vec<(String, FileMark)>,
    pub cursors: Vec<(String, String)>,
}

impl Batch {
    pub fn is_empty(&self) -> bool {
        self.bans.is_empty()
            && self.unbans.is_empty()
            && !self.unban_all
            && self.offsets.is_empty()
            && self.cursors.is_empty()
    }
}

pub struct State {
    conn: Connection,
    path: String,
}

impl State {
    pub fn open(path: &Path) -> Result<Self, StateError> {
        let name = path.display().to_string();
        let conn = Connection::open(path).map_err(|source| StateError {
            path: name.clone(),
            source,
        })?;
        let state = State { conn, path: name };
        state
            .conn
            .execute_batch(
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000; PRAGMA cache_size=-512;",
            )
            .and_then(|_| state.conn.execute_batch(SCHEMA))
            .map_err(|e| state.err(e))?;
        Ok(state)
    }

    fn err(&self, source: rusqlite::Error) -> StateError {
        StateError {
            path: self.path.clone(),
            source,
        }
    }

    pub fn save(&mut self, batch: &Batch) -> Result<(), StateError> {
        if batch.is_empty() {
            return Ok(());
        }
        let path = self.path.clone();
        let err = |source| StateError {
            path: path.clone(),
            source,
        };
        let tx = self.conn.transaction().map_err(err)?;
        if batch.unban_all {
            tx.execute("DELETE FROM bans", []).map_err(err)?;
        }
        {
            let mut put = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO bans (jail, net, start, end, count, failures) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )
                .map_err(err)?;
            for (jail, b) in &batch.bans {
                put.execute(params![
                    jail,
                    b.net.to_string(),
                    b.start,
                    b.end,
                    b.count,
                    b.failures
                ])
                .map_err(err)?;
            }
            let mut del_one = tx
                .prepare_cached("DELETE FROM bans WHERE jail = ?1 AND net = ?2")
                .map_err(err)?;
            let mut del_any = tx
                .prepare_cached("DELETE FROM bans WHERE net = ?1")
                .map_err(err)?;
            for (jail, net) in &batch.unbans {
                match jail {
                    Some(j) => del_one.execute(params![j, net.to_string()]),
                    None => del_any.execute(params![net.to_string()]),
                }
                .map_err(err)?;
            }
            let mut off = tx
                .prepare_cached("INSERT OR REPLACE INTO offsets (path, dev, ino, pos, head) VALUES (?1, ?2, ?3, ?4, ?5)")
                .map_err(err)?;
            for (p, m) in &batch.offsets {
                off.execute(params![p, m.dev as i64, m.ino as i64, m.pos as i64, m.head])
                    .map_err(err)?;
            }
            let mut cur = tx
                .prepare_cached("INSERT OR REPLACE INTO cursors (source, cursor) VALUES (?1, ?2)")
                .map_err(err)?;
            for (s, c) in &batch.cursors {
                cur.execute(params![s, c]).map_err(err)?;
            }
        }
        tx.commit().map_err(err)
    }

    /// Bans still in force at `now`, per jail, in one query.
    pub fn current_bans(&self, now: i64) -> Result<Vec<(String, Ban)>, StateError> {
        self.query_bans(
            "SELECT jail, net, start, end, count, failures FROM bans WHERE end > ?1",
            now,
        )
    }

    /// Every remembered ban, expired or not (their counts feed the increment).
    pub fn all_bans(&self) -> Result<Vec<(String, Ban)>, StateError> {
        self.query_bans(
            "SELECT jail, net, start, end, count, failures FROM bans WHERE ?1 = ?1",
            0,
        )
    }

    fn query_bans(&self, sql: &str, arg: i64) -> Result<Vec<(String, Ban)>, StateError> {
        let mut stmt = self.conn.prepare(sql).map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([arg], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, u32>(4)?,
                    r.get::<_, u32>(5)?,
                ))
            })
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (jail, net, start, end, count, failures) = row.map_err(|e| self.err(e))?;
            // A row we cannot parse is skipped rather than stopping the daemon.
            if let Ok(net) = net.parse::<IpNet>() {
                out.push((
                    jail,
                    Ban {
                        net,
                        start,
                        end,
                        count,
                        failures,
                    },
                ));
            }
        }
        Ok(out)
    }

    /// Forget bans that ended long ago: after a day plus three times their length (fail2ban's purge rule).
    pub fn purge(&mut self, now: i64) -> Result<usize, StateError> {
        self.conn
            .execute(
                "DELETE FROM bans WHERE end + 3 * (end - start) < ?1 - 86400",
                [now],
            )
            .map_err(|e| self.err(e))
    }

    pub fn offset(&self, path: &str) -> Result<Option<FileMark>, StateError> {
        self.conn
            .query_row(
                "SELECT dev, ino, pos, head FROM offsets WHERE path = ?1",
                [path],
                |r| {
                    Ok(FileMark {
                        dev: r.get::<_, i64>(0)? as u64,
                        ino: r.get::<_, i64>(1)? as u64,
                        pos: r.get::<_, i64>(2)? as u64,
                        head: r.get(3)?,
                    })
                },
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    pub fn cursor(&self, source: &str) -> Result<Option<String>, StateError> {
        self.conn
            .query_row(
                "SELECT cursor FROM cursors WHERE source = ?1",
                [source],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ban(net: &str, start: i64, end: i64, count: u32) -> Ban {
        Ban {
            net: net.parse().unwrap(),
            start,
            end,
            count,
            failures: 3,
        }
    }

    #[test]
    fn bans_offsets_and_cursors_survive_reopen() {
        let dir = std::env::temp_dir().join(format!("pc-state-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(DB_FILE);
        let _ = std::fs::remove_file(&path);
        {
            let mut s = State::open(&path).unwrap();
            let batch = Batch {
                bans: vec![
                    ("sshd".into(), ban("192.0.2.1/32", 100, 200, 1)),
                    ("sshd".into(), ban("2001:db8::/64", 100, 1000, 2)),
                    ("sshd".into(), ban("192.0.2.2/32", 10, 50, 4)),
                ],
                offsets: vec![(
                    "/var/log/auth.log".into(),
                    FileMark {
                        dev: 1,
                        ino: 2,
                        pos: 3,
                        head: b"x".to_vec(),
                    },
                )],
                cursors: vec![("sshd".into(), "s=abc".into())],
                ..Default::default()
            };
            s.save(&batch).unwrap();
            s.save(&Batch {
                unbans: vec![(None, "192.0.2.1/32".parse().unwrap())],
                ..Default::default()
            })
            .unwrap();
        }
        let s = State::open(&path).unwrap();
        let current = s.current_bans(150).unwrap();
        assert_eq!(
            current,
            vec![("sshd".to_string(), ban("2001:db8::/64", 100, 1000, 2))]
        );
        assert_eq!(s.all_bans().unwrap().len(), 2);
        assert_eq!(s.offset("/var/log/auth.log").unwrap().unwrap().pos, 3);
        assert_eq!(s.offset("/nope").unwrap(), None);
        assert_eq!(s.cursor("sshd").unwrap().as_deref(), Some("s=abc"));
        let mut s = s;
        // 192.0.2.2 ended at 50 after 40 s: forgotten once now > 50 + 120 + 86400.
        assert_eq!(s.purge(86_571).unwrap(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
