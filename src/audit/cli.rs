#[derive(Debug, clap::Args)]
pub struct AuditArgs {}
pub fn run(_a: &AuditArgs) -> anyhow::Result<std::process::ExitCode> {
    todo!()
}
