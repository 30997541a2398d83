//! `portcullis init`: a starter profile filled from the host — the SSH port in use, the invoking sudo user
//! and their keys, and the public services now listening (so the firewall keeps them reachable).

/// What init needs to know; read by the CLI through `host/`.
#[derive(Debug, Clone, Default)]
pub struct InitFacts {
    pub ssh_ports: Vec<u16>,
    /// `SUDO_USER`, with the path of their authorized_keys when it exists.
    pub user: Option<(String, Option<String>)>,
    /// The invoking user has a usable password (else sudo must not ask for one).
    pub user_has_password: bool,
    /// Public listening services other than sshd: (port, "tcp"|"udp").
    pub services: Vec<(u16, &'static str)>,
    /// ufw is installed and enabled: the host's firewall is ufw, so the profile keeps using it.
    pub ufw: bool,
}

fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

pub fn starter(f: &InitFacts) -> String {
    let mut out = String::from(
        "# portcullis profile: what `portcullis plan` compares the host with and `apply` enforces.\n\
         # Written by `portcullis init`; every key is documented in docs/apply.md.\n\n[admin]\n",
    );
    match &f.user {
        Some((name, keys)) => {
            out.push_str(&format!("user = {}\n", quote(name)));
            match keys {
                Some(k) => out.push_str(&format!("authorized_keys_file = {}\n", quote(k))),
                None => out.push_str("# No authorized_keys found: add your public key, or apply will refuse.\nauthorized_keys = []\n"),
            }
        }
        None => out.push_str(
            "# Run init through sudo from your own account to fill this in.\n# user = \"admin\"\n# authorized_keys = [\"ssh-ed25519 AAAA... you@laptop\"]\n",
        ),
    }
    if f.user.is_some() && !f.user_has_password {
        out.push_str(
            "# You have no password (a cloud image user?): sudo without one, or root would be out of reach.\n\
             sudo = \"nopassword\"\n",
        );
    } else {
        out.push_str("sudo = \"password\"\n");
    }
    out.push_str("lock_root_password = true\n\n[ssh]\n");
    let port = f.ssh_ports.first().copied().unwrap_or(22);
    out.push_str(&format!(
        "# The port sshd uses now; change it here and apply keeps the old one open until you confirm.\nport = {port}\n"
    ));
    out.push_str("permit_root_login = \"no\"\npassword_authentication = false\ncrypto = \"hardened\"\n\n[firewall]\n");
    if f.ufw {
        out.push_str("# This host's firewall is ufw: apply adds its rules there (tagged 'portcullis').\nbackend = \"ufw\"\n");
    } else {
        out.push_str("backend = \"nftables\"\n");
    }
    out.push_str("incoming = \"deny\"\noutgoing = \"allow\"\n");
    if f.services.is_empty() {
        out.push_str("allow = []\n");
    } else {
        out.push_str(
            "# Public services listening now; delete what should not be reachable.\nallow = [\n",
        );
        for (port, proto) in &f.services {
            out.push_str(&format!("  {{ port = {port}, proto = \"{proto}\" }},\n"));
        }
        out.push_str("]\n");
    }
    out.push_str("\n[sysctl]\nharden = true\n\n[mounts]\ndev_shm_options = [\"nodev\", \"nosuid\", \"noexec\"]\n\n[updates]\nunattended = true\nautomatic_reboot = false\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::Profile;

    #[test]
    fn starter_profile_is_valid_and_keeps_what_runs() {
        let f = InitFacts {
            ssh_ports: vec![22],
            user: Some((
                "alice".into(),
                Some("/home/alice/.ssh/authorized_keys".into()),
            )),
            user_has_password: false,
            services: vec![(443, "tcp")],
            ufw: false,
        };
        let p = Profile::parse(&starter(&f), "init").unwrap();
        assert_eq!(p.admin.user.as_deref(), Some("alice"));
        assert_eq!(p.admin.sudo, crate::profile::SudoMode::Nopassword);
        assert_eq!(p.ssh.port, Some(22));
        assert_eq!(p.firewall.allow[0].port, 443);
        assert!(Profile::parse(&starter(&InitFacts::default()), "init").is_ok());
        let with_password = InitFacts {
            user_has_password: true,
            ..f
        };
        let p = Profile::parse(&starter(&with_password), "init").unwrap();
        assert_eq!(p.admin.sudo, crate::profile::SudoMode::Password);
        assert_eq!(p.firewall.backend, crate::profile::Backend::Nftables);
        let ufw_host = InitFacts {
            ufw: true,
            ..with_password
        };
        let p = Profile::parse(&starter(&ufw_host), "init").unwrap();
        assert_eq!(p.firewall.backend, crate::profile::Backend::Ufw);
    }
}
