//! fail2ban filters read from the user's filter.d: their definitions (`definition`), the regex tags
//! (`tags`), the date templates (`dates`) and the generic matcher that runs them.

pub mod dates;
pub mod definition;
pub mod finder;
pub mod generic;
pub mod jail_matcher;
pub mod line;
pub mod runtime;
pub mod samples;
pub mod tags;
