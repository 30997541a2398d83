//! The daemon's answers to the control socket: status, manual bans and unbans, reload.

use super::*;

impl Daemon {
    pub(super) fn on_request(&mut self, req: Request, now: i64) -> Response {
        match req {
            Request::Ping {} => Response::ok(json!("pong")),
            Request::Status { jail: None, .. } => {
                let names: Vec<&str> = self.jails.iter().map(|r| r.jail.name.as_str()).collect();
                Response::ok(json!({ "number_of_jail": names.len(), "jails": names }))
            }
            Request::Status {
                jail: Some(name),
                short,
            } => match self.jail_index(&name) {
                Some(i) => Response::ok(self.jail_status(i, now, !short)),
                None => Response::err(format!("Sorry but the jail '{name}' does not exist")),
            },
            Request::Ban { jail, ip, seconds } => self.manual_ban(&jail, &ip, seconds, now),
            Request::Unban { ip, all } => self.manual_unban(ip.as_deref(), all),
            Request::Reload {} => self.reload(now),
        }
    }

    /// Each jail's numbers, for the metrics file.
    pub fn figures(&self, now: i64) -> Vec<metrics::JailFigures> {
        self.jails
            .iter()
            .map(|rt| metrics::JailFigures {
                name: rt.jail.name.clone(),
                lines: rt.stats.lines,
                lines_dropped: rt.stats.dropped,
                failures: rt.jail.counters.total_failed,
                bans: rt.jail.counters.total_banned,
                banned: rt.jail.bans().iter().filter(|b| b.end > now).count() as u64,
                failing: rt.jail.currently_failed() as u64,
                lag_seconds: rt.last_line_time.map(|t| (now - t.as_second()).max(0)),
            })
            .collect()
    }

    pub fn jail_status(&self, i: usize, now: i64, with_list: bool) -> serde_json::Value {
        let rt = &self.jails[i];
        let currently_banned = rt.jail.bans().iter().filter(|b| b.end > now).count();
        let banned: Vec<_> = rt
            .jail
            .bans()
            .into_iter()
            .filter(|b| with_list && b.end > now)
            .map(|b| {
                json!({
                    "ip": net_text(&b.net),
                    "until": time_text(b.end),
                    "until_unix": b.end,
                    "remaining": b.end - now,
                    "count": b.count,
                })
            })
            .collect();
        let mut v = json!({
            "jail": rt.jail.name,
            "currently_failed": rt.jail.currently_failed(),
            "total_failed": rt.jail.counters.total_failed,
            "currently_banned": currently_banned,
            "total_banned": rt.jail.counters.total_banned,
            "banned": banned,
            "lines": rt.stats.lines,
            "lines_dropped": rt.stats.dropped,
            "lines_missed": rt.stats.missed,
        });
        match &rt.source {
            SourceSpec::Files(f) => v["file_list"] = json!(f),
            SourceSpec::Journal(m) => v["journal_matches"] = json!(m),
            SourceSpec::Stdin => v["file_list"] = json!(["-"]),
        }
        v
    }

    fn manual_ban(&mut self, jail: &str, ip: &str, seconds: Option<u64>, now: i64) -> Response {
        let Some(i) = self.jail_index(jail) else {
            return Response::err(format!("Sorry but the jail '{jail}' does not exist"));
        };
        let Ok(addr) = ip.trim().parse::<IpAddr>() else {
            return Response::err(format!("not an IP address: {ip:?}"));
        };
        let ignore = self.jails[i].ignore.as_ref().unwrap_or(&self.ignore);
        if ignore.contains(addr) {
            return Response::err(format!("{addr} is in ignoreip/ignoreself: not banning it"));
        }
        let rt = &mut self.jails[i];
        let key = rt.jail.key(addr);
        let secs = seconds.map(|s| i64::try_from(s).unwrap_or(i64::MAX));
        let ban = rt.jail.ban(key, now, secs, 0);
        crate::guard::fail2ban_log::ban(jail, &net_text(&key));
        log::notice(format_args!(
            "[{jail}] Ban {} (manual, until {})",
            net_text(&key),
            time_text(ban.end)
        ));
        // It may be banned already: the new length replaces the old one.
        if super::in_firewall(&self.jails[i].cfg) {
            self.ops.push(Op::Add {
                set: i,
                net: key,
                seconds: ban.seconds() as u64,
                replace: true,
            });
        }
        self.batch.bans.push((jail.to_string(), ban.clone()));
        self.new_bans.push((
            i,
            alerts::BanAlert {
                jail: jail.to_string(),
                ban: ban.clone(),
                lines: Vec::new(),
            },
        ));
        Response::ok(
            json!({ "banned": net_text(&key), "until": time_text(ban.end), "count": ban.count }),
        )
    }

    fn manual_unban(&mut self, ip: Option<&str>, all: bool) -> Response {
        let mut lifted = Vec::new();
        if all {
            for rt in &mut self.jails {
                lifted.extend(rt.jail.unban_all().into_iter().map(|b| b.net));
            }
            self.batch.unban_all = true;
            if let Err(e) = self.driver.flush() {
                return Response::err(format!("unbanned in the state, but the firewall said: {e}"));
            }
            log::notice(format_args!("Unban all ({} bans)", lifted.len()));
            return Response::ok(json!({ "unbanned": lifted.len() }));
        }
        let Some(text) = ip else {
            return Response::err("give an address, or --all");
        };
        let target = match config::parse_net(text) {
            Ok(n) => n,
            Err(e) => return Response::err(e),
        };
        let single = target.prefix_len() == target.max_prefix_len();
        let mut unbanned = Vec::new();
        for (i, rt) in self.jails.iter_mut().enumerate() {
            let keys: Vec<IpNet> = if single {
                vec![rt.jail.key(target.addr())]
            } else {
                rt.jail
                    .bans()
                    .iter()
                    .map(|b| b.net)
                    .filter(|n| target.contains(n))
                    .collect()
            };
            for key in keys {
                if let Some(ban) = rt.jail.unban(&key) {
                    log::notice(format_args!("[{}] Unban {}", rt.jail.name, net_text(&key)));
                    crate::guard::fail2ban_log::unban(&rt.jail.name, &net_text(&key));
                    lifted.push(key);
                    unbanned.push((i, rt.jail.name.clone(), ban));
                }
                // Always drop it from the state and the kernel, like fail2ban, even if we had no record.
                self.batch.unbans.push((Some(rt.jail.name.clone()), key));
                self.ops.push(Op::Remove { set: i, net: key });
            }
        }
        for (i, jail, ban) in unbanned {
            let a = alerts::BanAlert {
                jail,
                ban,
                lines: Vec::new(),
            };
            self.run_shell(i, super::Stage::Unban, Some(&a));
        }
        Response::ok(json!({ "unbanned": lifted.len() }))
    }

    /// Re-read the config: new numbers and ignore lists apply at once; the table is put back (this is
    /// also how it returns after `nft flush ruleset`). Sources and jails added or removed need a restart.
    pub(super) fn reload(&mut self, now: i64) -> Response {
        let opts = RunOptions {
            config: self.cfg.file.clone(),
            // A default config that is still absent means the built-in defaults, as at start.
            explicit_config: self.cfg.file_required,
            state_dir: Some(self.cfg.state_dir.clone()),
            socket: Some(self.cfg.socket.clone()),
            backend: Some(self.cfg.backend),
            fail2ban: self.cfg.fail2ban.clone(),
            check: false,
        };
        let mut notes = Vec::new();
        match load_config(&opts) {
            Ok(new) => {
                for rt in &mut self.jails {
                    match new.jails.get(&rt.jail.name) {
                        Some(j) => {
                            rt.jail.set_policy(Policy::from_config(j));
                            rt.cfg = j.clone();
                        }
                        None => notes.push(format!(
                            "jail {} was removed: restart to stop it",
                            rt.jail.name
                        )),
                    }
                }
                for name in new.jails.keys() {
                    if self.jail_index(name).is_none() {
                        notes.push(format!("jail {name} is new: restart to start it"));
                    }
                }
                if new.ban_ipv6_prefix != self.cfg.ban_ipv6_prefix {
                    notes.push("ban_ipv6_prefix changed: restart to apply it".into());
                }
                self.ignore = ignore_list(&new);
                self.cfg.ignoreip = new.ignoreip;
                self.cfg.ignoreself = new.ignoreself;
                self.cfg.alerts = new.alerts;
                self.cfg.metrics = new.metrics;
                crate::guard::fail2ban_log::configure(new.fail2ban_log.as_deref());
                self.cfg.fail2ban_log = new.fail2ban_log;
            }
            Err(e) => return Response::err(format!("config not reloaded: {e:#}")),
        }
        if let Err(e) = self.setup_firewall(now) {
            return Response::err(format!("{e:#}"));
        }
        log::notice(format_args!("reloaded {}", self.cfg.file.display()));
        Response::ok(json!({ "reloaded": true, "notes": notes }))
    }
}
