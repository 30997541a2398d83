//! `portcullis guard test` as a user runs it: the JSON contract, per-line output, bad input.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn run(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["guard", "test"])
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run portcullis");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

fn json(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("one JSON object")
}

const SAMPLE: &str = "\
Jan  2 00:00:01 vps sshd[100]: Failed password for invalid user admin from 192.0.2.10 port 5000 ssh2
Jan  2 00:00:02 vps sshd[101]: Failed password for root from 192.0.2.10 port 5001 ssh2
Jan  2 00:00:03 vps sshd[102]: Invalid user test from 192.0.2.10 port 5002
Jan  2 00:00:04 vps sshd[103]: Failed password for invalid user a from 6.6.6.6 from 192.0.2.10 port 5003 ssh2
Jan  2 00:00:05 vps sshd[104]: error: maximum authentication attempts exceeded for root from 192.0.2.10 port 5004 ssh2 [preauth]
Jan  2 00:00:06 vps sshd[105]: Failed password for root from 2001:db8::7 port 5005 ssh2
Jan  2 00:00:07 vps sshd[106]: Accepted publickey for deploy from 198.51.100.7 port 5006 ssh2: ED25519 SHA256:x
Jan  2 00:00:08 vps CRON[107]: pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)
";

const NOW: &str = "2025-01-06T00:00:00Z";

#[test]
fn summary_json_has_the_documented_keys_and_counts() {
    let out = run(
        &["--json", "--now", NOW, "--timezone", "UTC", "-"],
        SAMPLE.as_bytes(),
    );
    let s = json(&out);
    assert_eq!(s["lines"], 8);
    assert_eq!(s["matched"], 6);
    assert_eq!(s["ignored"], 1, "the accepted login is a helper");
    assert_eq!(s["missed"], 1);
    assert_eq!(s["failures"], 6);
    assert_eq!(s["addresses"], 2);
    assert_eq!(s["rules"]["failed-auth"], 4);
    assert_eq!(s["rules"]["invalid-user"], 1);
    assert_eq!(s["rules"]["max-auth-attempts"], 1);
    assert_eq!(
        s["would_ban"],
        serde_json::json!([{"ip": "192.0.2.10", "failures": 5, "bans": 1}])
    );
    assert!(s["elapsed_s"].as_f64().unwrap() >= 0.0);
    assert!(s["lines_per_s"].as_f64().is_some());
}

#[test]
fn maxretry_and_findtime_change_the_replay() {
    let s = json(&run(
        &[
            "--json",
            "--now",
            NOW,
            "--timezone",
            "UTC",
            "--maxretry",
            "6",
            "-",
        ],
        SAMPLE.as_bytes(),
    ));
    assert_eq!(s["would_ban"], serde_json::json!([]));
    let s = json(&run(
        &[
            "--json",
            "--now",
            NOW,
            "--timezone",
            "UTC",
            "--maxretry",
            "2",
            "--findtime",
            "1s",
            "-",
        ],
        SAMPLE.as_bytes(),
    ));
    assert_eq!(
        s["would_ban"],
        serde_json::json!([]),
        "one failure per second never makes two within 1 s"
    );
}

#[test]
fn per_line_ndjson_gives_one_object_per_input_line() {
    let out = run(
        &[
            "--json",
            "--per-line",
            "--now",
            NOW,
            "--timezone",
            "Europe/Paris",
            "-",
        ],
        SAMPLE.as_bytes(),
    );
    assert!(out.status.success());
    let lines: Vec<Value> = out
        .stdout
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 8);
    let first = &lines[0];
    assert_eq!(first["line"], 1);
    let f = &first["failures"][0];
    assert_eq!(f["rule"], "failed-auth");
    assert_eq!(f["host"], "192.0.2.10");
    assert_eq!(f["user"], "admin");
    assert_eq!(f["users"], serde_json::json!(["admin"]));
    assert_eq!(f["attempts"], 1);
    assert_eq!(
        f["time"], "2025-01-02T00:00:01+01:00",
        "local time of the given zone, with its offset"
    );
    assert_eq!(
        lines[3]["failures"][0]["host"], "192.0.2.10",
        "the injected 6.6.6.6 is not the host"
    );
    assert_eq!(lines[5]["failures"][0]["host"], "2001:db8::7");
    assert_eq!(lines[6]["failures"], serde_json::json!([]));
}

#[test]
fn lines_without_a_timestamp_take_the_given_clock() {
    let input = "vps sshd[9]: Invalid user x from 192.0.2.3\nFailed password for root from 192.0.2.4 port 1 ssh2\n";
    let out = run(
        &[
            "--json",
            "--per-line",
            "--now",
            "2025-03-04T05:06:07Z",
            "--timezone",
            "UTC",
            "-",
        ],
        input.as_bytes(),
    );
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        lines[0]["failures"][0]["time"], "2025-03-04T05:06:07+00:00",
        "journal-style line"
    );
    assert_eq!(
        lines[1]["failures"][0]["host"], "192.0.2.4",
        "bare sshd -E message"
    );
}

#[test]
fn garbage_is_counted_and_skipped() {
    let mut input = Vec::new();
    input.extend_from_slice(b"\xff\xfe not utf-8\n");
    input.extend_from_slice(b"nul\0byte\n");
    input.extend(std::iter::repeat_n(b'A', 10 * 1024 * 1024));
    input.push(b'\n');
    input.extend_from_slice(SAMPLE.lines().next().unwrap().as_bytes());
    input.push(b'\n');
    let s = json(&run(
        &["--json", "--now", NOW, "--timezone", "UTC", "-"],
        &input,
    ));
    assert_eq!(
        (
            s["lines"].as_u64(),
            s["skipped"].as_u64(),
            s["matched"].as_u64()
        ),
        (Some(4), Some(3), Some(1))
    );
    let empty = json(&run(&["--json", "-"], b""));
    assert_eq!(empty["lines"], 0);
}

#[test]
fn usage_errors_exit_2_with_a_clear_message() {
    let out = run(&["/nonexistent/auth.log"], b"");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot open /nonexistent/auth.log") && err.contains("No such file"),
        "{err}"
    );
    let out = run(&["--timezone", "Mars/Olympus", "-"], b"");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("Mars/Olympus"));
    let out = run(&["--filter", "nginx", "-"], b"");
    assert_eq!(out.status.code(), Some(2));
    let out = run(&["--findtime", "ten minutes", "-"], b"");
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn text_report_reads_like_fail2ban_regex() {
    let out = run(&["--now", NOW, "--timezone", "UTC", "-"], SAMPLE.as_bytes());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("Lines: 8 lines, 1 ignored, 6 matched, 1 missed, 0 skipped"),
        "{text}"
    );
    assert!(
        text.contains("Would ban with maxretry 5 in findtime 10m: 1 addresses"),
        "{text}"
    );
    assert!(text.contains("192.0.2.10"));
}
