//! `audit --html FILE`: one self-contained page (inline CSS, no scripts, no external URL) with the score, the
//! checks grouped by guide step with status colours, the evidence, and each fix as a snippet to copy.

use super::report::Report;
use super::{Finding, STEPS, Status};

/// Text into HTML: everything in a finding may come from the audited host (file contents, user names).
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

fn status_class(s: Status) -> &'static str {
    match s {
        Status::Pass => "pass",
        Status::Warn => "warn",
        Status::Fail => "fail",
        Status::Skip => "skip",
        Status::Error => "error",
    }
}

const STYLE: &str = "
body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;background:#f4f5f7;color:#1d2330}
header{background:#1d2330;color:#fff;padding:20px 32px;display:flex;gap:32px;align-items:center;flex-wrap:wrap}
header h1{margin:0;font-size:22px}
.score{font-size:44px;font-weight:700}
.host{opacity:.85}
.counts span{display:inline-block;margin-right:10px;padding:2px 10px;border-radius:10px;font-weight:600}
main{padding:16px 32px 40px;max-width:1100px}
h2{margin:28px 0 8px;font-size:18px;border-bottom:2px solid #d5d9e0;padding-bottom:4px}
.check{background:#fff;border-left:6px solid #999;border-radius:4px;margin:8px 0;padding:10px 14px}
.check h3{margin:0 0 4px;font-size:15px}
.id{font-family:ui-monospace,monospace;color:#555;font-weight:400;margin-left:6px}
.badge{display:inline-block;min-width:44px;text-align:center;border-radius:3px;padding:0 6px;margin-right:8px;
 font-size:12px;font-weight:700;color:#fff;text-transform:uppercase}
.sev{color:#666;font-size:12px;margin-left:6px}
ul{margin:4px 0 6px 18px;padding:0}
li{font-family:ui-monospace,monospace;font-size:13px;word-break:break-word}
.fix{font-size:13px;color:#333}
pre{background:#eef0f4;border-radius:3px;padding:6px 8px;margin:4px 0;white-space:pre-wrap;
 word-break:break-word;user-select:all;font-size:13px}
.pass{border-color:#2e8540}.pass .badge,.counts .pass{background:#2e8540;color:#fff}
.warn{border-color:#c77c02}.warn .badge,.counts .warn{background:#c77c02;color:#fff}
.fail{border-color:#c62828}.fail .badge,.counts .fail{background:#c62828;color:#fff}
.skip{border-color:#8a8f98}.skip .badge,.counts .skip{background:#8a8f98;color:#fff}
.error{border-color:#7b1fa2}.error .badge,.counts .error{background:#7b1fa2;color:#fff}
";

fn check_html(f: &Finding, out: &mut String) {
    let class = status_class(f.status);
    out.push_str(&format!(
        "<section class=\"check {class}\" id=\"{}\">\n<h3><span class=\"badge\">{class}</span>{}<span class=\"id\">{}</span><span class=\"sev\">{}</span></h3>\n",
        esc(&f.id),
        esc(&f.title),
        esc(&f.id),
        f.severity.as_str()
    ));
    if !f.evidence.is_empty() {
        out.push_str("<ul>\n");
        for e in &f.evidence {
            out.push_str(&format!("<li>{}</li>\n", esc(e)));
        }
        out.push_str("</ul>\n");
    }
    if matches!(f.status, Status::Fail | Status::Warn | Status::Error) {
        out.push_str("<div class=\"fix\">");
        if let Some(key) = &f.fix.profile {
            out.push_str(&format!(
                "In the profile (then <code>portcullis apply</code>):<pre>{}</pre>",
                esc(key)
            ));
        }
        out.push_str(&format!(
            "By hand:<pre>{}</pre></div>\n",
            esc(&f.fix.manual)
        ));
    }
    out.push_str("</section>\n");
}

pub fn html(report: &Report) -> String {
    let h = &report.host;
    let s = &report.summary;
    let mut out = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>portcullis audit: {host}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<header>\n\
         <div><h1>portcullis audit</h1><div class=\"host\">{host} &middot; {os} &middot; root {root}{live}</div></div>\n\
         <div class=\"score\" id=\"score\">{score}<small>/100</small></div>\n<div class=\"counts\">\
         <span class=\"pass\">{} pass</span><span class=\"warn\">{} warn</span><span class=\"fail\">{} fail</span>\
         <span class=\"skip\">{} skip</span><span class=\"error\">{} error</span></div>\n</header>\n<main>\n",
        s.pass,
        s.warn,
        s.fail,
        s.skip,
        s.error,
        host = esc(&h.hostname),
        os = esc(&h.os),
        root = esc(&h.root),
        live = if h.live { "" } else { " (offline)" },
        score = report.score,
    );
    for &(step, title, _) in STEPS {
        let checks: Vec<&Finding> = report
            .checks
            .iter()
            .filter(|f| super::step_of(&f.id) == step)
            .collect();
        if checks.is_empty() {
            continue;
        }
        out.push_str(&format!(
            "<h2 id=\"step-{}\">{}</h2>\n",
            esc(step),
            esc(title)
        ));
        for f in checks {
            check_html(f, &mut out);
        }
    }
    out.push_str("</main>\n</body>\n</html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::report::{HostInfo, Summary};
    use crate::audit::{Severity, Spec};

    #[test]
    fn host_text_is_escaped_and_nothing_is_fetched() {
        let bad = Spec::new(
            "ssh.port",
            "Port",
            Severity::Low,
            Some("ssh.port = 2222"),
            "edit <sshd_config> & reload",
        )
        .fail(vec!["user \"<script>alert(1)</script>\"".into()]);
        let checks = vec![bad];
        let report = Report {
            score: 42,
            host: HostInfo {
                hostname: "h<1>".into(),
                os: "Debian".into(),
                root: "/".into(),
                live: true,
                privileged: true,
                sshd_config_source: String::new(),
            },
            summary: Summary::of(&checks),
            checks: &checks,
        };
        let page = html(&report);
        assert!(!page.contains("<script"), "{page}");
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(page.contains("h&lt;1&gt;"));
        assert!(page.contains("<pre>ssh.port = 2222</pre>"));
        assert!(page.contains("edit &lt;sshd_config&gt; &amp; reload"));
        assert!(page.contains("id=\"score\">42<"));
        for external in ["http://", "https://", "//fonts", "src=", "href="] {
            assert!(!page.contains(external), "{external} in the page");
        }
    }
}
