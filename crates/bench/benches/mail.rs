//! `cargo bench -p bench --bench mail`: partner SMTP into the DMZ, durable, against
//! the target rate (see `bench::mail`). Needs `cargo build --release -p portcullis`
//! (or `PORTCULLIS_BIN`).

fn main() -> Result<(), bench::peers::BoxError> {
    println!("## Partner mail: SMTP into the DMZ\n");
    print!("{}", bench::mail::run()?);
    Ok(())
}
