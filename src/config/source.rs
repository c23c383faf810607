//! Where the config is read from (`--config`, `$TMUX_SUPERVISOR_CONFIG`, XDG, the embedded
//! default), and the home and state directories the environment points to.

use std::path::{Path, PathBuf};

use super::{Config, ConfigError, DEFAULT_YAML, EMBEDDED, Problem};

/// Where the config is read from, in the order of the design: `--config`, then
/// `$TMUX_SUPERVISOR_CONFIG`, then `$XDG_CONFIG_HOME/tmux-supervisor/config.yaml`
/// (if that file exists), then the embedded default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigSource {
    File(PathBuf),
    Embedded,
}

impl ConfigSource {
    /// `var` looks up an environment variable; `exists` tells whether a file exists.
    pub fn locate(
        cli: Option<&Path>,
        var: impl Fn(&str) -> Option<String>,
        exists: impl Fn(&Path) -> bool,
    ) -> Self {
        if let Some(p) = cli {
            return ConfigSource::File(p.to_path_buf());
        }
        if let Some(p) = var("TMUX_SUPERVISOR_CONFIG").filter(|s| !s.is_empty()) {
            return ConfigSource::File(PathBuf::from(p));
        }
        let base = var("XDG_CONFIG_HOME")
            .filter(|s| !s.is_empty())
            .map(PathBuf::from)
            .or_else(|| var("HOME").map(|h| Path::new(&h).join(".config")));
        if let Some(base) = base {
            let p = base.join("tmux-supervisor").join("config.yaml");
            if exists(&p) {
                return ConfigSource::File(p);
            }
        }
        ConfigSource::Embedded
    }

    /// Where it is found with the process's real environment.
    pub fn from_env(cli: Option<&Path>) -> Self {
        Self::locate(cli, |k| std::env::var(k).ok(), Path::is_file)
    }

    /// Reads and loads the config.
    pub fn load(&self) -> Result<Config, ConfigError> {
        match self {
            ConfigSource::Embedded => Config::parse(DEFAULT_YAML, EMBEDDED),
            ConfigSource::File(p) => {
                let name = p.display().to_string();
                let text = std::fs::read_to_string(p).map_err(|e| ConfigError {
                    file: name.clone(),
                    problems: vec![Problem {
                        line: None,
                        column: None,
                        message: format!("cannot read the config file: {e}"),
                        hint: Some(
                            "check the path given with --config or $TMUX_SUPERVISOR_CONFIG".into(),
                        ),
                    }],
                })?;
                Config::parse(&text, &name)
            }
        }
    }
}

/// Expands a leading `~` to the home directory.
pub fn expand_home(path: &str, home: &Path) -> PathBuf {
    if path == "~" {
        home.to_path_buf()
    } else if let Some(rest) = path.strip_prefix("~/") {
        home.join(rest)
    } else {
        PathBuf::from(path)
    }
}

/// `$HOME`, as `~` means it in a config.
pub fn home_dir() -> PathBuf {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map_or_else(|| PathBuf::from("/"), PathBuf::from)
}

/// `$XDG_STATE_HOME/tmux-supervisor`, else `~/.local/state/tmux-supervisor`.
pub fn default_state_dir(home: &Path) -> PathBuf {
    std::env::var_os("XDG_STATE_HOME")
        .filter(|s| !s.is_empty())
        .map_or_else(|| home.join(".local").join("state"), PathBuf::from)
        .join("tmux-supervisor")
}

/// How the config was found: the `--config` path, and the `-L` / `-S` that override the
/// config's server. Kept to read it again the same way (SIGHUP).
#[derive(Debug, Clone, Default)]
pub struct Found {
    pub config: Option<std::path::PathBuf>,
    pub socket_name: Option<String>,
    pub socket_path: Option<std::path::PathBuf>,
}

impl Found {
    /// Finds and loads the config, then applies the command line's overrides.
    pub fn load(&self) -> Result<super::Config, super::ConfigError> {
        let mut config = ConfigSource::from_env(self.config.as_deref()).load()?;
        if let Some(name) = &self.socket_name {
            config.socket_name = Some(name.clone());
            config.socket_path = None;
        }
        if let Some(path) = &self.socket_path {
            config.socket_path = Some(path.clone());
            config.socket_name = None;
        }
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locate_follows_the_discovery_order() {
        let none = |_: &str| None;
        let no = |_: &Path| false;
        assert_eq!(
            ConfigSource::locate(Some(Path::new("/c.yaml")), |_| Some("/e".into()), no),
            ConfigSource::File("/c.yaml".into())
        );
        assert_eq!(
            ConfigSource::locate(
                None,
                |k| (k == "TMUX_SUPERVISOR_CONFIG").then(|| "/e.yaml".into()),
                no
            ),
            ConfigSource::File("/e.yaml".into())
        );
        let xdg = |k: &str| (k == "XDG_CONFIG_HOME").then(|| "/x".to_string());
        assert_eq!(
            ConfigSource::locate(None, xdg, |_| true),
            ConfigSource::File("/x/tmux-supervisor/config.yaml".into())
        );
        assert_eq!(ConfigSource::locate(None, xdg, no), ConfigSource::Embedded);
        assert_eq!(ConfigSource::locate(None, none, no), ConfigSource::Embedded);
    }

    #[test]
    fn home_is_expanded() {
        let h = Path::new("/home/op");
        assert_eq!(expand_home("~", h), PathBuf::from("/home/op"));
        assert_eq!(expand_home("~/src", h), PathBuf::from("/home/op/src"));
        assert_eq!(expand_home("/abs", h), PathBuf::from("/abs"));
    }
}
