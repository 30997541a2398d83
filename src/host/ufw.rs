//! ufw as apply drives it: where its programs are, its enabled flag, and the two ways rollback puts the live
//! firewall back in line with the restored files (ufw-init reads them itself and writes nothing).

use super::firewall::parse_shell_vars;
use super::root::Root;
use super::service::{find_program, run};

pub const UFW_CONF: &str = "/etc/ufw/ufw.conf";
pub const UFW_DEFAULTS: &str = "/etc/default/ufw";
/// What `sysctl -p` is given when ufw starts, unless /etc/default/ufw names another file.
pub const UFW_SYSCTL: &str = "/etc/ufw/sysctl.conf";

pub fn ufw_path(root: &Root) -> Option<String> {
    find_program(root, &["/usr/sbin/ufw", "/sbin/ufw", "/usr/bin/ufw"])
}

fn ufw_init_path(root: &Root) -> Option<String> {
    find_program(root, &["/usr/lib/ufw/ufw-init", "/lib/ufw/ufw-init"])
}

/// `ENABLED=yes` in ufw.conf: ufw loads its rules at boot (and, after `ufw enable`, now).
pub fn enabled(ufw_conf: &str) -> bool {
    parse_shell_vars(ufw_conf)
        .iter()
        .any(|(k, v, _)| k == "ENABLED" && v.eq_ignore_ascii_case("yes"))
}

/// Runs `ufw ARGS` (an argument vector; nothing goes through a shell).
pub fn run_ufw(root: &Root, args: &[String]) -> Result<(), String> {
    let ufw = ufw_path(root).ok_or("ufw is not installed (apt-get install ufw)")?;
    let mut argv = vec![ufw];
    argv.extend(args.iter().cloned());
    run(&argv).map(|_| ())
}

/// Makes the kernel match ufw's files: reloaded from them when ufw.conf says enabled, else stopped (ufw's
/// chains flushed, policies accept), as `ufw disable` would leave it but without rewriting any file.
pub fn resync(root: &Root) -> Result<(), String> {
    let init = ufw_init_path(root).ok_or("ufw-init not found (is ufw installed?)")?;
    let on = root.read(UFW_CONF).is_ok_and(|t| enabled(&t));
    let cmd = if on { "force-reload" } else { "force-stop" };
    run(&[init, cmd.into()]).map(|_| ())
}

/// The sysctl values ufw sets when it starts (`sysctl -p` of the IPT_SYSCTL file), keys in dotted form;
/// keys whose slash form holds a dot (an interface like eth0.10) cannot be named dotted and are left out.
pub fn sysctl_values(sysctl_conf: &str) -> Vec<(String, String)> {
    parse_shell_vars(sysctl_conf)
        .into_iter()
        .filter_map(|(k, v, _)| {
            let key = if k.contains('/') {
                (!k.contains('.')).then(|| k.replace('/', "."))?
            } else {
                k
            };
            Some((key, v))
        })
        .collect()
}

pub fn sysctl_keys(sysctl_conf: &str) -> Vec<String> {
    sysctl_values(sysctl_conf)
        .into_iter()
        .map(|(k, _)| k)
        .collect()
}

/// Where ufw's sysctl file is (IPT_SYSCTL), None when it sets none.
pub fn sysctl_file(defaults: &str) -> Option<String> {
    match parse_shell_vars(defaults)
        .into_iter()
        .find(|(k, _, _)| k == "IPT_SYSCTL")
    {
        Some((_, v, _)) if v.is_empty() => None,
        Some((_, v, _)) => Some(v),
        None => Some(UFW_SYSCTL.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enabled_flag_and_sysctl_keys() {
        assert!(enabled("# comment\nENABLED=yes\nLOGLEVEL=low\n"));
        assert!(!enabled("ENABLED=no\n#ENABLED=yes\n"));
        let keys = sysctl_keys(
            "#net/ipv4/ip_forward=1\nnet/ipv4/conf/all/log_martians=0\nnet.ipv4.tcp_syncookies=1\n\
             net/ipv4/conf/eth0.10/rp_filter=1\n",
        );
        assert_eq!(
            keys,
            ["net.ipv4.conf.all.log_martians", "net.ipv4.tcp_syncookies"]
        );
        assert_eq!(
            sysctl_file("IPT_SYSCTL=/etc/ufw/sysctl.conf\n").as_deref(),
            Some(UFW_SYSCTL)
        );
        assert_eq!(sysctl_file("IPT_SYSCTL=\n"), None);
    }
}
