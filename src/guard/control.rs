//! The control socket: one JSON request line in, one JSON response line out, over a Unix socket that
//! only root (or the daemon's own user) may use, checked with SO_PEERCRED. JSON only: nothing that
//! can build arbitrary objects (fail2ban's pickle) is ever read.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Requests are small; anything bigger is not ours.
const MAX_REQUEST: u64 = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "lowercase", deny_unknown_fields)]
pub enum Request {
    Ping {},
    Status {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        jail: Option<String>,
        /// Leave out the list of banned addresses (fail2ban's `status <jail> short`).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        short: bool,
    },
    Ban {
        jail: String,
        ip: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seconds: Option<u64>,
    },
    Unban {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        ip: Option<String>,
        #[serde(default)]
        all: bool,
    },
    Reload {},
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Response {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "serde_json::Value::is_null")]
    pub data: serde_json::Value,
}

impl Response {
    pub fn ok(data: serde_json::Value) -> Self {
        Response {
            ok: true,
            error: None,
            data,
        }
    }

    pub fn err(msg: impl Into<String>) -> Self {
        Response {
            ok: false,
            error: Some(msg.into()),
            data: serde_json::Value::Null,
        }
    }
}

/// A request handed to the daemon loop, with where to send its answer.
pub type Pending = (Request, mpsc::Sender<Response>);

#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    #[error("control socket {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{0}")]
    Protocol(String),
}

/// Bind the socket: private directory, stale socket removed, mode 0600.
pub fn bind(path: &Path) -> Result<UnixListener, ControlError> {
    let io = |source| ControlError::Io {
        path: path.display().to_string(),
        source,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    if path.exists() {
        if UnixStream::connect(path).is_ok() {
            return Err(ControlError::Protocol(format!(
                "{} is in use: is another `guard run` running?",
                path.display()
            )));
        }
        std::fs::remove_file(path).map_err(io)?;
    }
    let listener = UnixListener::bind(path).map_err(io)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    Ok(listener)
}

/// uid of the process at the other end.
fn peer_uid(stream: &UnixStream) -> Option<u32> {
    let mut cred = libc::ucred {
        pid: 0,
        uid: 0,
        gid: 0,
    };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: cred and len are valid for writes of the sizes given.
    let r = unsafe {
        libc::getsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    (r == 0).then_some(cred.uid)
}

/// Accept connections until the daemon is gone. Each one is one request.
/// Answer requests on `listener`: each goes to `forward` with a channel for its response;
/// `forward` returns false when the daemon is gone, which ends the loop.
pub fn serve(listener: UnixListener, forward: impl Fn(Request, mpsc::Sender<Response>) -> bool) {
    // SAFETY: geteuid cannot fail.
    let own_uid = unsafe { libc::geteuid() };
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let allowed = peer_uid(&stream).is_some_and(|uid| uid == 0 || uid == own_uid);
        let reply = if allowed {
            match read_request(&stream) {
                Ok(req) => {
                    let (tx, rx) = mpsc::channel();
                    if !forward(req, tx) {
                        return;
                    }
                    rx.recv_timeout(Duration::from_secs(30))
                        .unwrap_or_else(|_| Response::err("the daemon did not answer in time"))
                }
                Err(e) => Response::err(e),
            }
        } else {
            Response::err("permission denied: the guard control socket is for root only")
        };
        let _ = write_line(&stream, &reply);
    }
}

fn read_request(stream: &UnixStream) -> Result<Request, String> {
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .map_err(|e| e.to_string())?;
    let mut line = String::new();
    BufReader::new(stream.take(MAX_REQUEST))
        .read_line(&mut line)
        .map_err(|e| e.to_string())?;
    serde_json::from_str(line.trim()).map_err(|e| format!("bad request: {e}"))
}

fn write_line<T: Serialize>(mut stream: &UnixStream, value: &T) -> std::io::Result<()> {
    let mut text = serde_json::to_string(value).map_err(std::io::Error::other)?;
    text.push('\n');
    stream.write_all(text.as_bytes())
}

/// Send one request and wait for its answer (the CLI side).
pub fn call(path: &Path, req: &Request) -> Result<Response, ControlError> {
    let io = |source| ControlError::Io {
        path: path.display().to_string(),
        source,
    };
    let stream = UnixStream::connect(path).map_err(io)?;
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .map_err(io)?;
    // A refused peer is answered before its request is read: the answer is still there to read when
    // writing fails, and it says why.
    let sent = write_line(&stream, req);
    let mut line = String::new();
    let read = BufReader::new(&stream).read_line(&mut line);
    if line.trim().is_empty() {
        sent.map_err(io)?;
        read.map_err(io)?;
    }
    serde_json::from_str(line.trim())
        .map_err(|e| ControlError::Protocol(format!("bad answer from the daemon: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_plain_tagged_json() {
        let r = Request::Ban {
            jail: "sshd".into(),
            ip: "192.0.2.1".into(),
            seconds: Some(60),
        };
        let text = serde_json::to_string(&r).unwrap();
        assert_eq!(
            text,
            r#"{"cmd":"ban","jail":"sshd","ip":"192.0.2.1","seconds":60}"#
        );
        assert_eq!(serde_json::from_str::<Request>(&text).unwrap(), r);
        assert_eq!(
            serde_json::from_str::<Request>(r#"{"cmd":"status"}"#).unwrap(),
            Request::Status {
                jail: None,
                short: false
            }
        );
        assert!(serde_json::from_str::<Request>(r#"{"cmd":"shell","run":"rm -rf /"}"#).is_err());
        assert!(serde_json::from_str::<Request>(r#"{"cmd":"ping","x":1}"#).is_err());
    }
}
