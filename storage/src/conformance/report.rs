//! What a suite run found: one entry per check, each passed, failed (with every reason) or
//! skipped (with why).

use std::fmt;

use crate::StorageError;

#[derive(Clone, Debug, PartialEq)]
pub enum Outcome {
    Passed,
    Failed(Vec<String>),
    Skipped(String),
}

#[derive(Clone, Debug)]
pub struct CheckReport {
    pub name: &'static str,
    pub outcome: Outcome,
}

/// The result of [`super::run_suite`]. `Display` prints one line per check and every
/// failure under it.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub checks: Vec<CheckReport>,
}

impl Report {
    pub(super) fn push(&mut self, name: &'static str, outcome: Outcome) {
        self.checks.push(CheckReport { name, outcome });
    }

    pub fn passed(&self) -> bool {
        self.checks
            .iter()
            .all(|c| !matches!(c.outcome, Outcome::Failed(_)))
    }

    /// Every failure, prefixed with its check's name.
    pub fn failures(&self) -> Vec<String> {
        self.checks
            .iter()
            .flat_map(|c| match &c.outcome {
                Outcome::Failed(reasons) => {
                    reasons.iter().map(|r| format!("{}: {r}", c.name)).collect()
                }
                _ => Vec::new(),
            })
            .collect()
    }

    /// For a backend's test: panics with the whole report when any check failed.
    pub fn assert_passed(&self) {
        assert!(self.passed(), "storage conformance failed:\n{self}");
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for check in &self.checks {
            match &check.outcome {
                Outcome::Passed => writeln!(f, "PASS {}", check.name)?,
                Outcome::Skipped(why) => writeln!(f, "SKIP {} ({why})", check.name)?,
                Outcome::Failed(reasons) => {
                    writeln!(f, "FAIL {}", check.name)?;
                    for r in reasons {
                        writeln!(f, "     - {r}")?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// Collects the failures of one check, so a check reports every broken case, not the first.
#[derive(Default)]
pub(super) struct Checker {
    failures: Vec<String>,
}

impl Checker {
    pub(super) fn fail(&mut self, reason: impl Into<String>) {
        self.failures.push(reason.into());
    }

    pub(super) fn expect(&mut self, ok: bool, reason: impl FnOnce() -> String) {
        if !ok {
            self.failures.push(reason());
        }
    }

    pub(super) fn expect_eq<T: PartialEq + fmt::Debug>(&mut self, what: &str, got: &T, want: &T) {
        if got != want {
            self.failures
                .push(format!("{what}: got {got:?}, want {want:?}"));
        }
    }

    /// The outcome once the check body ended, `Err` being a storage call that failed.
    pub(super) fn finish(self, body: Result<(), StorageError>) -> Outcome {
        let mut failures = self.failures;
        if let Err(e) = body {
            failures.push(format!("unexpected storage error: {e}"));
        }
        if failures.is_empty() {
            Outcome::Passed
        } else {
            Outcome::Failed(failures)
        }
    }
}
