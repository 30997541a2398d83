use super::*;
use crate::guard::filter::definition::{FilterDefinition, Located, Origin};
use crate::guard::filter::generic::FilterOptions;
use crate::guard::filter::line::{DateOptions, DateSpan};

/// Dates as `@SECONDS ` at the start of a line.
struct AtDates;
impl DateFinder for AtDates {
    fn find(&mut self, line: &str, _now: f64) -> Option<DateSpan> {
        let rest = line.strip_prefix('@')?;
        let digits = rest.find(' ').unwrap_or(rest.len());
        Some(DateSpan {
            start: 0,
            end: digits + 2,
            epoch: rest[..digits].parse().ok(),
        })
    }
}

/// `demo`: one failregex; `mode=strict` adds a second one.
struct Demo;
impl FilterFactory for Demo {
    type Dates = AtDates;
    fn build(
        &mut self,
        name: &str,
        options: &BTreeMap<String, String>,
    ) -> Result<GenericFilter<AtDates>, String> {
        let at = |s: &str| Located {
            value: s.to_string(),
            origin: Origin::default(),
        };
        let mut failregex = vec![at(r"^bad login for <F-USER>\S+</F-USER> from <HOST>$")];
        if options.get("mode").map(String::as_str) == Some("strict") {
            failregex.push(at(r"^probe from <HOST>$"));
        }
        let def = FilterDefinition {
            name: name.into(),
            failregex,
            maxlines: 1,
            ..FilterDefinition::default()
        };
        let opts = FilterOptions {
            dates: DateOptions {
                check_find_time: false,
                in_operation: false,
                findtime: 600.0,
            },
            ..FilterOptions::default()
        };
        GenericFilter::new(&def, AtDates, opts).map_err(|e| e.to_string())
    }
}

fn run(text: &str) -> Report {
    let text = text.to_string();
    let mut read = move |_: &str| Ok(text.clone());
    run_sample("demo", &mut read, &mut Demo, &TimeZone::UTC)
}

#[test]
fn lines_that_give_what_their_sample_says_pass() {
    let r = run(concat!(
        "# failJSON: { \"time\": \"2005-08-14T10:00:00\", \"match\": true, \"host\": \"192.0.2.1\", \"user\": \"bob\" }\n",
        "@1124013600 bad login for bob from 192.0.2.1\n",
        "@1124013600 a line that matches nothing\n",
    ));
    assert_eq!((r.runs, r.passed, r.expectations), (2, 2, 1), "{r:?}");
}

#[test]
fn a_wrong_host_time_or_user_and_an_unexpected_match_are_each_reported() {
    let r = run(concat!(
        "# failJSON: { \"match\": true, \"host\": \"192.0.2.2\" }\n",
        "@1 bad login for bob from 192.0.2.1\n",
        "# failJSON: { \"time\": \"2005-08-14T10:00:01\", \"match\": true, \"host\": \"192.0.2.1\" }\n",
        "@1124013600 bad login for bob from 192.0.2.1\n",
        "# failJSON: { \"match\": true, \"user\": \"alice\" }\n",
        "@1 bad login for bob from 192.0.2.1\n",
        "@1 bad login for eve from 192.0.2.9\n",
        "# failJSON: { \"match\": true, \"host\": \"192.0.2.3\" }\n",
        "@1 probe from 192.0.2.3\n",
    ));
    let reasons: Vec<&str> = r.mismatches.iter().map(|m| m.reason.as_str()).collect();
    assert_eq!(
        r.mismatches.iter().map(|m| m.line).collect::<Vec<_>>(),
        vec![2, 4, 6, 7, 9]
    );
    assert!(reasons[0].starts_with("host:"), "{reasons:?}");
    assert!(reasons[1].starts_with("time:"), "{reasons:?}");
    assert!(reasons[2].starts_with("user:"), "{reasons:?}");
    assert!(reasons[3].contains("should not"), "{reasons:?}");
    assert!(reasons[4].starts_with("not matched"), "{reasons:?}");
}

#[test]
fn option_sets_run_each_line_once_per_set_and_constraints_leave_runs_out() {
    let r = run(concat!(
        "# filterOptions: [{}, {\"mode\": \"strict\"}]\n",
        "# failJSON: { \"match\": true, \"host\": \"192.0.2.3\", \"constraint\": \"opts.get('mode') == 'strict'\" }\n",
        "@1 probe from 192.0.2.3\n",
        "# failJSON: { \"match\": true, \"host\": \"2001:db8:0::1\" }\n",
        "@1 bad login for x from 2001:db8::1\n",
    ));
    assert_eq!((r.runs, r.passed, r.skipped), (3, 3, 1), "{r:?}");
}

#[test]
fn a_condition_that_is_false_leaves_the_block_out() {
    let r = run(concat!(
        "# filterOptions: [{\"test.condition\": \"name == 'other'\"}]\n",
        "@1 probe from 192.0.2.3\n",
    ));
    assert_eq!(r.runs, 0);
}
