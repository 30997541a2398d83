//! [mounts]: /dev/shm with nodev,nosuid,noexec in /etc/fstab, and the live mount remounted to match
//! (never `ro`: programs need to write shared memory).

use crate::host::mounts::parse_mounts;
use crate::host::snapshot::Snapshot;
use crate::profile::Profile;

use super::change::{command, file_change};
use super::{Action, Plan, ROOT_OWNER, Step};

pub const FSTAB: &str = "/etc/fstab";

/// fstab with the /dev/shm line carrying the wanted options (added when absent).
pub fn fstab_text(fstab: &str, opts: &[String]) -> String {
    let entries = parse_mounts(fstab);
    let Some(shm) = entries.iter().find(|m| m.target == "/dev/shm") else {
        let mut out = fstab.to_string();
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(&format!(
            "tmpfs /dev/shm tmpfs defaults,{} 0 0\n",
            opts.join(",")
        ));
        return out;
    };
    if opts.iter().all(|o| shm.has(o)) {
        return fstab.to_string();
    }
    let mut merged = shm.options.clone();
    merged.extend(opts.iter().filter(|o| !shm.has(o)).cloned());
    let mut out = String::new();
    for (i, line) in fstab.split_inclusive('\n').enumerate() {
        if i + 1 == shm.line {
            let mut f: Vec<&str> = line.split_whitespace().collect();
            let joined = merged.join(",");
            if f.len() >= 4 {
                f[3] = &joined;
            }
            out.push_str(&f.join(" "));
            out.push('\n');
        } else {
            out.push_str(line);
        }
    }
    out
}

pub fn plan(profile: &Profile, snap: &Snapshot, plan: &mut Plan) {
    let opts = &profile.mounts.dev_shm_options;
    if opts.is_empty() {
        return;
    }
    let current = snap.text(FSTAB).unwrap_or_default();
    let mode = snap.file(FSTAB).map(|f| f.mode).unwrap_or(0o644);
    plan.changes.extend(file_change(
        Step::Mounts,
        snap,
        FSTAB,
        fstab_text(&current, opts),
        mode,
        ROOT_OWNER,
    ));
    if let Some(live) = &snap.dev_shm_live {
        if !opts.iter().all(|o| live.contains(o)) {
            if let Some(c) = &snap.container {
                plan.notes.push((
                    Step::Mounts,
                    format!(
                        "a {} container: if it refuses the remount, the apply goes on and /etc/fstab applies at the container's next start",
                        c.kind
                    ),
                ));
            }
            plan.changes.push(command(
                Step::Mounts,
                Action::Remount {
                    target: "/dev/shm".into(),
                    options: opts.clone(),
                },
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shm_line_is_added_or_completed() {
        let opts: Vec<String> = ["nodev", "nosuid", "noexec"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let added = fstab_text("/dev/vda1 / ext4 defaults 0 1\n", &opts);
        assert!(added.ends_with("tmpfs /dev/shm tmpfs defaults,nodev,nosuid,noexec 0 0\n"));
        assert_eq!(fstab_text(&added, &opts), added);
        let fixed = fstab_text("# x\ntmpfs /dev/shm tmpfs defaults,nosuid 0 0\n", &opts);
        assert_eq!(
            fixed,
            "# x\ntmpfs /dev/shm tmpfs defaults,nosuid,nodev,noexec 0 0\n"
        );
    }
}
