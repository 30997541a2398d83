//! `portcullis history`: the transactions, oldest first.

use std::path::Path;

use super::txn::Txn;

pub fn render(state: &Path) -> String {
    let ids = Txn::list(state);
    if ids.is_empty() {
        return format!("No transactions in {}.\n", state.display());
    }
    let mut out = String::new();
    for id in ids {
        match Txn::load(state, &id) {
            Ok(t) => {
                let m = &t.manifest;
                let steps: Vec<&str> = m.steps.iter().map(|s| s.name()).collect();
                out.push_str(&format!(
                    "{id}  {:<20} files:{:<3} steps: {}\n",
                    m.status.name(),
                    m.files.len(),
                    if steps.is_empty() {
                        "-".into()
                    } else {
                        steps.join(",")
                    }
                ));
                if let Some(e) = &m.error {
                    out.push_str(&format!("    {e}\n"));
                }
            }
            Err(e) => out.push_str(&format!("{id}  unreadable: {e}\n")),
        }
    }
    out
}
