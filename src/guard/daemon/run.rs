//! `guard run`: the daemon's threads (sources, control socket, ticks) around its one loop.

use super::*;

pub(super) fn spawn(name: String, f: impl FnOnce() + Send + 'static) -> anyhow::Result<()> {
    std::thread::Builder::new()
        .name(name.clone())
        .spawn(f)
        .with_context(|| format!("starting {name}"))?;
    Ok(())
}

fn now_unix() -> i64 {
    Timestamp::now().as_second()
}

pub fn run(opts: RunOptions) -> anyhow::Result<ExitCode> {
    let cfg = load_config(&opts)?;
    let auth_log = Path::new(config::DEFAULT_AUTH_LOG).exists();
    if opts.check {
        return Ok(check(&cfg, auth_log));
    }
    for e in &cfg.jail_errors {
        log::error(format_args!("{e}: that jail does not start"));
    }
    if cfg.fail2ban.is_some() {
        for j in cfg.jails.values().filter(|j| j.enabled) {
            for line in crate::guard::fail2ban::load::describe(j, auth_log).lines() {
                log::info(format_args!("{line}"));
            }
        }
    }
    // SAFETY: umask cannot fail. Everything we create (state, socket) is private to root.
    unsafe { libc::umask(0o077) };
    sys::use_one_malloc_arena();
    crate::guard::fail2ban_log::configure(cfg.fail2ban_log.as_deref());
    std::fs::create_dir_all(&cfg.state_dir)
        .with_context(|| format!("creating {}", cfg.state_dir.display()))?;
    let state = State::open(&cfg.state_dir.join(state::DB_FILE))?;
    let driver: Box<dyn Driver> = match cfg.backend {
        Backend::Nftables => Box::new(Nft::new(cfg.ban_ipv6_prefix)),
        Backend::DryRun => Box::new(DryRun),
    };
    let ignore = ignore_list(&cfg);
    // Whoever is logged in over SSH right now should know whether guard could lock them out.
    for client in sys::ssh_peers(22) {
        let verdict = if ignore.contains(client) {
            "it is in ignoreip"
        } else {
            "NOT in ignoreip: add it if it is yours"
        };
        log::notice(format_args!("SSH session open from {client}: {verdict}"));
    }
    let socket = cfg.socket.clone();
    let mut daemon = Daemon::new(cfg, driver, state, ignore, auth_log, now_unix())?;
    for rt in &daemon.jails {
        let from = match &rt.source {
            SourceSpec::Files(f) => format!(
                "files {}",
                f.iter()
                    .map(|p| p.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            SourceSpec::Journal(m) => format!("the journal ({})", m.join(" + ")),
            SourceSpec::Stdin => "standard input".into(),
        };
        log::info(format_args!("[{}] watching {from}", rt.jail.name));
    }
    // Small and bounded: a reader far ahead of the matcher waits instead of queueing megabytes.
    let (tx, rx) = mpsc::sync_channel::<Event>(16);
    let listener = control::bind(&socket)?;
    let ctl_tx = tx.clone();
    spawn("control".into(), move || {
        control::serve(listener, |req, reply| {
            ctl_tx.send(Event::Control(req, reply)).is_ok()
        })
    })?;
    daemon.start_sources(&tx)?;
    drop(tx);
    sys::install_signal_flags();
    // Compiling the filters (and describing them) left freed memory behind: give it back.
    sys::release_free_memory();
    sys::sd_notify("READY=1");
    log::notice(format_args!(
        "guard started ({} backend)",
        daemon.driver.name()
    ));

    let mut last_tick = Instant::now();
    let mut last_purge = Instant::now();
    let mut last_metrics: Option<Instant> = None;
    let mut busy = false;
    let mut metrics_pending = false;
    loop {
        match rx.recv_timeout(Duration::from_millis(500)) {
            Ok(ev) => {
                let now = now_unix();
                daemon.handle(ev, now);
                // Take what else is waiting so it lands in the same transaction, within reason.
                for _ in 0..4096 {
                    match rx.try_recv() {
                        Ok(ev) => daemon.handle(ev, now),
                        Err(_) => break,
                    }
                }
                daemon.flush();
                busy = true;
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if busy {
                    // A burst just ended: hand the memory it used back to the system.
                    busy = false;
                    sys::release_free_memory();
                }
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
        if sys::stop_requested() {
            break;
        }
        if sys::take_reload_request() {
            let resp = daemon.reload(now_unix());
            if let Some(e) = resp.error {
                log::error(format_args!("{e}"));
            }
        }
        if last_tick.elapsed() >= Duration::from_secs(1) {
            last_tick = Instant::now();
            daemon.tick(now_unix());
            daemon.flush();
        }
        if last_purge.elapsed() >= Duration::from_secs(3600) {
            last_purge = Instant::now();
            daemon.purge(now_unix());
        }
        // Every 15 s, and within a second of a change in the bans so a ban shows up quickly.
        let bans_changed = std::mem::take(&mut daemon.bans_changed);
        metrics_pending |= bans_changed;
        let metrics_due = last_metrics.is_none_or(|t| {
            t.elapsed() >= Duration::from_secs(15)
                || (metrics_pending && t.elapsed() >= Duration::from_secs(1))
        });
        if let (Some(path), true) = (daemon.cfg.metrics.textfile.clone(), metrics_due) {
            last_metrics = Some(Instant::now());
            metrics_pending = false;
            if let Err(e) = metrics::write_textfile(&path, &daemon.figures(now_unix())) {
                log::warn(format_args!("metrics textfile {}: {e}", path.display()));
            }
        }
    }
    daemon.flush();
    source::journal::stop_all();
    let _ = std::fs::remove_file(&socket);
    sys::sd_notify("STOPPING=1");
    log::notice(format_args!(
        "guard stopped; bans stay in the kernel until they expire"
    ));
    Ok(ExitCode::SUCCESS)
}

/// `guard run --check`: every jail as it will run, then every jail that cannot; exit 2 if any.
fn check(cfg: &GuardConfig, auth_log: bool) -> ExitCode {
    let mut out = String::new();
    let mut errors = cfg.jail_errors.clone();
    for j in cfg.jails.values().filter(|j| j.enabled) {
        out.push_str(&crate::guard::fail2ban::load::describe(j, auth_log));
        // The daemon builds a regex's Unicode translation at its first non-ASCII line; here
        // every one is built, so that none can fail later.
        if j.fail2ban.is_some() {
            if let Err(e) = crate::guard::fail2ban::load::compiled(j)
                .and_then(|f| f.build_all().map_err(|e| e.to_string()))
            {
                errors.push(format!("jail {}: {e}", j.name));
            }
        }
    }
    for e in &errors {
        out.push_str(&format!("error: {e}\n"));
    }
    out.push_str(&format!(
        "{} jails will run, {} cannot\n",
        cfg.jails.values().filter(|j| j.enabled).count() + cfg.jail_errors.len() - errors.len(),
        errors.len()
    ));
    print!("{out}");
    if errors.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    }
}
