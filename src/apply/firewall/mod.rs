//! [firewall]: default deny with the SSH port(s) and the current session's address allowed first, through
//! one of two backends — our own nftables table (`nftables.rs`) or the host's ufw (`ufw.rs`).

pub mod nftables;
pub mod outbound;
pub mod ufw;

use crate::host::snapshot::Snapshot;
use crate::profile::{Backend, Profile};

use super::change::KeepOpen;
use super::{Plan, Step};

pub use nftables::{FW_FILE, NFT_CONF, NFT_ENABLED_LINK, ruleset};

/// The SSH ports that must stay reachable: the profile's, else the ones sshd uses now, plus the kept ones.
pub fn ssh_ports(profile: &Profile, snap: &Snapshot, keep: &KeepOpen) -> Vec<u16> {
    let mut ports: Vec<u16> = match profile.ssh.port {
        Some(p) => vec![p],
        None if snap.sshd_ports.is_empty() => vec![22],
        None => snap.sshd_ports.clone(),
    };
    ports.extend(&keep.ports);
    ports.sort_unstable();
    ports.dedup();
    ports
}

/// Which backend carries out the step here, or why none can.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chosen {
    Nftables,
    Ufw,
}

/// `auto`: ufw when the host already uses it (enabled), since a second filter beside it would drop what ufw
/// allows and the profile does not list; otherwise our nftables table; ufw only when nft is missing and ufw is
/// there (it then becomes the host's firewall).
pub fn choose(backend: Backend, snap: &Snapshot) -> Result<Chosen, String> {
    match backend {
        Backend::Nftables if snap.nft_installed => Ok(Chosen::Nftables),
        Backend::Nftables => {
            Err("nft is not installed (apt-get install nftables): firewall step skipped".into())
        }
        Backend::Ufw if snap.ufw_installed => Ok(Chosen::Ufw),
        Backend::Ufw => {
            Err("ufw is not installed (apt-get install ufw): firewall step skipped".into())
        }
        Backend::Auto if snap.ufw_enabled && snap.ufw_installed => Ok(Chosen::Ufw),
        Backend::Auto if snap.nft_installed => Ok(Chosen::Nftables),
        Backend::Auto if snap.ufw_installed => Ok(Chosen::Ufw),
        Backend::Auto => Err(
            "neither nft nor ufw is installed (apt-get install nftables): firewall step skipped"
                .into(),
        ),
    }
}

pub fn plan(profile: &Profile, snap: &Snapshot, keep: &KeepOpen, plan: &mut Plan) {
    for w in outbound::warnings(profile) {
        plan.notes.push((Step::Firewall, format!("warning: {w}")));
    }
    match choose(profile.firewall.backend, snap) {
        Ok(Chosen::Nftables) => nftables::plan(profile, snap, keep, plan),
        Ok(Chosen::Ufw) => ufw::plan(profile, snap, keep, plan),
        Err(note) => plan.notes.push((Step::Firewall, note)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_uses_an_enabled_ufw_else_nftables_else_an_installed_ufw() {
        let mut snap = Snapshot {
            ufw_enabled: true,
            ufw_installed: true,
            nft_installed: true,
            ..Default::default()
        };
        assert_eq!(choose(Backend::Auto, &snap), Ok(Chosen::Ufw));
        assert_eq!(choose(Backend::Nftables, &snap), Ok(Chosen::Nftables));
        snap.ufw_enabled = false;
        assert_eq!(choose(Backend::Auto, &snap), Ok(Chosen::Nftables));
        assert_eq!(choose(Backend::Ufw, &snap), Ok(Chosen::Ufw));
        snap.nft_installed = false;
        assert_eq!(choose(Backend::Auto, &snap), Ok(Chosen::Ufw));
        snap.ufw_installed = false;
        assert!(
            choose(Backend::Auto, &snap)
                .unwrap_err()
                .contains("neither")
        );
        let err = choose(Backend::Ufw, &snap).unwrap_err();
        assert!(err.contains("ufw is not installed"), "{err}");
    }

    #[test]
    fn a_missing_backend_is_a_note_not_a_change() {
        let mut prof = Profile::default();
        prof.firewall.backend = Backend::Ufw;
        let mut p = Plan::default();
        plan(&prof, &Snapshot::default(), &KeepOpen::default(), &mut p);
        assert!(p.changes.is_empty());
        assert!(p.notes[0].1.contains("apt-get install ufw"));
    }
}
