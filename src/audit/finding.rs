//! What a check says: id, title, severity, status, evidence and the fix.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Warn,
    Fail,
    Skip,
    Error,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Fail => "fail",
            Status::Skip => "skip",
            Status::Error => "error",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    pub fn weight(self) -> u32 {
        match self {
            Severity::Info => 0,
            Severity::Low => 1,
            Severity::Medium => 3,
            Severity::High => 6,
            Severity::Critical => 10,
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// How to fix it: the profile key `apply` uses (none when the profile has no such key), and by hand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fix {
    pub profile: Option<String>,
    pub manual: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub id: String,
    pub step: String,
    pub title: String,
    pub status: Status,
    pub severity: Severity,
    pub evidence: Vec<String>,
    pub fix: Fix,
}

/// A check's fixed parts; the verdict methods turn it into a finding.
#[derive(Debug, Clone)]
pub struct Spec {
    id: String,
    title: String,
    severity: Severity,
    fix: Fix,
}

impl Spec {
    pub fn new(
        id: &str,
        title: &str,
        severity: Severity,
        profile_key: Option<&str>,
        manual: &str,
    ) -> Spec {
        Spec {
            id: id.to_string(),
            title: title.to_string(),
            severity,
            fix: Fix {
                profile: profile_key.map(str::to_string),
                manual: manual.to_string(),
            },
        }
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    fn finding(&self, status: Status, evidence: Vec<String>) -> Finding {
        Finding {
            id: self.id.clone(),
            step: super::step_of(&self.id).to_string(),
            title: self.title.clone(),
            status,
            severity: self.severity,
            evidence,
            fix: self.fix.clone(),
        }
    }

    pub fn pass(&self, evidence: Vec<String>) -> Finding {
        self.finding(Status::Pass, evidence)
    }
    pub fn warn(&self, evidence: Vec<String>) -> Finding {
        self.finding(Status::Warn, evidence)
    }
    pub fn fail(&self, evidence: Vec<String>) -> Finding {
        self.finding(Status::Fail, evidence)
    }
    pub fn skip(&self, reason: impl Into<String>) -> Finding {
        self.finding(Status::Skip, vec![reason.into()])
    }
    pub fn skip_with(&self, evidence: Vec<String>) -> Finding {
        self.finding(Status::Skip, evidence)
    }
    pub fn error(&self, why: impl Into<String>) -> Finding {
        self.finding(Status::Error, vec![why.into()])
    }
}
