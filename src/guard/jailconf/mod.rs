//! fail2ban's jail configuration as it stands (jail.conf, jail.d, jail.local, paths-*.conf, fail2ban.conf): the jails to run, with file:line for anything we cannot honour.
