//! The lookup seam of the configuration: every variable read the same way (trimmed; unset and
//! empty alike mean the default), every bad value recorded, so that a bad environment is
//! reported whole at once. Pure: the lookup is injected (`main` passes the process environment).

use std::cell::RefCell;

/// Why one variable cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{variable} is required: {expected}")]
    Missing {
        variable: &'static str,
        expected: &'static str,
    },
    #[error("{variable}={value:?} is invalid: expected {expected}")]
    Invalid {
        variable: &'static str,
        value: String,
        expected: String,
    },
    #[error(
        "set exactly one of GROUP_PREFIX (only groups starting with it become namespaces) and ALLOW_ALL_GROUPS=true (every AD group does); {found}"
    )]
    AllowList { found: &'static str },
    #[error(
        "{variable} and {legacy} are both set, to different values ({value:?} and {legacy_value:?}); set only {variable}"
    )]
    Conflicting {
        variable: &'static str,
        legacy: &'static str,
        value: String,
        legacy_value: String,
    },
}

/// Every problem of a bad environment, in the order the variables are read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl std::fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let messages: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        f.write_str(&messages.join("; "))
    }
}

impl std::error::Error for ConfigErrors {}

/// `variable` holds `value`, which is not `expected`.
pub(super) fn invalid(variable: &'static str, value: &str, expected: &str) -> ConfigError {
    ConfigError::Invalid {
        variable,
        value: value.to_owned(),
        expected: expected.to_owned(),
    }
}

/// The variables, read through the lookup; the problems found so far.
pub(super) struct Env<'a> {
    lookup: &'a dyn Fn(&str) -> Option<String>,
    errors: RefCell<Vec<ConfigError>>,
}

impl<'a> Env<'a> {
    pub fn new(lookup: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Env {
            lookup,
            errors: RefCell::new(Vec::new()),
        }
    }

    /// The value of `variable`, trimmed; `None` when it is unset or empty.
    pub fn value(&self, variable: &str) -> Option<String> {
        (self.lookup)(variable)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    }

    /// True when `variable` is set, even to an empty string (where empty means something).
    pub fn is_set(&self, variable: &str) -> bool {
        (self.lookup)(variable).is_some()
    }

    /// The value of `variable`, or of the Python Lambda's name for it, `legacy`; both set to
    /// different values is a problem.
    pub fn value_or_legacy(&self, variable: &'static str, legacy: &'static str) -> Option<String> {
        match (self.value(variable), self.value(legacy)) {
            (Some(value), Some(legacy_value)) if value != legacy_value => {
                self.report(ConfigError::Conflicting {
                    variable,
                    legacy,
                    value,
                    legacy_value,
                });
                None
            }
            (Some(value), _) | (None, Some(value)) => Some(value),
            (None, None) => None,
        }
    }

    /// Records a problem.
    pub fn report(&self, error: ConfigError) {
        self.errors.borrow_mut().push(error);
    }

    /// The value `parsed`, or `fallback` with its problem recorded (the configuration is then
    /// refused; the fallback only lets the other variables be read).
    pub fn take<T>(&self, parsed: Result<T, ConfigError>, fallback: T) -> T {
        parsed.unwrap_or_else(|error| {
            self.report(error);
            fallback
        })
    }

    /// `variable` parsed by `parse`, which says what it expected when it fails; `default` when
    /// unset.
    pub fn parse<T>(
        &self,
        variable: &'static str,
        default: T,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> T {
        let Some(value) = self.value(variable) else {
            return default;
        };
        match parse(&value) {
            Ok(parsed) => parsed,
            Err(expected) => {
                self.report(invalid(variable, &value, &expected));
                default
            }
        }
    }

    /// A case-insensitive choice among `choices`; `default` when unset.
    pub fn choice<T: Copy>(&self, variable: &'static str, choices: &[(&str, T)], default: T) -> T {
        self.parse(variable, default, |value| {
            choices
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(value))
                .map(|(_, choice)| *choice)
                .ok_or_else(|| {
                    let names: Vec<&str> = choices.iter().map(|(name, _)| *name).collect();
                    format!("one of {}", names.join(", "))
                })
        })
    }

    /// `true` or `false`; `default` when unset.
    pub fn flag(&self, variable: &'static str, default: bool) -> bool {
        self.choice(variable, &[("true", true), ("false", false)], default)
    }

    /// A whole number within `range`; `default` when unset.
    pub fn number(
        &self,
        variable: &'static str,
        default: u64,
        range: std::ops::RangeInclusive<u64>,
        expected: &str,
    ) -> u64 {
        self.parse(variable, default, |value| {
            value
                .parse::<u64>()
                .ok()
                .filter(|n| range.contains(n))
                .ok_or_else(|| expected.to_owned())
        })
    }

    /// Every problem recorded, or `None`.
    pub fn problems(self) -> Option<ConfigErrors> {
        let errors = self.errors.into_inner();
        (!errors.is_empty()).then_some(ConfigErrors(errors))
    }
}
