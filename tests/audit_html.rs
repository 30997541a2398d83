//! `audit --html FILE`: the page opened in headless Chromium (Debian's package), a screenshot taken, the DOM
//! checked for every check id and the score, and the file for any external reference.

mod audit_common;

use std::path::Path;
use std::process::Command;

use audit_common::{audit, audit_json, checks, fixture};

fn chromium() -> Option<&'static str> {
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .into_iter()
        .find(|p| Path::new(p).exists())
}

#[test]
fn the_html_report_renders_in_a_browser_with_every_check_and_nothing_external() {
    let tmp = std::env::temp_dir().join(format!("portcullis-html-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&tmp);
    std::fs::create_dir_all(&tmp).unwrap();
    let page = tmp.join("report.html");
    let root = fixture("debian12-cloud");
    let root = root.to_str().unwrap();
    let (code, _, stderr) = audit(&["--root", root, "--html", page.to_str().unwrap()]);
    assert_eq!(code, 1, "a fresh image fails checks: {stderr}");
    let (_, report) = audit_json(&["--root", root]);
    let html = std::fs::read_to_string(&page).unwrap();
    for reference in ["src=", "href=", "url(", "@import", "<script", "<link"] {
        assert!(!html.contains(reference), "the page holds {reference}");
    }
    let Some(browser) = chromium() else {
        // test.sh installs chromium; without it only the file itself is checked.
        eprintln!("skipped the browser part: chromium is not installed (apt-get install chromium)");
        return;
    };
    let run = |args: &[&str]| {
        let out = Command::new(browser)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
            ])
            .arg(format!("--user-data-dir={}", tmp.join("profile").display()))
            .args(args)
            .arg(format!("file://{}", page.display()))
            .output()
            .expect("running chromium");
        assert!(
            out.status.success(),
            "chromium failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let dom = run(&["--dump-dom"]);
    for c in checks(&report) {
        let id = c["id"].as_str().unwrap();
        assert!(
            dom.contains(&format!("id=\"{id}\"")),
            "{id} missing from the DOM"
        );
    }
    let score = report["score"].as_u64().unwrap();
    assert!(
        dom.contains(&format!("id=\"score\">{score}<")),
        "score {score} missing from the DOM"
    );
    let shot = tmp.join("report.png");
    run(&[
        &format!("--screenshot={}", shot.display()),
        "--window-size=1200,1600",
    ]);
    let png = std::fs::read(&shot).unwrap();
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 20_000,
        "{} bytes",
        png.len()
    );
    let _ = std::fs::remove_dir_all(&tmp);
}
