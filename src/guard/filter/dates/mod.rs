//! fail2ban's date templates: the default set and `datepattern`, finding and reading the date of a line.
