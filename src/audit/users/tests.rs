use super::*;
use crate::audit::Status;
use crate::host::accounts::{KeyScan, parse_group, parse_passwd, parse_shadow};
use crate::host::{KeyFile, UserKeys};

fn meta(uid: u32, mode: u32, is_dir: bool) -> Result<FileMeta, ReadError> {
    Ok(FileMeta {
        uid,
        gid: uid,
        mode,
        is_dir,
        is_symlink: false,
    })
}

fn keys(user: &str, uid: u32, valid: usize, key_mode: u32) -> UserKeys {
    UserKeys {
        user: user.into(),
        uid,
        home: format!("/home/{user}"),
        home_meta: meta(uid, 0o755, true),
        ssh_dir_meta: meta(uid, 0o700, true),
        files: vec![KeyFile {
            path: format!("/home/{user}/.ssh/authorized_keys"),
            meta: meta(uid, key_mode, false),
            scan: Ok(KeyScan { valid, bad: vec![] }),
        }],
    }
}

fn host(group: &str, shadow: &str, user_keys: Vec<UserKeys>) -> HostFacts {
    let mut f = HostFacts::default();
    let (users, _) =
        parse_passwd("root:x:0:0:root:/root:/bin/bash\nadmin:x:1000:1000::/home/admin:/bin/bash\n");
    f.accounts.users = Ok(users);
    f.accounts.groups = Ok(parse_group(group));
    f.accounts.shadow = Ok(parse_shadow(shadow));
    f.accounts.keys = user_keys;
    f
}

const LOCKED: &str = "root:!:19000::::::\nadmin:$y$j9T$x:19000::::::\n";

#[test]
fn admin_needs_sudo_and_a_valid_key() {
    let p = Profile::default();
    let good = host(
        "sudo:x:27:admin\nadmin:x:1000:\n",
        LOCKED,
        vec![keys("admin", 1000, 1, 0o600)],
    );
    assert_eq!(admin(&good, &p).status, Status::Pass);
    let no_sudo = host(
        "sudo:x:27:\nadmin:x:1000:\n",
        LOCKED,
        vec![keys("admin", 1000, 1, 0o600)],
    );
    let x = admin(&no_sudo, &p);
    assert_eq!(x.status, Status::Fail);
    assert!(x.evidence[0].contains("no sudo"));
    let no_key = host(
        "sudo:x:27:admin\n",
        LOCKED,
        vec![keys("admin", 1000, 0, 0o600)],
    );
    assert_eq!(admin(&no_key, &p).status, Status::Fail);
    let bad_perms = host(
        "sudo:x:27:admin\n",
        LOCKED,
        vec![keys("admin", 1000, 1, 0o666)],
    );
    assert_eq!(admin(&bad_perms, &p).status, Status::Fail);
    let mut via_sudoers = host(
        "devops:x:2000:admin\n",
        LOCKED,
        vec![keys("admin", 1000, 1, 0o600)],
    );
    assert_eq!(admin(&via_sudoers, &p).status, Status::Fail);
    via_sudoers.accounts.sudoers = vec![(
        "%devops".into(),
        crate::host::Origin {
            file: "/etc/sudoers.d/ops".into(),
            line: 1,
        },
    )];
    let x = admin(&via_sudoers, &p);
    assert_eq!(x.status, Status::Pass);
    assert!(x.evidence[0].contains("member of group devops"));
    let named = Profile::parse("[admin]\nuser = \"ops\"\n", "p").unwrap();
    assert!(admin(&good, &named).evidence[0].contains("ops does not exist"));
}

#[test]
fn root_lock_and_empty_passwords() {
    let p = Profile::default();
    assert_eq!(
        root_locked(&host("", LOCKED, vec![]), &p).status,
        Status::Pass
    );
    let open = host("", "root:$6$abc:19000::::::\nguest::19000::::::\n", vec![]);
    let x = root_locked(&open, &p);
    assert_eq!(x.status, Status::Fail);
    assert!(!x.evidence[0].contains("$6$abc"), "never print a hash");
    let e = empty_passwords(&open);
    assert_eq!(e.status, Status::Fail);
    assert!(e.evidence[0].starts_with("guest"));
    assert_eq!(
        empty_passwords(&host("", LOCKED, vec![])).status,
        Status::Pass
    );
    let mut unreadable = host("", "", vec![]);
    unreadable.accounts.shadow = Err(ReadError::PermissionDenied);
    assert_eq!(root_locked(&unreadable, &p).status, Status::Skip);
    assert!(empty_passwords(&unreadable).evidence[0].contains("needs root"));
}

#[test]
fn second_uid0_fails() {
    let mut f = host("", LOCKED, vec![]);
    assert_eq!(uid0(&f).status, Status::Pass);
    let (users, _) = parse_passwd("root:x:0:0::/root:/bin/bash\ntoor:x:0:0::/root:/bin/sh\n");
    f.accounts.users = Ok(users);
    let x = uid0(&f);
    assert_eq!(x.status, Status::Fail);
    assert!(x.evidence[0].contains("toor (/etc/passwd:2)"));
}

#[test]
fn key_file_permissions() {
    assert_eq!(
        key_perms(&host("", LOCKED, vec![keys("admin", 1000, 1, 0o600)])).status,
        Status::Pass
    );
    let x = key_perms(&host("", LOCKED, vec![keys("admin", 1000, 1, 0o664)]));
    assert_eq!(x.status, Status::Fail);
    assert!(x.evidence[0].contains("group/world-writable"));
    let mut other_owner = keys("admin", 1000, 1, 0o600);
    other_owner.ssh_dir_meta = meta(1001, 0o700, true);
    let x = key_perms(&host("", LOCKED, vec![other_owner]));
    assert!(x.evidence[0].contains("owned by uid 1001"));
    assert_eq!(key_perms(&host("", LOCKED, vec![])).status, Status::Skip);
}
