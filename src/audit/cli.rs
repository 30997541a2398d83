//! `portcullis audit`: arguments, wiring of host facts, profile and checks, exit status.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};

use crate::host::{self, Root, Wanted};
use crate::profile::Profile;

use super::report::{self, HostInfo, Report, Summary};
use super::{Finding, Status};

#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    /// Audit the system mounted at this directory instead of `/` (commands are not run then).
    #[arg(long, default_value = "/")]
    pub root: PathBuf,
    /// Judge what the system will do at boot (its persisted configuration), not its live state.
    /// Implied when the root has no /proc or an empty one (a golden image, a debootstrap root, a container before boot).
    #[arg(long)]
    pub offline: bool,
    /// Profile with your expectations (default: what the hardening guides recommend).
    #[arg(long)]
    pub profile: Option<PathBuf>,
    /// Print JSON: {"score", "host", "checks": [...]}.
    #[arg(long)]
    pub json: bool,
    /// Also write the report as one self-contained HTML page (no scripts, nothing fetched) to FILE.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Run only these checks (ids or step names, comma-separated: `ssh,firewall.active`).
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// Leave out these checks (ids or step names).
    #[arg(long, value_delimiter = ',')]
    pub skip: Vec<String>,
}

/// `ssh` selects every `ssh.*` check; a full id selects one (sysctl ids contain dots, so match whole ids first).
fn selects(selector: &str, id: &str) -> bool {
    id == selector || id.starts_with(&format!("{selector}."))
}

pub fn filter(
    findings: Vec<Finding>,
    only: &[String],
    skip: &[String],
) -> anyhow::Result<Vec<Finding>> {
    for sel in only.iter().chain(skip) {
        if !findings.iter().any(|f| selects(sel, &f.id)) {
            bail!("unknown check id or step {sel:?} (see `portcullis audit --json` for the ids)");
        }
    }
    Ok(findings
        .into_iter()
        .filter(|f| only.is_empty() || only.iter().any(|s| selects(s, &f.id)))
        .filter(|f| !skip.iter().any(|s| selects(s, &f.id)))
        .collect())
}

pub fn run(args: &AuditArgs) -> anyhow::Result<ExitCode> {
    let profile = match &args.profile {
        Some(path) => Profile::load(path)?,
        None => Profile::default(),
    };
    let root = Root::open(&args.root).map_err(anyhow::Error::msg)?;
    let wanted = Wanted {
        sysctl_keys: super::wanted_sysctl_keys(&profile),
        admin_user: profile.admin.user.clone(),
        offline: args.offline,
    };
    let facts = host::collect(&root, &wanted);
    let findings = filter(super::run_all(&facts, &profile), &args.only, &args.skip)?;
    let report = Report {
        score: super::score(&findings),
        host: HostInfo::from_facts(&facts),
        summary: Summary::of(&findings),
        checks: &findings,
    };
    if let Some(path) = &args.html {
        std::fs::write(path, super::report_html::html(&report))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let out = if args.json {
        report::json(&report) + "\n"
    } else {
        report::text(
            &report,
            std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none(),
        )
    };
    let mut stdout = std::io::stdout().lock();
    // A closed pipe (`| head`) is not an audit failure.
    let _ = stdout
        .write_all(out.as_bytes())
        .context("writing the report");
    let failed = findings
        .iter()
        .any(|f| matches!(f.status, Status::Fail | Status::Error));
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{Severity, Spec};

    #[test]
    fn only_and_skip_select_by_id_or_step() {
        let all = || {
            vec![
                Spec::new("ssh.port", "t", Severity::Low, None, "").pass(vec![]),
                Spec::new("ssh.crypto", "t", Severity::Low, None, "").pass(vec![]),
                Spec::new("sysctl.net.ipv4.ip_forward", "t", Severity::Low, None, "").pass(vec![]),
            ]
        };
        assert_eq!(filter(all(), &["ssh".into()], &[]).unwrap().len(), 2);
        assert_eq!(filter(all(), &[], &["ssh.port".into()]).unwrap().len(), 2);
        assert_eq!(
            filter(all(), &["sysctl.net.ipv4.ip_forward".into()], &[])
                .unwrap()
                .len(),
            1
        );
        assert!(filter(all(), &["ss".into()], &[]).is_err());
    }
}
