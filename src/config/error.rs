//! What is wrong with a config: each problem located by file, line and column, and all of
//! them shown together.

use std::fmt;

/// One thing wrong with a config, located where the YAML allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub message: String,
    pub hint: Option<String>,
}

/// Every problem found in one config file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: String,
    pub problems: Vec<Problem>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        writeln!(
            f,
            "{}: {n} problem{} in the config; nothing was started",
            self.file,
            if n == 1 { "" } else { "s" }
        )?;
        for p in &self.problems {
            match (p.line, p.column) {
                (Some(l), Some(c)) => write!(f, "  {}:{l}:{c}: {}", self.file, p.message)?,
                (Some(l), None) => write!(f, "  {}:{l}: {}", self.file, p.message)?,
                _ => write!(f, "  {}: {}", self.file, p.message)?,
            }
            if let Some(h) = &p.hint {
                write!(f, "\n      hint: {h}")?;
            }
            writeln!(f)?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}
