//! A filter.d filter made ready to run: its definition read from the user's files, its date
//! templates, its regexes compiled. Shared by `guard test`, the sample suite and the daemon.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use jiff::tz::TimeZone;

use super::dates::DateDetector;
use super::definition::{self, FilterDefinition};
use super::finder::FinderOptions;
use super::generic::{FilterOptions, GenericFilter};
use super::line::DateOptions;
use super::samples::FilterFactory;

/// Where a FILTER argument points: a name in `config_dir/filter.d`, or a `.conf` file (whose
/// includes resolve from its own directory), with `[key=value, ...]` options either way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterSpec {
    pub config_dir: PathBuf,
    /// Name with its options, as `definition::load` takes it.
    pub spec: String,
}

impl FilterSpec {
    pub fn parse(arg: &str, config_dir: &Path) -> FilterSpec {
        let (base, options) = match arg.find('[') {
            Some(i) if arg.ends_with(']') => (&arg[..i], &arg[i..]),
            _ => (arg, ""),
        };
        let path = Path::new(base);
        if base.ends_with(".conf") || base.contains('/') {
            let name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_default();
            let dir = path.parent().unwrap_or(Path::new("."));
            // A file inside a filter.d reads its config dir; one elsewhere, its own directory.
            let config_dir = if dir.file_name().is_some_and(|n| n == "filter.d") {
                dir.parent().unwrap_or(Path::new(".")).to_path_buf()
            } else {
                dir.to_path_buf()
            };
            return FilterSpec {
                config_dir,
                spec: format!("{name}{options}"),
            };
        }
        FilterSpec {
            config_dir: config_dir.to_path_buf(),
            spec: arg.to_string(),
        }
    }

    pub fn load(&self) -> Result<FilterDefinition, String> {
        definition::load(&self.config_dir, &self.spec).map_err(|e| e.to_string())
    }
}

/// Compile a definition with its own date templates (or fail2ban's defaults).
pub fn build(
    def: &FilterDefinition,
    tz: TimeZone,
    opts: FilterOptions,
) -> Result<GenericFilter<DateDetector>, String> {
    let pattern = def.datepattern.as_ref().map(|d| d.value.as_str());
    let dates = DateDetector::new(pattern, tz).map_err(|e| match &def.datepattern {
        Some(d) => format!("{}: datepattern of filter {}: {e}", d.origin, def.name),
        None => e.to_string(),
    })?;
    GenericFilter::new(def, dates, opts).map_err(|e| e.to_string())
}

/// The switches fail2ban-regex and the sample suite use: every failregex tried, host names kept
/// as text, no find-time checks.
pub fn test_options(check_all_regex: bool) -> FilterOptions {
    FilterOptions {
        use_dns: "warn".into(),
        finder: FinderOptions {
            check_all_regex,
            raw_hosts: true,
            ..FinderOptions::default()
        },
        dates: DateOptions {
            check_find_time: false,
            in_operation: false,
            findtime: 600.0,
        },
    }
}

/// The sample suite's filters: by name from `config_dir`, or from `fallback_dir` (the suite's
/// own test filters) when `config_dir` has no such file.
pub struct SuiteFactory {
    pub config_dir: PathBuf,
    pub fallback_dir: Option<PathBuf>,
    pub tz: TimeZone,
}

impl SuiteFactory {
    fn dir_for(&self, name: &str) -> &Path {
        let own = self
            .config_dir
            .join("filter.d")
            .join(format!("{name}.conf"));
        match &self.fallback_dir {
            Some(f) if !own.exists() => f,
            _ => &self.config_dir,
        }
    }
}

impl FilterFactory for SuiteFactory {
    type Dates = DateDetector;

    fn build(
        &mut self,
        name: &str,
        options: &BTreeMap<String, String>,
    ) -> Result<GenericFilter<DateDetector>, String> {
        let def =
            definition::load_with(self.dir_for(name), name, options).map_err(|e| e.to_string())?;
        build(&def, self.tz.clone(), test_options(true))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_arguments_name_a_filter_or_a_file() {
        let etc = Path::new("/etc/fail2ban");
        assert_eq!(
            FilterSpec::parse("sshd[mode=aggressive]", etc),
            FilterSpec {
                config_dir: etc.into(),
                spec: "sshd[mode=aggressive]".into()
            }
        );
        assert_eq!(
            FilterSpec::parse("/srv/f2b/filter.d/nginx-http-auth.conf", etc),
            FilterSpec {
                config_dir: "/srv/f2b".into(),
                spec: "nginx-http-auth".into()
            }
        );
        assert_eq!(
            FilterSpec::parse("./mine.conf[mode=extra]", etc),
            FilterSpec {
                config_dir: ".".into(),
                spec: "mine[mode=extra]".into()
            }
        );
    }
}
