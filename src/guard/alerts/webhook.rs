//! A JSON POST per ban, with ureq (HTTP and HTTPS, the system's trusted roots).

use std::time::Duration;

/// POST `body` to `url`; any 2xx answer is success.
pub fn post_json(url: &str, body: &str) -> Result<(), String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(10)))
        .http_status_as_error(false)
        .build()
        .into();
    let resp = agent
        .post(url)
        .header("Content-Type", "application/json")
        .send(body)
        .map_err(|e| e.to_string())?;
    let status = resp.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("answered {status}"))
    }
}

/// Refuse what is not an http(s) URL at config time rather than at the first ban.
pub fn check_url(url: &str) -> Result<(), String> {
    let parsed: ureq::http::Uri = url.parse().map_err(|e| format!("{url:?}: {e}"))?;
    match parsed.scheme_str() {
        Some("http") | Some("https") if parsed.host().is_some() => Ok(()),
        _ => Err(format!("{url:?}: use an http:// or https:// URL")),
    }
}

/// The TCP port the URL connects to: its own, or its scheme's.
pub fn port_of(url: &str) -> Option<u16> {
    let parsed: ureq::http::Uri = url.parse().ok()?;
    parsed.port_u16().or(match parsed.scheme_str()? {
        "https" => Some(443),
        "http" => Some(80),
        _ => None,
    })
}

/// The URL's host (an address without its brackets, or a name).
pub fn host_of(url: &str) -> Option<String> {
    let parsed: ureq::http::Uri = url.parse().ok()?;
    let host = parsed.host()?;
    Some(
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .to_string(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::TcpListener;

    #[test]
    fn urls_are_checked() {
        assert!(check_url("http://127.0.0.1:9000/hook").is_ok());
        assert!(check_url("https://hooks.example.net/x").is_ok());
        assert!(check_url("ftp://example.net/").is_err());
        assert!(check_url("not a url").is_err());
        assert_eq!(host_of("http://[::1]:81/x").as_deref(), Some("::1"));
        assert_eq!(
            host_of("https://hooks.example.net/x").as_deref(),
            Some("hooks.example.net")
        );
        assert_eq!(port_of("http://[::1]:81/x"), Some(81));
        assert_eq!(port_of("https://hooks.example.net/x"), Some(443));
        assert_eq!(port_of("http://hooks.example.net/x"), Some(80));
    }

    /// One request answered with `status` by a listener on loopback; returns the body received.
    fn serve_once(status: &'static str) -> (String, std::thread::JoinHandle<String>) {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/ban", l.local_addr().unwrap());
        let h = std::thread::spawn(move || {
            let (s, _) = l.accept().unwrap();
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut len = 0;
            loop {
                let mut line = String::new();
                r.read_line(&mut line).unwrap();
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap();
                }
                if line == "\r\n" {
                    break;
                }
            }
            let mut body = vec![0; len];
            r.read_exact(&mut body).unwrap();
            let mut s = s;
            write!(s, "HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n").unwrap();
            String::from_utf8(body).unwrap()
        });
        (url, h)
    }

    #[test]
    fn posts_json_and_reports_a_refusal() {
        let (url, h) = serve_once("204 No Content");
        post_json(&url, r#"{"ip":"192.0.2.1"}"#).unwrap();
        assert_eq!(h.join().unwrap(), r#"{"ip":"192.0.2.1"}"#);
        let (url, h) = serve_once("500 Internal Server Error");
        let e = post_json(&url, "{}").unwrap_err();
        h.join().unwrap();
        assert!(e.contains("500"), "{e}");
    }
}
