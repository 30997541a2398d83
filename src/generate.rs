//! `portcullis generate man|completions DIR` (hidden): man pages and shell completions written from
//! the CLI definition itself, so they never drift from `--help`. The package build runs it.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{CommandFactory, Subcommand};
use clap_complete::Shell;

use crate::cli::Cli;

#[derive(Debug, Subcommand)]
pub enum GenerateCommand {
    /// One man page per command (portcullis.1, portcullis-guard-run.1, ...).
    Man { dir: PathBuf },
    /// Completions for bash (portcullis.bash), zsh (_portcullis) and fish (portcullis.fish).
    Completions { dir: PathBuf },
}

pub fn run(command: GenerateCommand) -> anyhow::Result<ExitCode> {
    let written = match command {
        GenerateCommand::Man { dir } => man_pages(&dir)?,
        GenerateCommand::Completions { dir } => completions(&dir)?,
    };
    for path in written {
        println!("{}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn man_pages(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| dir.display().to_string())?;
    clap_mangen::generate_to(Cli::command(), dir).with_context(|| dir.display().to_string())?;
    let mut pages: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "1"))
        .collect();
    pages.sort();
    Ok(pages)
}

fn completions(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| dir.display().to_string())?;
    let mut cmd = Cli::command();
    [Shell::Bash, Shell::Zsh, Shell::Fish]
        .into_iter()
        .map(|shell| {
            clap_complete::generate_to(shell, &mut cmd, "portcullis", dir)
                .with_context(|| format!("{shell} completion into {}", dir.display()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_visible_command_gets_a_page_and_every_shell_a_completion() {
        let dir = std::env::temp_dir().join(format!("portcullis-gen-{}", std::process::id()));
        let pages = man_pages(&dir.join("man")).unwrap();
        let names: Vec<String> = pages
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        for want in [
            "portcullis.1",
            "portcullis-audit.1",
            "portcullis-guard-run.1",
        ] {
            assert!(names.iter().any(|n| n == want), "{want} not in {names:?}");
        }
        assert!(!names.iter().any(|n| n.contains("generate")), "{names:?}");
        let run = std::fs::read_to_string(dir.join("man/portcullis-guard-run.1")).unwrap();
        assert!(run.starts_with(".ie \\n(.g .ds Aq") && run.contains(".SH NAME"));
        let done = completions(&dir.join("comp")).unwrap();
        assert_eq!(done.len(), 3);
        let bash = std::fs::read_to_string(dir.join("comp/portcullis.bash")).unwrap();
        assert!(bash.contains("complete -F _portcullis"));
        assert!(bash.contains("guard"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
