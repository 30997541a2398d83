//! fail2ban's configuration language: INI files as fail2ban's readers take them (sections,
//! continuation lines, `%(name)s` interpolation, `[INCLUDES] before/after`, `.local` overrides,
//! `<tag>` substitution, `name[key=value]` options), with the file and line of every value.
