use std::process::ExitCode;

fn main() -> ExitCode {
    match portcullis::cli::run() {
        Ok(code) => code,
        Err(err) => {
            // Print the whole chain so the user sees the root cause, not only the outermost context.
            eprintln!("portcullis: error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::from(2)
        }
    }
}
