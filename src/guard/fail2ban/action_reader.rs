//! An action.d template read as fail2ban's `ActionReader` reads it for a jail: `[Definition]`'s
//! commands and `[Init]`'s options, the jail's `name[options]` on top, `<tags>` between options
//! replaced. What is left in the commands are the ban's own tags (`<ip>`, `<failures>`,
//! `<matches>`, `<bantime>` ...), filled at run time by `shell::render`.

use std::collections::BTreeMap;
use std::path::Path;

use crate::guard::conf::ConfError;
use crate::guard::conf::interp::Vars;
use crate::guard::filter::definition::{Kind, combine_kind};

const ACTION_KEYS: [&str; 13] = [
    "actionstart",
    "actionstart_on_demand",
    "actionstop",
    "actionflush",
    "actionreload",
    "actioncheck",
    "actionrepair",
    "actionrepair_on_unban",
    "actionban",
    "actionprolong",
    "actionreban",
    "actionunban",
    "norestored",
];

/// Tags fail2ban fills only when a ban happens (its `CommandAction._escapedTags` and the two
/// times), left alone when the options are combined.
const RUN_TIME_TAGS: [&str; 8] = [
    "matches",
    "ipmatches",
    "ipjailmatches",
    "ipfailures",
    "ipjailfailures",
    "timeout",
    "bantime",
    "fid",
];

pub use crate::guard::config::ShellAction as ActionCommands;

/// Read action `name` for `jail` with the options the jail gave it; `jail_opts` are the jail's
/// options (which the action's values may refer to).
pub fn load(
    config_dir: &Path,
    name: &str,
    options: &BTreeMap<String, String>,
    jail: &str,
    jail_opts: &Vars,
) -> Result<ActionCommands, ConfError> {
    let mut init = options.clone();
    init.entry("name".into())
        .or_insert_with(|| jail.to_string());
    init.entry("actname".into())
        .or_insert_with(|| name.to_string());
    let kind = Kind {
        dir: "action.d",
        what: "action",
        keys: &ACTION_KEYS,
        ignore: &RUN_TIME_TAGS,
    };
    let c = combine_kind(&kind, config_dir, name, &init, jail_opts, false)?;
    let cmd = |k: &str| {
        c.get(k)
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(String::from)
    };
    Ok(ActionCommands {
        name: name.to_string(),
        start: cmd("actionstart"),
        stop: cmd("actionstop"),
        ban: cmd("actionban"),
        unban: cmd("actionunban"),
        timeout: c
            .get("timeout")
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(60),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_come_with_their_options_and_the_jails_filled_in() {
        let dir = std::env::temp_dir().join(format!("pc-action-reader-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("action.d")).unwrap();
        std::fs::write(
            dir.join("action.d/notify.conf"),
            "[Definition]\nactionstart = echo start <name>\nactionban = <cmd> '<ip>' <failures> \"<matches>\" <bantime>\n\
             actionunban = <cmd> unban <ip>\n[Init]\ncmd = /usr/bin/logger -t <tag>\ntag = f2b-<name>\ntimeout = 5\n",
        )
        .unwrap();
        let opts: BTreeMap<String, String> = [("tag".to_string(), "mine".to_string())].into();
        let a = load(&dir, "notify", &opts, "sshd", &Vars::new()).unwrap();
        assert_eq!(a.start.as_deref(), Some("echo start sshd"));
        assert_eq!(
            a.ban.as_deref(),
            Some("/usr/bin/logger -t mine '<ip>' <failures> \"<matches>\" <bantime>")
        );
        assert_eq!(
            a.unban.as_deref(),
            Some("/usr/bin/logger -t mine unban <ip>")
        );
        assert_eq!(a.timeout, 5);
        assert!(load(&dir, "nope", &opts, "sshd", &Vars::new()).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
